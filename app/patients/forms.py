"""Forms of the patients blueprint. Field rules live in app.patients.fields (shared with the API and the
import); these forms only carry the fields, CSRF and labels."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TelField,
)
from wtforms.validators import InputRequired, NumberRange, Optional


class PatientForm(FlaskForm):
    """Master data of a patient."""

    first_name = StringField(_l("First name"), render_kw={"autocomplete": "off"})
    last_name = StringField(_l("Last name"), render_kw={"autocomplete": "off"})
    email = EmailField(_l("Email"), render_kw={"autocomplete": "off"})
    phone = TelField(_l("Phone"), render_kw={"placeholder": "0170 1234567"})
    birth_date = StringField(_l("Birth date"), render_kw={"placeholder": _l("DD.MM.YYYY")})
    therapist_id = SelectField(_l("Therapist"), coerce=str, validators=[Optional()])
    # Saving although likely duplicates were shown (the button "Trotzdem anlegen"/"Trotzdem speichern"), with
    # the reason why this is another person; both only count when duplicates are found, and the reason is audited.
    duplicate_reason = StringField(_l("Reason"), render_kw={"autocomplete": "off"})
    save_anyway = BooleanField(default=False)


class MergeChoiceForm(FlaskForm):
    """Which record to merge with the one open, and which of the two stays (a GET form: it only shows a preview)."""

    class Meta:
        csrf = False

    other_id = IntegerField(_l("Number of the other record"), validators=[
        InputRequired(_l("Please enter the number of the other record.")),
        NumberRange(min=1, max=2**31 - 1, message=_l("Please enter the number of the other record."))])
    keep = RadioField(_l("Which record stays?"), default="this",
                      choices=[SelectChoice("this", _l("This record")), SelectChoice("other", _l("The other record"))])


class MergeConfirmForm(FlaskForm):
    """Confirm a previewed merge: the record that stays and the one merged into it."""

    survivor_id = HiddenField()
    duplicate_id = HiddenField()


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
