"""The calls inbox's use cases: the practice's voice-agent calls newest first, the count of open ones, assigning a
call to a patient (an existing one, or one created from the caller's number through the patients domain's
service), marking a call done and open again. Every change is audited; reads are scoped by practice, so another
practice's call is never found."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from app.appointments.models import Appointment, Call
from app.patients.fields import format_phone
from app.patients.service import create_patient, search_patients
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.extensions import db
from app.platform.pagination import paginate

# The inbox's filters: every call, the open ones, the open ones no patient matched, the done ones.
FILTERS = ("all", "open", "unmatched", "done")
FILTER_LABELS = {"all": _l("All calls"), "open": _l("Open"), "unmatched": _l("Without a patient"),
                 "done": _l("Done")}
# Retell's user_sentiment values, in words.
SENTIMENT_LABELS = {"Positive": _l("Positive"), "Negative": _l("Negative"), "Neutral": _l("Neutral"),
                    "Unknown": _l("Unknown")}
SENTIMENT_BADGES = {"Positive": "badge-ok", "Negative": "badge-error", "Neutral": "badge-muted",
                    "Unknown": "badge-muted"}


def sentiment_label(sentiment):
    """The caller's mood as a word of the UI language ("Positiv"); None when the analysis gave none."""
    if not sentiment:
        return None
    return SENTIMENT_LABELS.get(sentiment, _l("Unknown"))


def inbox_page(practice_id, show, per_page):
    """The page ``?page=`` of the practice's calls under filter ``show`` (see FILTERS), newest first, each with
    its patient and who marked it done (loaded with the page, not one query per row)."""
    query = select(Call).where(Call.practice_id == practice_id)
    if show == "open":
        query = query.where(Call.done_at.is_(None))
    elif show == "unmatched":
        query = query.where(Call.done_at.is_(None), Call.patient_id.is_(None))
    elif show == "done":
        query = query.where(Call.done_at.is_not(None))
    order_by = (Call.started_at.desc().nulls_last(), Call.id.desc())
    return paginate(query, per_page, Call.id, order_by=order_by,
                    options=(joinedload(Call.patient), joinedload(Call.done_by)))


def open_count(user):
    """How many of the user's practice's calls are open: one count over the (practice_id, done_at) index, for the
    navigation on every page."""
    return db.session.scalar(select(func.count()).select_from(Call).where(
        Call.practice_id == user.practice_id, Call.done_at.is_(None)))


def get_call(practice_id, call_id):
    """The practice's call with ``call_id``, or None (callers answer 404)."""
    return db.session.scalar(select(Call).where(Call.practice_id == practice_id, Call.id == call_id)
                             .options(joinedload(Call.patient), joinedload(Call.done_by)))


def caller_number(call):
    """The number of the person on the other end: the caller of an inbound call, the callee of an outbound one."""
    return call.to_number if call.direction == "outbound" else call.from_number


def new_patient_fields(call, practice):
    """The fields a new patient for ``call`` starts with: the caller's number, written as the practice writes
    numbers."""
    number = caller_number(call)
    return {"phone": format_phone(number, practice.country) if number else ""}


def find_patients(user, text, limit):
    """The first ``limit`` active patients ``user`` may read that match ``text`` (the patients list's search), by
    name: the choices for assigning a call."""
    found = search_patients(user, text)
    return db.session.scalars(found.query.order_by(*found.order_by).limit(limit)).all()


def _audit(action, actor, call, patient_id, meta=None):
    """Add an audit entry about ``call`` (the caller commits)."""
    record(action, actor, object_type="call", object_id=call.id, patient_id=patient_id, meta=meta)


def assign_call(actor, call, patient):
    """Assign ``call`` to ``patient`` (a patient of the call's practice the actor may read, chosen by the caller);
    audited with the previous patient, if any; commits."""
    if patient.practice_id != call.practice_id:
        raise ValueError("a call is assigned only to a patient of its practice")
    previous = call.patient_id
    if previous == patient.id:
        return call
    call.patient_id = patient.id
    _audit("call.assign", actor, call, patient.id, meta={"previous_patient_id": previous} if previous else None)
    db.session.commit()
    return call


def assign_new_patient(actor, practice, call, data, therapist_id=None):
    """Create a patient from ``data`` (form fields, with the patients domain's rules; a PatientValidationError or
    ServiceError says what to fix) and assign ``call`` to them. Returns the patient."""
    patient = create_patient(actor, practice, data, therapist_id)
    assign_call(actor, call, patient)
    return patient


def mark_done(actor, call):
    """Mark ``call`` done by the actor, now; audited; commits. A call already done keeps who and when, also when
    two people click at once: only the update that finds the call open changes it."""
    done = db.session.execute(
        update(Call).where(Call.id == call.id, Call.done_at.is_(None))
        .values(done_at=utcnow(), done_by_id=actor.user.id if actor.user is not None else None)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if done:
        _audit("call.done", actor, call, call.patient_id)
    db.session.commit()
    return call


def reopen(actor, call):
    """Open a done call again (done by mistake); audited with who had marked it done; commits."""
    if call.done_at is None:
        return call
    meta = {"done_by_id": call.done_by_id}
    call.done_at = None
    call.done_by_id = None
    _audit("call.reopen", actor, call, call.patient_id, meta=meta)
    db.session.commit()
    return call


def move_patient_records(practice_id, from_patient_id, to_patient_id):
    """Move the appointments and calls of one patient to another of the same practice (a synced patient linked
    to an existing one in the review list); two statements, in the caller's transaction. Returns the counts."""
    moved = {}
    for name, model in (("appointments", Appointment), ("calls", Call)):
        moved[name] = db.session.execute(
            update(model).where(model.practice_id == practice_id, model.patient_id == from_patient_id)
            .values(patient_id=to_patient_id)
        ).rowcount
    return moved


def open_calls_panel(user, limit=5):
    """The home page's "Offene Anrufe" panel: the open count and the newest open calls with their patients (two
    statements, however many calls are open)."""
    calls = db.session.scalars(
        select(Call).where(Call.practice_id == user.practice_id, Call.done_at.is_(None))
        .order_by(Call.started_at.desc().nulls_last(), Call.id.desc()).limit(limit)
        .options(joinedload(Call.patient))
    ).all()
    return {"count": open_count(user), "calls": calls}
