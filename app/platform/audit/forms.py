"""The audit log filter form (a GET form: no CSRF token, bookmarkable URLs)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional


class AuditFilterForm(FlaskForm):
    """Filter by user, action and date range (days in the practice's time zone)."""

    class Meta:
        csrf = False

    user = SelectField(_l("User"), coerce=str, validators=[Optional()])
    action = SelectField(_l("Action"), validators=[Optional()])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])

    def validate_date_to(self, field):
        """The range must not end before it starts."""
        from wtforms import ValidationError

        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))
