"""Forms of the auth blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectChoice, SelectField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired()],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class SetPasswordForm(FlaskForm):
    """Choose a password (from an invite or reset link)."""

    password = PasswordField(_l("New password"), validators=[DataRequired()],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))],
                            render_kw={"autocomplete": "new-password"})


class LanguageForm(FlaskForm):
    """Switch the interface language."""

    lang = SelectField(_l("Language"), choices=[SelectChoice("de", "Deutsch"), SelectChoice("en", "English")])
    next = HiddenField()
