"""Why a patient record from the booking tool could not be applied, without a single personal value.

A refused record is stored with its webhook event's attempt and logged, so what is kept is a code plus our patient
numbers and the names of the fields, never a name, email, phone, birth date or the booking tool's patient ID (the
import's own row reasons quote those, for the admin who uploaded the file; see plan). ``refusal_message`` builds
the sentence an admin reads from that code and those ids, in the language of the moment it is shown.

Codes and their parameters:

- ``invalid_fields``: ``fields``, {field name: the rule it broke (a FieldError code, "required" or "invalid")};
- ``email_linked_elsewhere``: ``patient_ids``, the patients holding the email who are linked to another patient
  ID of the booking tool;
- ``ids_disagree``: ``patient_id`` holds the booking tool's patient ID, ``other_patient_id`` the email.
"""

from flask_babel import gettext as _

from app.patients.fields import validate_patient_fields
from app.patients.importing.headers import field_labels
from app.platform.errors import ServiceError


class RecordRefused(ServiceError):
    """A record that cannot be applied: ``code`` and ``params`` (ids and field names only) say why, so the error
    can be stored and logged as is; its message is the readable sentence of the moment."""

    def __init__(self, code, **params):
        super().__init__(refusal_message(code, params), code=code)
        self.params = params


def _problem_labels():
    """How each broken rule reads after a field's name."""
    return {
        "too_long": _("too long"),
        "invalid_email": _("not a valid email address"),
        "invalid_phone": _("not a valid phone number"),
        "not_a_date": _("not a date"),
        "not_a_real_date": _("not a real date"),
        "future_date": _("lies in the future"),
        "too_early": _("lies too far in the past"),
        "required": _("missing"),
        "invalid": _("invalid"),
    }


def _numbers(ids):
    """Patient numbers as a person reads them: "Nr. 12, Nr. 40"."""
    return ", ".join(_("no. %(id)s", id=patient_id) for patient_id in ids)


def refusal_message(code, params):
    """The sentence for a refused record with ``code`` and ``params`` (see the module docstring), or None for a
    code this module does not know."""
    if code == "invalid_fields":
        labels, problems, fields = field_labels(), _problem_labels(), params.get("fields", {})
        named = "; ".join(f"{labels[name]}: {problems.get(fields[name], problems['invalid'])}"
                          for name in labels if name in fields)
        return _("The booking tool sent invalid patient data (%(problems)s). Correct the patient there; the next "
                 "change is applied.", problems=named)
    if code == "email_linked_elsewhere":
        return _("The email address already belongs to patient %(numbers)s, who is linked to another patient ID "
                 "of the booking tool.", numbers=_numbers(params.get("patient_ids", ())))
    if code == "ids_disagree":
        return _("The booking tool's patient ID belongs to patient %(number)s, but the email address to patient "
                 "%(other)s.", number=_numbers([params.get("patient_id")]),
                 other=_numbers([params.get("other_patient_id")]))
    return None


def invalid_fields(fields, country, row_errors):
    """The refusal of a record whose fields break the rules: each broken field with the rule it broke (validated
    again here, which only the failing record pays for). ``row_errors`` are the import row's errors by field,
    which also name fields the import refused before the rules (a value that is not text)."""
    problems = validate_patient_fields(fields, country=country).problems
    return RecordRefused("invalid_fields", fields={name: problems.get(name, "invalid") for name in row_errors})


def conflict(values, index):
    """The refusal of a valid record the import's plan found contradicting the practice's patients (a PatientIndex
    ``index``): its patient ID and its email point at two patients, or its email belongs to a patient linked to
    another patient ID."""
    booking, email = values["booking_system_id"], values["email"]
    holders = index.by_email.get(email.lower(), []) if email else []
    by_booking = index.by_booking.get(booking) if booking else None
    if by_booking is not None:
        other = next(patient for patient in holders if patient.id != by_booking.id)
        return RecordRefused("ids_disagree", patient_id=by_booking.id, other_patient_id=other.id)
    return RecordRefused("email_linked_elsewhere", patient_ids=sorted(
        patient.id for patient in holders if patient.booking_system_id and patient.booking_system_id != booking))
