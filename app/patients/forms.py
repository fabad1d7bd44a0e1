"""Forms of the patients blueprint. Field rules live in app.patients.fields (shared with the API and the
import); these forms only carry the fields, CSRF and labels."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, SelectField, StringField, TelField
from wtforms.validators import Optional


class PatientForm(FlaskForm):
    """Master data of a patient."""

    first_name = StringField(_l("First name"), render_kw={"autocomplete": "off"})
    last_name = StringField(_l("Last name"), render_kw={"autocomplete": "off"})
    email = EmailField(_l("Email"), render_kw={"autocomplete": "off"})
    phone = TelField(_l("Phone"), render_kw={"placeholder": "0170 1234567"})
    birth_date = StringField(_l("Birth date"), render_kw={"placeholder": _l("DD.MM.YYYY")})
    therapist_id = SelectField(_l("Therapist"), coerce=str, validators=[Optional()])


class BookingLinkForm(FlaskForm):
    """Link a patient to the booking tool's id by hand (shown filled with the current link, so it can be changed)."""

    booking_system_id = StringField(_l("Booking tool patient id"))
    booking_email = EmailField(_l("Email in the booking tool (optional)"))


class ImportUploadForm(FlaskForm):
    """A CSV export of the booking tool."""

    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Please choose a file."))])


class ImportQueueForm(FlaskForm):
    """Start the import; optionally only the valid rows."""

    valid_only = BooleanField(_l("Import only the valid rows and skip the invalid ones"))
