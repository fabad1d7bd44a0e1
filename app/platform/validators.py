"""Form validators shared by several forms."""

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from wtforms import ValidationError

from app.platform.errors import ServiceError


class EmailAddress:
    """Email syntax check (no DNS lookup). Reserved test domains such as ``.test`` are accepted, because demo
    accounts use them; WTForms' own Email validator refuses them."""

    def __init__(self, message=None):
        self.message = message or _l("Please enter a valid email address.")

    def __call__(self, form, field):
        if not field.data:
            return
        try:
            validate_email(field.data, check_deliverability=False, test_environment=True)
        except EmailNotValidError:
            raise ValidationError(self.message) from None


def check_fields(checks, data, fields):
    """Run ``checks[name](data.get(name))`` for each name in ``fields``: the cleaned values, and by field the
    message of each ServiceError raised, so a form shows every problem at once (the caller raises its validation
    error when there are any)."""
    values, errors = {}, {}
    for name in fields:
        try:
            values[name] = checks[name](data.get(name))
        except ServiceError as error:
            errors[name] = error.message
    return values, errors
