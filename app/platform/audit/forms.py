"""The audit log filter form (a GET form: no CSRF token, bookmarkable URLs)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import Optional

from app.platform.formatting import LocalDateField


class AuditFilterForm(FlaskForm):
    """Filter by user, action and date range (days in the practice's time zone, typed as people write them)."""

    class Meta:
        csrf = False

    user = SelectField(_l("User"), coerce=str, validators=[Optional()])
    action = SelectField(_l("Action"), validators=[Optional()])
    date_from = LocalDateField(_l("From"), validators=[Optional()])
    date_to = LocalDateField(_l("To"), validators=[Optional()])

    def validate_date_to(self, field):
        """The range must not end before it starts."""
        from wtforms import ValidationError

        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))
