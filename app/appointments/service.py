"""Applying the domain records of webhook events (and later syncs) to the practice's data: patients from the
booking tool, the appointment cache, and the call log. Provider-agnostic: the records come from
app.providers.<name>.webhooks, already parsed.

Each function adds to the current transaction and returns a short text of what it did for the event's attempt,
naming our ids and the sources' appointment and call ids only: it is stored and may be logged, so it never holds a
name, email, phone, birth date or the booking tool's patient ID. The caller (app.webhooks.ingest, or a sync)
commits or rolls back."""

from flask_babel import gettext as _
from sqlalchemy import Integer, bindparam, exists, or_, select, text, update

from app.appointments.models import Appointment, Call
from app.patients.fields import FieldError, normalise_email, normalise_phone
from app.patients.importing.single import apply_patient_record
from app.patients.models import Patient
from app.patients.reviews.service import hold_for_review
from app.platform.audit.service import record as audit_record
from app.platform.database import UTCDateTime, utcnow
from app.platform.extensions import db
from app.platform.security.crypto import encrypt_secret
from app.providers.events import RESCHEDULED, AppointmentRecord, CallRecord, PatientRecord
from app.tenancy.settings import default_therapist_id


class Ignored(Exception):
    """The record is valid but changes nothing on purpose (older than what is stored); the attempt is "ignored"."""


def apply_record(actor, practice, record):
    """Apply one domain record; returns what was done. Raises Ignored for a record that is deliberately not
    applied, RecordRefused (a ServiceError naming ids and fields only) for one that cannot be (the event is then
    retried and shown as failing)."""
    if isinstance(record, PatientRecord):
        return apply_patient(actor, practice, record)
    if isinstance(record, AppointmentRecord):
        return apply_appointment(actor, practice, record)
    if isinstance(record, CallRecord):
        return apply_call(practice, record)
    raise TypeError(f"no rule applies {type(record).__name__}")


def patient_fields(record):
    """A booking tool's patient as the fields of a one-row import (app.patients.importing.single)."""
    return {"first_name": record.first_name, "last_name": record.last_name, "email": record.email,
            "phone": record.phone, "birth_date": record.birth_date.isoformat() if record.birth_date else None,
            "booking_system_id": record.external_id}


def apply_patient(actor, practice, record):
    """A patient from the booking tool, with the import's matching rules (booking id, then email; same name and
    birth date with another email is flagged for the admin, never merged). Appointments that arrived before their
    patient are linked to it."""
    action, patient_id, review_id = apply_patient_record(actor, patient_fields(record), origin="webhook",
                                                         label=_("Booking tool (webhook)"))
    if action == "flagged":
        return f"patient flagged for review in import {review_id}"
    if action == "create":
        hold_for_review(practice.id, patient_id, "booking")  # on the review list until an admin decides
    if patient_id is not None:
        db.session.execute(link_appointments(practice.id, record.external_id, patient_id))
    return f"patient {patient_id}: {action}"


def link_appointments(practice_id, external_id, patient_id):
    """The UPDATE that gives the practice's booking-tool appointments of the tool's patient ``external_id`` which
    have no patient yet (they came before it) the patient ``patient_id`` (a value, or a column of the statement it
    is part of: app.webhooks.fast_patient). On the table, not the model: no appointment is held by the session
    here, and an ORM update would first flush it and match its objects against the WHERE (twice the CPU)."""
    appointments = Appointment.__table__.c
    return (update(Appointment.__table__)
            .where(appointments.practice_id == practice_id, appointments.source == "booking",
                   appointments.patient_external_id == external_id, appointments.patient_id.is_(None))
            .values(patient_id=patient_id))


def _patient_by_email(practice_id, email):
    """The id of the practice's patient with ``email`` (practice email or booking email, active first), or None."""
    return db.session.scalar(
        select(Patient.id)
        .where(Patient.practice_id == practice_id,
               or_(Patient.email_normalized == email, Patient.booking_email == email))
        .order_by(Patient.archived_at.is_not(None), Patient.id)
        .limit(1)
    )


def _attendee_patient(actor, practice, record):
    """The patient of a Cal.com attendee: matched by email, else created and marked as coming from Cal.com (with
    the practice's default therapist). None when the attendee has no usable email."""
    try:
        email = normalise_email(record.attendee_email)
    except FieldError:
        email = None
    if not email:
        return None
    patient_id = _patient_by_email(practice.id, email.lower())
    if patient_id is not None:
        return patient_id
    first_name, _, last_name = (record.attendee_name or "").strip().partition(" ")
    patient = Patient(practice_id=practice.id, first_name=first_name[:100] or email.split("@")[0][:100],
                      last_name=last_name.strip()[:100], email=email, email_normalized=email.lower(),
                      therapist_id=default_therapist_id(practice), source="calcom")
    patient.refresh_search_text()
    db.session.add(patient)
    db.session.flush()
    audit_record("patient.create", actor, object_type="patient", object_id=patient.id, patient_id=patient.id,
          meta={"origin": "calcom"})
    hold_for_review(practice.id, patient.id, "calcom")  # an admin accepts, links or ignores it (issue 17, item 5)
    return patient.id


_UPSERT_COLUMNS = ("practice_id", "source", "external_id", "patient_id", "patient_external_id", "starts_at",
                   "ends_at", "status", "therapist_name", "therapist_id", "service_name", "attendee_name",
                   "attendee_email", "source_updated_at", "synced_at", "created_at")
_UPDATED_COLUMNS = [name for name in _UPSERT_COLUMNS
                    if name not in ("practice_id", "source", "external_id", "patient_id", "created_at")]
# One statement per event, the same SQL on SQLite (3.35+) and PostgreSQL: the patient (given, or the booking
# tool's patient by its id) and the therapist (given, else by email, else by name) are looked up by subqueries; a
# conflict on (practice, source, external id) updates the row unless the stored update is newer (then nothing is
# returned); a patient once matched is never unlinked. Written as text because SQLAlchemy does not cache its
# dialect-specific INSERT ... ON CONFLICT constructs, and compiling one on every event cost more than running it.
# Kept in parts so the webhook receiver's fast path can run the same upsert inside one statement (upsert_from()).
_UPSERT_INTO = "INSERT INTO appointments (" + ", ".join(_UPSERT_COLUMNS) + ") "  # noqa: S608 (constant names)
_UPSERT_VALUES = (
    ":practice_id, :source, :external_id, "
    "COALESCE(:patient_id, (SELECT id FROM patients WHERE practice_id = :practice_id "
    "AND booking_system_id = :patient_external_id)), "
    ":patient_external_id, :starts_at, :ends_at, :status, :therapist_name, "
    "COALESCE(:therapist_id, "
    "(SELECT id FROM users WHERE practice_id = :practice_id AND role = 'therapist' "
    "AND lower(email) = :therapist_email LIMIT 1), "
    "(SELECT id FROM users WHERE practice_id = :practice_id AND role = 'therapist' "
    "AND lower(name) = :therapist_key LIMIT 1)), "
    ":service_name, :attendee_name, :attendee_email, :source_updated_at, :synced_at, :created_at"
)
_UPSERT_CONFLICT = (
    " ON CONFLICT (practice_id, source, external_id) DO UPDATE SET "
    "patient_id = COALESCE(excluded.patient_id, appointments.patient_id), "
    + ", ".join(f"{name} = excluded.{name}" for name in _UPDATED_COLUMNS) + " "
    "WHERE appointments.source_updated_at IS NULL OR excluded.source_updated_at IS NULL "
    "OR appointments.source_updated_at <= excluded.source_updated_at "
    "RETURNING id"
)
UPSERT_BINDS = (
    bindparam("patient_id", type_=Integer()),
    bindparam("therapist_id", type_=Integer()),
    *(bindparam(name, type_=UTCDateTime()) for name in ("starts_at", "ends_at", "source_updated_at", "synced_at",
                                                         "created_at")),
)
_UPSERT_SQL = text(_UPSERT_INTO + "VALUES (" + _UPSERT_VALUES + ")" + _UPSERT_CONFLICT).bindparams(*UPSERT_BINDS)


def upsert_sql():
    """The upsert (one row from its parameters) as a text construct: see _UPSERT_SQL and upsert_parameters()."""
    return _UPSERT_SQL


def upsert_from(row_source):
    """The appointment upsert as ``INSERT ... SELECT <the same values> FROM <row_source> ON CONFLICT ...``: it
    writes only when ``row_source`` (a CTE's name) has a row. Takes upsert_parameters() (and UPSERT_BINDS)."""
    return _UPSERT_INTO + "SELECT " + _UPSERT_VALUES + " FROM " + row_source + _UPSERT_CONFLICT  # noqa: S608 (a name)


def upsert_in_one_statement(record):
    """Whether applying ``record`` is the upsert alone (no patient to find or create in Python, nothing else to
    mark): an AppointmentRecord of the booking tool that replaces no other appointment."""
    return (isinstance(record, AppointmentRecord) and record.source == "booking"
            and not record.replaces_external_id)


def upsert_parameters(practice_id, record, *, patient_id=None, therapist_id=None, now=None):
    """The parameters of the upsert (see _UPSERT_SQL) for ``record``."""
    now = now or utcnow()
    return {
        "practice_id": practice_id, "source": record.source, "external_id": record.external_id,
        "patient_id": patient_id, "therapist_id": therapist_id,
        "patient_external_id": record.patient_external_id if record.source == "booking" else None,
        "starts_at": record.starts_at, "ends_at": record.ends_at, "status": record.status,
        "therapist_name": (record.therapist_name or "")[:200],
        "therapist_email": (record.therapist_email or "").strip().lower() or None,
        "therapist_key": (record.therapist_name or "").strip().lower() or None,
        "service_name": (record.service_name or "")[:200], "attendee_name": (record.attendee_name or "")[:200],
        "attendee_email": record.attendee_email, "source_updated_at": record.source_updated_at,
        "synced_at": now, "created_at": now,
    }


def upsert_summaries(record):
    """What the event's attempt says when the upsert stored ``record``, and when it was ignored as older."""
    name = f"appointment {record.source}:{record.external_id}"
    return f"{name}: stored ({record.status})", f"{name}: older than the stored update"


def apply_appointment(actor, practice, record, *, therapist_id=None):
    """Upsert one appointment into the cache by (practice, source, external id), in one statement (see
    _UPSERT_SQL). ``therapist_id`` (a sync's admin-corrected mapping) wins over matching the therapist by email
    or name; only a user with the therapist role is matched (an admin's own Cal.com account hosting a booking is
    no therapist, and the appointment's therapist then shows "nicht zugeordnet"). A record whose
    ``source_updated_at`` is older than the stored one is ignored (out-of-order delivery); a cancelled
    appointment stays, marked cancelled. A reschedule marks the replaced appointment ``rescheduled``."""
    now = utcnow()
    patient_id = _attendee_patient(actor, practice, record) if record.source != "booking" else None
    stored = db.session.execute(_UPSERT_SQL, upsert_parameters(
        practice.id, record, patient_id=patient_id, therapist_id=therapist_id, now=now)).scalar()
    summary, older = upsert_summaries(record)
    if stored is None:
        raise Ignored(older)
    if record.replaces_external_id:
        replaced = db.session.execute(
            update(Appointment)
            .where(Appointment.practice_id == practice.id, Appointment.source == record.source,
                   Appointment.external_id == record.replaces_external_id)
            .values(status=RESCHEDULED, synced_at=now)
        ).rowcount
        summary += f"; {record.replaces_external_id} " + ("marked rescheduled" if replaced else "not known here")
    return summary


def _call_patient(practice, record):
    """The patient on the other end of a call: the caller for inbound calls, the callee for outbound ones,
    matched by phone number in E.164 (read in the practice's country)."""
    number = record.to_number if record.direction == "outbound" else record.from_number
    if not number:
        return None
    try:
        phone = normalise_phone(number, practice.country)
    except FieldError:
        return None
    return db.session.scalar(
        select(Patient.id).where(Patient.practice_id == practice.id, Patient.phone == phone)
        .order_by(Patient.archived_at.is_not(None), Patient.id).limit(1)
    )


_CALL_FIELDS = ("agent_id", "direction", "from_number", "to_number", "status", "started_at", "ended_at",
                "duration_ms", "summary", "sentiment", "successful", "disconnection_reason")


def apply_call(practice, record):
    """Upsert one call by its id. Fields a later stage knows (the end, the analysis) are added; an event of an
    earlier stage than the stored one is ignored. The transcript is stored encrypted."""
    call = db.session.scalar(select(Call).where(
        Call.practice_id == practice.id, Call.source == "retell",
        Call.external_id == record.external_id).with_for_update())
    if call is not None and record.stage < call.stage:
        raise Ignored(f"call {record.external_id}: an earlier stage than the stored one")
    done = "updated"
    if call is None:
        call = Call(practice_id=practice.id, source="retell", external_id=record.external_id, stage=0)
        db.session.add(call)
        done = "created"
    for name in _CALL_FIELDS:
        value = getattr(record, name)
        if value is not None:
            setattr(call, name, value)
    if record.transcript:
        call.transcript = encrypt_secret(record.transcript)
    call.stage = record.stage
    if call.patient_id is None:
        call.patient_id = _call_patient(practice, record)
    return f"call {record.external_id}: {done} (stage {record.stage})"


def has_appointment_with(user):
    """EXISTS an appointment of the patient with ``user`` as therapist: what makes a patient a therapist's own
    besides being assigned (registered with app.patients.service). Correlated on the patient, so one record, a
    search and a page of the list probe only the patients they look at, through the (patient_id, starts_at) index.
    (No practice_id condition: the patient's own is already checked, and with one the planner may pick the
    (practice_id, therapist_id) index and scan all of the therapist's appointments for every patient.)"""
    return exists().where(Appointment.patient_id == Patient.id, Appointment.therapist_id == user.id)
