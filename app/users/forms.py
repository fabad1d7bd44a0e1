"""Forms of the users blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.platform.security.permissions import ROLE_LABELS
from app.platform.validators import EmailAddress


def role_choices():
    """Roles with their translated labels."""
    return [SelectChoice(role, label) for role, label in ROLE_LABELS.items()]


class UserCreateForm(FlaskForm):
    """A new user; without a password an invite link is created instead."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), EmailAddress(), Length(max=254)])
    role = SelectField(_l("Role"), choices=role_choices)
    password = PasswordField(_l("Initial password (leave empty to create an invite link)"),
                             validators=[Optional()], render_kw={"autocomplete": "new-password"})


class UserEditForm(FlaskForm):
    """Name, role and whether the account is active."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=role_choices)
    active = BooleanField(_l("Active (can sign in)"))
