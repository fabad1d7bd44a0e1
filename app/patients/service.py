"""Patient records: scoped reads, search, create and edit with the shared field rules, archive and restore, and the
manual link to the booking tool. Every read of a record and every change is audited."""

from typing import NamedTuple

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, false, literal_column, or_, select
from sqlalchemy import text as text_clause
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.patients.collation import search_key
from app.patients.duplicates import find_duplicates
from app.patients.fields import FieldError, clean_text, normalise_email, validate_patient_fields
from app.patients.links import revoke_active_links
from app.patients.models import SQLITE_SEARCH_INDEX, Patient
from app.platform.audit.service import record
from app.platform.database import plan_for_values, utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.pagination import paginate
from app.platform.security.permissions import OWN, permission_scope
from app.tenancy.settings import default_therapist_id

OWNERSHIP = "praxis.patient_ownership"
IDENTIFYING_FIELDS = ("first_name", "last_name", "email", "phone", "birth_date")  # what duplicates are found by
DUPLICATE_REASON_LENGTH = 500
TRIGRAM = 3  # words this long are served by the trigram index; shorter ones only by LIKE over the practice

# Sort orders of the list and the API, matching the partial indexes on active patients.
SORTS = {
    "name": (Patient.sort_name, Patient.id),  # German phone-book order (collation.name_sort_key)
    "birth_date": (Patient.birth_date, Patient.id),
}


def _audit(action, actor, patient, meta=None):
    """Add an audit entry about ``patient`` (the caller commits)."""
    record(action, actor, object_type="patient", object_id=patient.id, patient_id=patient.id, meta=meta)


def scoped_patients(user):
    """A select of the patients ``user`` may read: their practice's, and for a therapist only their own.
    "Own" means assigned to the therapist or having an appointment with them (DESIGN.md §4)."""
    scope = permission_scope(user, "patients.read")
    query = select(Patient).where(Patient.practice_id == user.practice_id)
    if scope == OWN:
        query = query.where(or_(Patient.therapist_id == user.id, *_owned_through_others(user)))
    elif scope is None:
        query = query.where(false())  # no permission: nothing
    return query


def _owned_through_others(user):
    """The conditions other domains registered (register_ownership) under which a patient is also ``user``'s
    own, each correlated on the patient."""
    return [condition(user) for condition in current_app.extensions.get(OWNERSHIP, ())]


def register_ownership(app, condition):
    """Add ``condition(user)``: a SQL condition, correlated on Patient, that makes a patient ``user``'s own (the
    appointments domain: an appointment with them), so "own patients" grows without patients importing it."""
    app.extensions.setdefault(OWNERSHIP, []).append(condition)


def get_patient(user, patient_id):
    """The patient with ``patient_id`` if ``user`` may read it, else None (callers answer 404, never 403)."""
    return db.session.scalar(scoped_patients(user).where(Patient.id == patient_id))


class PatientSearch(NamedTuple):
    """A patient search, in the terms of ``paginate``: the filtered select (unordered), its ordering, whether text
    filters it, and the loader options of a list page (each row shows its therapist: one join, not a query per
    therapist)."""

    query: Select
    order_by: tuple
    searching: bool
    options: tuple = (joinedload(Patient.therapist),)

    def page(self, per_page, count_limit=None):
        """The page ``?page=`` of this search, counted as ``paginate`` does, each patient with its therapist."""
        return paginate(self.query, per_page, Patient.id, order_by=self.order_by, searching=self.searching,
                        options=self.options, count_limit=count_limit)


def search_patients(user, text="", archived=False, sort="name", descending=False, *, booking_system_id=None,
                    email=None):
    """Patients matching every word of ``text`` in name, email, phone, birth date (German or ISO) or booking id.
    Words are matched as substrings of the indexed ``search_text``: words of three or more characters through the
    trigram index (GIN on PostgreSQL, FTS5 on SQLite), shorter ones with LIKE. ``booking_system_id`` and ``email``
    (compared lower-cased) keep exact matches only, as the API's filters do."""
    query = scoped_patients(user)
    query = query.where(Patient.archived_at.is_not(None) if archived else Patient.archived_at.is_(None))
    if booking_system_id:
        query = query.where(Patient.booking_system_id == booking_system_id)
    if email:
        query = query.where(Patient.email_normalized == email.strip().lower())
    words = _search_words(text)
    like_words = words
    indexed = [word for word in words if len(word) >= TRIGRAM]
    if indexed and db.engine.dialect.name == "sqlite":  # PostgreSQL's trigram index serves LIKE itself
        match = " AND ".join('"' + word.replace('"', '""') + '"' for word in indexed)
        query = query.where(Patient.id.in_(
            select(literal_column("rowid")).select_from(text_clause(SQLITE_SEARCH_INDEX)).where(
                literal_column(SQLITE_SEARCH_INDEX).op("MATCH")(match))
        ))
        like_words = [word for word in words if word not in indexed]
    if like_words:
        plan_for_values()  # the trigram index serves these LIKEs only in a plan made for the words themselves
    for word in like_words:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Patient.search_text.like(f"%{escaped}%", escape="\\"))
    columns = SORTS.get(sort, SORTS["name"])
    order_by = tuple(column.desc() if descending else column.asc() for column in columns)
    return PatientSearch(query, order_by, searching=bool(words))


def _search_words(text):
    """The words of a search as search keys (collation.search_key: "Müller", "Mueller" and "Muller" are all
    "muller", as the stored search text holds them). Digit groups typed with spaces ("0170 123 45") are one
    number, joined, so the phone number is matched as typed instead of each group anywhere."""
    words = []
    for word in search_key(text or "").replace("+", " ").split():
        if word.isdigit() and words and words[-1].isdigit():
            words[-1] += word
        else:
            words.append(word)
    return words


def _check_therapist(practice_id, therapist_id):
    """A therapist id must name an active therapist of the same practice."""
    if therapist_id is None:
        return None
    therapist = db.session.get(User, therapist_id)
    if therapist is None or therapist.practice_id != practice_id or therapist.role != "therapist":
        raise ServiceError(_("Please choose a therapist of this practice."), field="therapist_id")
    return therapist.id


def _check_booking_id(practice_id, booking_system_id, patient_id=None):
    """A booking id may belong to one patient of a practice; the refusal names the patient that has it."""
    if not booking_system_id:
        return
    query = select(Patient).where(Patient.practice_id == practice_id, Patient.booking_system_id == booking_system_id)
    if patient_id is not None:
        query = query.where(Patient.id != patient_id)
    other = db.session.scalar(query)
    if other is not None:
        raise ServiceError(
            _("Booking id %(id)s is already linked to %(name)s (patient %(number)d).", id=booking_system_id,
              name=other.full_name, number=other.id),
            field="booking_system_id",
        )


class PatientValidationError(ServiceError):
    """Invalid patient input; ``errors`` maps field names to messages."""

    def __init__(self, errors):
        super().__init__(next(iter(errors.values())), field=next(iter(errors)), code="validation_failed")
        self.errors = errors


def _validated(practice, data, partial=False):
    """Run the shared field rules; raise PatientValidationError with every field's message."""
    result = validate_patient_fields(data, country=practice.country, partial=partial)
    if not result.ok:
        raise PatientValidationError(result.errors)
    return result.values


def _apply(patient, values):
    """Copy validated values onto a patient and keep the derived columns in step."""
    for name, value in values.items():
        setattr(patient, name, value)
    if "email" in values:
        patient.email_normalized = values["email"].lower() if values["email"] else None
    patient.refresh_search_text()


class DuplicatesFound(ServiceError):
    """The patient being saved is likely one the practice already has (app.patients.duplicates); ``duplicates``
    lists them. Saving anyway needs a reason, which is audited."""

    def __init__(self, duplicates, reason_missing=False):
        message = (_("Please give a reason for saving this patient anyway.") if reason_missing else
                   _("This patient may already exist. Open the existing record, or give a reason to save anyway."))
        super().__init__(message, field="duplicate_reason", code="duplicates")
        self.duplicates = duplicates


def _confirmed_duplicates(practice_id, values, exclude_id, duplicate_reason):
    """The audit details of saving a patient who has likely duplicates: their ids and the reason given. Nothing
    when there are none; DuplicatesFound when there are and ``duplicate_reason`` is None (not confirmed yet) or
    empty (confirmed without a reason)."""
    found = find_duplicates(practice_id, values, exclude_id)
    if not found:
        return {}
    try:
        reason = clean_text(duplicate_reason, DUPLICATE_REASON_LENGTH)
    except FieldError as error:
        raise ServiceError(str(error), field="duplicate_reason") from None
    if not reason:
        raise DuplicatesFound(found, reason_missing=duplicate_reason is not None)
    return {"duplicates": [duplicate.patient.id for duplicate in found], "reason": reason}


def create_patient(actor, practice, data, therapist_id=None, *, check_duplicates=False, duplicate_reason=None):
    """Create a patient from raw fields (form or API); new patients without a therapist get the practice's default.
    With ``check_duplicates`` (the form) a likely duplicate refuses the patient (DuplicatesFound) unless
    ``duplicate_reason`` says why it is another person; the reason and the duplicates' ids are audited."""
    values = _validated(practice, data)
    if therapist_id is None:
        therapist_id = default_therapist_id(practice)
    values["therapist_id"] = _check_therapist(practice.id, therapist_id)
    _check_booking_id(practice.id, values.get("booking_system_id"))
    meta = _confirmed_duplicates(practice.id, values, None, duplicate_reason) if check_duplicates else {}
    patient = Patient(practice_id=practice.id, source="manual")
    _apply(patient, values)
    if patient.booking_system_id:
        patient.booking_email = patient.email
    db.session.add(patient)
    db.session.flush()
    _audit("patient.create", actor, patient, meta=meta or None)
    db.session.commit()
    return patient


def update_patient(actor, patient, data, partial=False, therapist_id=..., *, check_duplicates=False,
                   duplicate_reason=None):
    """Change a patient's master data; the audit entry names the fields that changed (not their values: PHI).
    With ``check_duplicates`` (the form) a change of a field that identifies the patient is checked as on
    create_patient, against every other record."""
    values = _validated(patient.practice, data, partial=partial)
    values.pop("booking_system_id", None)  # the booking link changes only through link/unlink
    if therapist_id is not ...:
        values["therapist_id"] = _check_therapist(patient.practice_id, therapist_id)
    changed = sorted(name for name, value in values.items() if getattr(patient, name) != value)
    meta = {"fields": changed}
    if check_duplicates and set(changed) & set(IDENTIFYING_FIELDS):
        identifying = {name: values.get(name, getattr(patient, name)) for name in IDENTIFYING_FIELDS}
        meta.update(_confirmed_duplicates(patient.practice_id, identifying, patient.id, duplicate_reason))
    if changed:
        _apply(patient, values)
        _audit("patient.update", actor, patient, meta=meta)
    db.session.commit()
    return patient


def archive_patient(actor, patient):
    """Archive instead of delete: hide the record, remove its links to external systems (their data is never
    touched) and revoke the patient's "Meine Termine" links, each audited, in the same transaction. The removed
    booking id is kept in the audit entry so a mistaken archive can be undone by hand."""
    if patient.archived_at is not None:
        return patient
    meta = {"booking_system_id": patient.booking_system_id} if patient.booking_system_id else {}
    now = utcnow()
    patient.archived_at = now
    patient.booking_system_id = None
    patient.booking_email = None
    patient.refresh_search_text()
    db.session.flush()  # the archive mark first: a link created meanwhile is then refused or revoked below
    revoke_active_links(actor, patient, now, reason="patient.archive")
    _audit("patient.archive", actor, patient, meta=meta)
    db.session.commit()
    return patient


def restore_patient(actor, patient):
    """Bring an archived patient back. Links to external systems stay removed until linked again, and the
    "Meine Termine" links revoked by the archive stay revoked: staff create a new one."""
    if patient.archived_at is None:
        return patient
    if patient.merged_into_id is not None:
        raise ServiceError(_("This record was merged into patient no. %(id)d and stays archived; its data is "
                             "there.", id=patient.merged_into_id))
    patient.archived_at = None
    _audit("patient.restore", actor, patient)
    db.session.commit()
    return patient


def link_booking(actor, patient, booking_system_id, booking_email=None):
    """Link a patient to a booking-tool id by hand; an id linked to another patient is refused, naming them."""
    booking_system_id = clean_text(booking_system_id, 64)
    if not booking_system_id:
        raise ServiceError(_("Please enter the booking tool's patient id."), field="booking_system_id")
    booking_email = normalise_email(booking_email) if booking_email else patient.email
    _check_booking_id(patient.practice_id, booking_system_id, patient.id)
    previous = patient.booking_system_id
    patient.booking_system_id = booking_system_id
    patient.booking_email = booking_email
    patient.refresh_search_text()
    _audit("patient.link", actor, patient, meta={"booking_system_id": booking_system_id, "previous": previous})
    db.session.commit()
    return patient


def unlink_booking(actor, patient):
    """Remove a patient's link to the booking tool (the booking tool's data is not touched)."""
    if patient.booking_system_id is None and patient.booking_email is None:
        return patient
    meta = {"booking_system_id": patient.booking_system_id}
    patient.booking_system_id = None
    patient.booking_email = None
    patient.refresh_search_text()
    _audit("patient.unlink", actor, patient, meta=meta)
    db.session.commit()
    return patient


def record_view(actor, patient):
    """Audit that ``actor`` opened the patient's record (who read which record, when)."""
    _audit("patient.view", actor, patient)
    db.session.commit()
