"""Forms of the settings blueprint. The rules live in app.services.practice_settings (shared with inline
validation); the form carries the fields, CSRF and labels."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, URLField


class PracticeSettingsForm(FlaskForm):
    """Time zone, default therapist and booking page URL template of the practice."""

    timezone = StringField(_l("Time zone"), render_kw={"list": "timezone-options", "autocomplete": "off",
                                                       "placeholder": "Europe/Berlin"})
    default_therapist_id = SelectField(_l("Default therapist for new patients from the booking tool"), coerce=str,
                                       validate_choice=False)
    booking_url_template = URLField(
        _l("Booking page URL"), render_kw={"placeholder": "https://cal.com/praxis/erstgespraech?name={name}",
                                           "aria-describedby": "booking-url-help", "autocomplete": "off"})
