"""Forms of the account blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional


class PasswordChangeForm(FlaskForm):
    """Change one's own password."""

    current_password = PasswordField(_l("Current password"), validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    password = PasswordField(_l("New password"), validators=[DataRequired()],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))],
                            render_kw={"autocomplete": "new-password"})


class ApiTokenCreateForm(FlaskForm):
    """Name and optional expiry of a new personal API token."""

    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)],
                       render_kw={"placeholder": _l("e.g. booking tool export")})
    expires_on = DateField(_l("Valid until (optional)"), validators=[Optional()])
