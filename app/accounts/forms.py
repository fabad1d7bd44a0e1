"""Forms of the accounts blueprints: signing in and invites (auth), user management (users), one's own account."""

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from app.platform.formatting import LocalDateField
from app.platform.security.permissions import ALL, ROLE_LABELS, ROLE_PERMISSIONS
from app.platform.validators import EmailAddress


def password_rules():
    """The password policy that app.accounts.service.check_password_policy enforces, in words: shown under every
    field where a password is chosen, so that nobody learns the rules from an error."""
    return _("At least %(n)d characters, and not the email address of the account.",
             n=current_app.config["AUTH_MIN_PASSWORD_LENGTH"])


class PasswordRulesForm(FlaskForm):
    """A form with a ``password`` field for a new password; the field's description states the rules (the form
    macro shows it as help text under the field)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.password.description = password_rules()


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired()],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class SetPasswordForm(PasswordRulesForm):
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


def role_choices():
    """Roles with their translated labels."""
    return [SelectChoice(role, label) for role, label in ROLE_LABELS.items()]


def least_privileged_role():
    """The role that reaches least far: the fewest permissions over the whole practice (a therapist's reach only
    their own patients and hours, where billing reads every patient), then the fewest permissions at all. What a
    new user starts with, so that forgetting to choose gives away as little as possible."""
    return min(ROLE_PERMISSIONS, key=lambda role: (
        sum(scope == ALL for scope in ROLE_PERMISSIONS[role].values()), len(ROLE_PERMISSIONS[role])))


class UserCreateForm(PasswordRulesForm):
    """A new user (with the least-privileged role preselected); without a password an invite link is created
    instead."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), EmailAddress(), Length(max=254)])
    role = SelectField(_l("Role"), choices=role_choices, default=least_privileged_role)
    password = PasswordField(_l("Initial password (leave empty to create an invite link)"),
                             validators=[Optional()], render_kw={"autocomplete": "new-password"})


class UserEditForm(FlaskForm):
    """Name, role and whether the account is active."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=role_choices)
    active = BooleanField(_l("Active (can sign in)"))


class PasswordChangeForm(PasswordRulesForm):
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
    expires_on = LocalDateField(_l("Valid until (optional)"), validators=[Optional()])
    terminal_only = BooleanField(_l("Only for a check-in terminal"),
                                 description=_l("The token can only check codes in and list the locations, nothing "
                                                "else: for a scanner at the door."))
