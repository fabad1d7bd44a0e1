"""Forms of the settings blueprint. The rules live in app.tenancy.settings and app.tenancy.locations
(shared with inline validation); the forms carry the fields, CSRF and labels."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, URLField

from app.tenancy.locations import MAX_ADDRESS_LENGTH, MAX_NAME_LENGTH


class PracticeSettingsForm(FlaskForm):
    """Time zone, default therapist, booking page URL template and holiday region of the practice."""

    timezone = StringField(_l("Time zone"), render_kw={"list": "timezone-options", "autocomplete": "off",
                                                       "placeholder": "Europe/Berlin"})
    default_therapist_id = SelectField(_l("Default therapist for new patients from the booking tool"), coerce=str,
                                       validate_choice=False)
    booking_url_template = URLField(
        _l("Booking page URL"), render_kw={"placeholder": "https://cal.com/praxis/erstgespraech?name={name}",
                                           "aria-describedby": "booking-url-help", "autocomplete": "off"})
    holiday_region = SelectField(_l("Federal state or canton (for public holidays)"), coerce=str,
                                 validate_choice=False, render_kw={"aria-describedby": "holiday-region-help"})


class LocationForm(FlaskForm):
    """Name and address of one of the practice's locations, for adding or editing it. The rules live in
    app.tenancy.locations (shared with inline validation); the page prefixes each instance (``location`` for the
    add form, ``location-<id>`` for an edited row) so several forms can share it without clashing ids."""

    name = StringField(_l("Name"), render_kw={"maxlength": MAX_NAME_LENGTH, "autocomplete": "off",
                                              "placeholder": _l("e.g. Praxis Mitte")})
    address = StringField(_l("Address (optional)"),
                          render_kw={"maxlength": MAX_ADDRESS_LENGTH, "autocomplete": "off",
                                     "placeholder": _l("e.g. Hauptstraße 1, 10115 Berlin")})
