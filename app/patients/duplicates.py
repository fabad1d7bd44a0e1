"""When two patient records are the same person: the matching rules shared by the import (its plan and the
booking tool's single records) and the create and edit forms, so the front desk is warned exactly where the import
would have flagged a row.

The rules:

- **same name and birth date**: first and last name equal ignoring case and extra spaces (``identity_key``), and
  the same birth date (or both without one);
- **same email**: the email, ignoring case, is a patient's email or the email the booking tool knows them by
  (``email_keys``);
- **same booking id**;
- in the forms, a record merged into another never matches (``matchable``);
- the forms also warn on the **same phone number** (E.164, or as entered when it could not be normalised): the
  import does not match by phone, because a family often shares a landline, but a front desk should see it.
"""

from dataclasses import dataclass, field
from functools import lru_cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, or_, select

from app.patients.models import Patient
from app.platform.extensions import db

MAX_SHOWN = 10  # likely duplicates listed in the form; more mean a very common name and add nothing

REASON_LABELS = {
    "identity": _l("same name and birth date"),
    "email": _l("same email address"),
    "phone": _l("same phone number"),
}


def identity_key(first_name, last_name, birth_date):
    """The key for "same person by name and birth date": names without case or extra spaces, and the date."""
    return (" ".join((first_name or "").split()).casefold(), " ".join((last_name or "").split()).casefold(),
            birth_date)


def email_keys(patient):
    """The emails a stored patient is matched by, lower-cased: the practice's email and the booking tool's."""
    return {(patient.email_normalized or patient.email or "").lower(), (patient.booking_email or "").lower()} - {""}


def matchable():
    """The SQL condition for records that can match at all: never one merged into another (its data lives on in
    the record it was merged into, which is matched instead)."""
    return Patient.merged_into_id.is_(None)


def candidate_condition(practice_id, values, *, phone=False):
    """The SQL condition for the patients of ``practice_id`` a record with ``values`` (validated fields; absent
    ones count as empty) can match: same booking id, same email, (active) same birth date or, without a birth date,
    the identical name; with ``phone`` also the same phone number. The rules above then decide which candidates
    really match. Returns (condition, parameters): the condition holds bound parameters only, to be executed with
    ``parameters``, and is built once for each shape (which of the fields are given): building it took 220 µs of
    every new patient the booking tool sent (issue 16).

    Each branch names the practice itself, so each is one index's range and the whole is a union of those
    (SQLite's planner uses an OR of indexed terms only when every term is indexed on its own; with the practice
    outside the OR it read every patient of the practice, 1.4 ms a webhook patient at 300 patients and growing
    with the practice, issue 16)."""
    shape = _shape(values, phone)
    return _condition(*shape), _parameters(practice_id, values, shape)


def candidate_select(columns, practice_id, values):
    """``select(*columns)`` of the candidates of candidate_condition (without the phone), built once for each
    shape; returns (statement, parameters)."""
    shape = _shape(values, False)
    return _select(tuple(columns), shape), _parameters(practice_id, values, shape)


def _shape(values, phone):
    """Which branches a record's condition has: (booking id, email, phone, birth date)."""
    return (bool(values.get("booking_system_id")), bool(values.get("email")), bool(phone and values.get("phone")),
            bool(values.get("birth_date")))


def _parameters(practice_id, values, shape):
    """The bound values of the condition of ``shape`` for ``values``."""
    booking, email, phone, birth_date = shape
    parameters = {"candidate_practice_id": practice_id}
    if booking:
        parameters["candidate_booking_system_id"] = values["booking_system_id"]
    if email:
        parameters["candidate_email"] = values["email"].lower()
    if phone:
        parameters["candidate_phone"] = values["phone"]
    if birth_date:
        parameters["candidate_birth_date"] = values["birth_date"]
    else:
        parameters.update(candidate_first_name=values.get("first_name"), candidate_last_name=values.get("last_name"))
    return parameters


@lru_cache(maxsize=16)
def _condition(booking, email, phone, birth_date):
    """The condition of one shape (see candidate_condition), with bound parameters named ``candidate_*``."""
    patients = Patient.__table__.c  # the table's columns serve ORM and Core selects alike, and build faster
    branches = []
    if booking:
        branches.append(patients.booking_system_id == bindparam("candidate_booking_system_id"))
    if email:
        branches.append(patients.email_normalized == bindparam("candidate_email"))
    if phone:
        branches.append(patients.phone == bindparam("candidate_phone"))
    if birth_date:
        branches.append((patients.birth_date == bindparam("candidate_birth_date")) & patients.archived_at.is_(None))
    else:
        # Without a birth date only an identical name can be the same person.
        branches.append((patients.last_name == bindparam("candidate_last_name")) &
                        (patients.first_name == bindparam("candidate_first_name")))
    practice = bindparam("candidate_practice_id")
    return or_(*((patients.practice_id == practice) & branch for branch in branches))


@lru_cache(maxsize=16)
def _select(columns, shape):
    """select(*columns) of one shape's candidates (see candidate_select)."""
    return select(*columns).where(_condition(*shape))


@dataclass
class Duplicate:
    """A likely duplicate: the stored patient and why (keys of REASON_LABELS)."""

    patient: Patient
    reasons: list = field(default_factory=list)

    @property
    def reason_labels(self):
        """The reasons as translated words, for the form."""
        return [REASON_LABELS[reason] for reason in self.reasons]


def match_reasons(values, patient):
    """Why a stored ``patient`` is likely the person of ``values`` (empty: it is not)."""
    reasons = []
    if identity_key(values.get("first_name"), values.get("last_name"), values.get("birth_date")) == identity_key(
            patient.first_name, patient.last_name, patient.birth_date):
        reasons.append("identity")
    if values.get("email") and values["email"].lower() in email_keys(patient):
        reasons.append("email")
    if values.get("phone") and values["phone"] == patient.phone:
        reasons.append("phone")
    return reasons


def find_duplicates(practice_id, values, exclude_id=None):
    """The practice's patients that are likely the person of ``values`` (validated fields, as the form has them so
    far), active ones first, then by name; never ``exclude_id`` (the record being edited) nor a record already
    merged into another. One query."""
    if not (values.get("first_name") and values.get("last_name")) and not values.get("email") \
            and not values.get("phone"):
        return []
    condition, parameters = candidate_condition(practice_id, values, phone=True)
    query = select(Patient).where(condition, matchable())
    if exclude_id is not None:
        query = query.where(Patient.id != exclude_id)
    candidates = db.session.scalars(query.order_by(Patient.archived_at.is_not(None), Patient.sort_name,
                                                   Patient.id).limit(MAX_SHOWN * 5), parameters).all()
    found = [Duplicate(patient, reasons) for patient in candidates if (reasons := match_reasons(values, patient))]
    return found[:MAX_SHOWN]
