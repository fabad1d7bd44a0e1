"""The receiver's fast path for a new patient of the booking tool (issue 16), on PostgreSQL.

Through the general path (app.webhooks.ingest) such an event took nine statements and the ORM's unit of work: the
event, the candidates, the default therapist, the patient, its review entry, the link of appointments that came
before it, the audit entry, the attempt and the commit. Profiled under the wrk bench, the 5 % of events that were
new patients cost the workers as much as all the appointment events together. Here the record is planned by the
import's own rules first (app.patients.importing.single.new_patient_values: validation and candidates; reads only,
its transaction ended before writing), and only when those rules say *create* is everything written in **one
autocommitted statement**::

    WITH ev AS (the fenced event insert of app.webhooks.receiving),
         p AS (INSERT INTO patients ... SELECT <the planned values> FROM ev RETURNING id),  -- the default
                                  -- therapist only when still an active therapist, as default_therapist_id says
         INSERT INTO patient_reviews ... FROM p,              -- on the review list, as apply_patient puts it
         INSERT INTO audit_log ... FROM p,                    -- patient.create, as apply_patient_record records it
         UPDATE appointments SET patient_id = p.id ...,        -- the appointments that came before their patient
         INSERT INTO webhook_event_attempts ... FROM ev, p     -- processed, "patient <id>: create"
    SELECT ev.id, p.id FROM ev, p

The rows are those of the general path (a test compares them). Anything else the rules decide (link, update,
unchanged, flagged, invalid), SQLite, and any error of the statement (a second delivery of the event, the same
patient created by a concurrent event since the plan: the unique booking id) take the general path, which plans
again and stores what it must; the fence holding the event back raises StaleEndpoint as on the other fast path."""

from functools import cache

from sqlalchemy import String, bindparam, cast, exists, insert, literal, select, true

from app.accounts.service import active_therapist_id
from app.appointments.service import link_appointments, patient_fields
from app.patients.importing.single import SOURCE, new_patient_values
from app.patients.models import Patient
from app.patients.reviews.models import PENDING, PatientReview
from app.platform.audit.models import AuditEntry
from app.platform.database import utcnow
from app.platform.extensions import db
from app.tenancy.settings import chosen_default_therapist_id
from app.webhooks.fast_path import fall_back
from app.webhooks.models import PROCESSED, RECEIPT, WebhookEventAttempt
from app.webhooks.receiving import StaleEndpoint, attach_practice, fenced_event_insert

# The audit entry's meta, as apply_patient_record writes it for a created patient.
AUDIT_META = {"origin": "webhook", "action": "create"}
# Prefixes of the parameters: the event's values, the patient's columns. Both keep every parameter name apart from
# the columns of appointments, which the statement updates (SQLAlchemy would SET a column named like a parameter).
EVENT, PATIENT = "event_", "patient_"


def _typed(table, name, parameter):
    """Bound parameter ``parameter`` cast to the type of ``table``'s column ``name`` (in a SELECT list PostgreSQL
    does not type a parameter by the column it goes to)."""
    column_type = table.c[name].type
    return cast(bindparam(parameter, type_=column_type), column_type)


@cache
def _statement(names):
    """The one statement (see the module docstring) for a patient with the columns ``names`` (the keys of
    app.patients.importing.write.new_patient), built once; SQLAlchemy caches its compiled form."""
    patients, reviews = Patient.__table__, PatientReview.__table__
    audit, attempts = AuditEntry.__table__, WebhookEventAttempt.__table__
    ev = fenced_event_insert(EVENT).cte("ev")
    # The chosen default therapist is checked here, at the write (the general path asks before it).
    values = {name: _typed(patients, name, f"{PATIENT}{name}") for name in names}
    values["therapist_id"] = active_therapist_id(values["practice_id"], values["therapist_id"])
    p = (insert(patients)
         .from_select(names, select(*values.values()).select_from(ev))
         .returning(patients.c.id)
         .cte("p"))
    now = _typed(audit, "created_at", "now")
    review = insert(reviews).from_select(
        ["practice_id", "patient_id", "source", "status", "created_at"],
        select(_typed(reviews, "practice_id", f"{EVENT}practice_id"), p.c.id, literal(SOURCE, String),
               literal(PENDING, String), now).select_from(p)).cte("review")
    entry = insert(audit).from_select(
        ["practice_id", "action", "object_type", "object_id", "patient_id", "meta", "created_at"],
        select(_typed(audit, "practice_id", f"{EVENT}practice_id"), literal("patient.create", String),
               literal("patient", String), cast(p.c.id, String), p.c.id, _typed(audit, "meta", "audit_meta"),
               now).select_from(p)).cte("entry")
    # The booking id as a parameter, not p's column: so the planner reads the (practice, patient external id)
    # index; joined to p it scanned the practice's appointments (6 ms at 17,000). Nothing is touched without p.
    link = link_appointments(bindparam(f"{EVENT}practice_id"), bindparam(f"{PATIENT}booking_system_id"),
                             select(p.c.id).scalar_subquery()).where(exists().select_from(p)).cte("link")
    attempt = insert(attempts).from_select(
        ["event_id", "number", "started_at", "finished_at", "outcome", "detail", "triggered_by"],
        select(ev.c.id, literal(1), now, now, literal(PROCESSED, String),
               literal("patient ", String) + cast(p.c.id, String) + literal(": create", String),
               literal(RECEIPT, String)).select_from(ev.join(p, true()))).cte("attempt")
    return (select(ev.c.id.label("event_id"), p.c.id.label("patient_id"))
            .select_from(ev.join(p, true()))
            .add_cte(review, entry, link, attempt))


def store_and_create_patient(endpoint, record, values):
    """Store the event (``values``, see app.webhooks.receiving.event_values) and create the booking tool's patient
    ``record`` when the import's rules create it. Returns (event id, processed, None) as the general path does;
    None when the record is not a plain create, or planning or the statement failed (nothing is stored; the caller
    takes the general path); raises StaleEndpoint when the fence held the event back. PostgreSQL only."""
    try:
        practice = attach_practice(endpoint)
        patient = new_patient_values(practice, patient_fields(record), chosen_default_therapist_id(practice))
        db.session.commit()  # only read: hand the connection back before the write, as the other fast path does
    except Exception:  # whatever the plan met, the general path meets it again and stores the event with it
        db.session.rollback()
        return None
    if patient is None:
        return None
    parameters = {**{f"{EVENT}{name}": value for name, value in values.items()},
                  **{f"{PATIENT}{name}": value for name, value in patient.items()},
                  "now": utcnow(), "audit_meta": AUDIT_META}
    try:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            row = connection.execute(_statement(tuple(patient)), parameters).first()
    except Exception as error:  # noqa: BLE001 (the general path takes the event, whatever happened here)
        return fall_back(error)
    if row is None:
        raise StaleEndpoint
    return row.event_id, PROCESSED, None
