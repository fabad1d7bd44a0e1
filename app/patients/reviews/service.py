"""The review list of patients created by a sync or webhook (a Cal.com attendee, a new patient of the booking tool):
they are held here instead of silently becoming ordinary records, until an admin accepts one, links it to an
existing patient (its appointments and calls move there, the created record is archived) or ignores it (archived).

The patients domain cannot import the appointments domain above it, so whatever hangs off a patient there
(appointments, calls) is moved by functions that domain registers with ``register_patient_move``. Each decision is
taken once: a conditional update of the pending row decides races between two admins."""

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import joinedload

from app.accounts.service import is_active_therapist
from app.patients.links import revoke_active_links
from app.patients.models import Patient
from app.patients.reviews.models import ACCEPTED, IGNORED, LINKED, PENDING, PatientReview
from app.patients.service import search_patients
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.pagination import paginate

MOVES = "praxis.patient_review_moves"
SOURCE_LABELS = {"calcom": "Cal.com", "booking": _l("Booking tool")}
MATCHES_SHOWN = 10


def register_patient_move(app, move):
    """Add ``move(practice_id, from_patient_id, to_patient_id)``: moves a domain's rows of one patient to another in
    the caller's transaction and returns counts by kind ({"appointments": 2}), for the audit entry."""
    app.extensions.setdefault(MOVES, []).append(move)


def hold_for_review(practice_id, patient_id, source):
    """Put a patient just created from outside on the review list, in the caller's transaction: one INSERT, sent at
    once (the patient is new, so it has no review yet; nothing is read back, so no ORM object is needed)."""
    db.session.execute(insert(PatientReview.__table__).values(practice_id=practice_id, patient_id=patient_id,
                                                              source=source, status=PENDING))


def pending_count(user):
    """How many patients of the user's practice wait for review: one count over the (practice, status) index."""
    return db.session.scalar(select(func.count()).select_from(PatientReview).where(
        PatientReview.practice_id == user.practice_id, PatientReview.status == PENDING))


def review_page(practice_id, decided, per_page):
    """The page ``?page=`` of the practice's pending reviews (or, with ``decided``, the decided ones), newest first,
    each with its patients and who decided (loaded with the page)."""
    query = select(PatientReview).where(PatientReview.practice_id == practice_id)
    query = query.where(PatientReview.status != PENDING if decided else PatientReview.status == PENDING)
    return paginate(query, per_page, PatientReview.id,
                    order_by=(PatientReview.created_at.desc(), PatientReview.id.desc()),
                    options=(joinedload(PatientReview.patient).joinedload(Patient.therapist),
                             joinedload(PatientReview.linked_patient), joinedload(PatientReview.decided_by)))


def pending_panel(user, limit=5):
    """The home page's "Zu prüfende Patienten" panel: the pending count and the newest pending patients (two
    statements); None (hidden) when nothing waits."""
    count = pending_count(user)
    if not count:
        return None
    reviews = db.session.scalars(
        select(PatientReview).where(PatientReview.practice_id == user.practice_id, PatientReview.status == PENDING)
        .order_by(PatientReview.created_at.desc(), PatientReview.id.desc()).limit(limit)
        .options(joinedload(PatientReview.patient))
    ).all()
    return {"count": count, "reviews": reviews, "source_labels": SOURCE_LABELS}


def get_review(practice_id, review_id):
    """The practice's review with ``review_id``, or None (callers answer 404)."""
    return db.session.scalar(select(PatientReview).where(
        PatientReview.practice_id == practice_id, PatientReview.id == review_id)
        .options(joinedload(PatientReview.patient)))


def likely_matches(review, limit=MATCHES_SHOWN):
    """Active patients of the practice who may be the same person as the review's patient: the same email, phone,
    booking id, or name (and birth date, when both have one). One query, each branch served by an index."""
    patient = review.patient
    first_name = func.lower(Patient.first_name) == patient.first_name.lower()
    branches = [(Patient.last_name == patient.last_name) & first_name]
    if patient.email_normalized:
        branches.append(Patient.email_normalized == patient.email_normalized)
    if patient.phone:
        branches.append(Patient.phone == patient.phone)
    if patient.birth_date:
        branches.append((Patient.birth_date == patient.birth_date) & (Patient.last_name == patient.last_name))
    return db.session.scalars(
        select(Patient).where(Patient.practice_id == review.practice_id, Patient.id != patient.id,
                              Patient.archived_at.is_(None), or_(*branches))
        .order_by(Patient.last_name, Patient.first_name, Patient.id).limit(limit)
    ).all()


def search_candidates(user, text, limit):
    """The first ``limit`` active patients ``user`` may read that match ``text`` (the patients list's search), by
    name: the other patients a created record can be linked to."""
    found = search_patients(user, text)
    return db.session.scalars(found.query.order_by(*found.order_by).limit(limit)).all()


def _decide(actor, review, status, linked_patient_id=None):
    """Record the decision on a pending review, atomically: a review another admin decided meanwhile is refused."""
    decided = db.session.execute(
        update(PatientReview).where(PatientReview.id == review.id, PatientReview.status == PENDING)
        .values(status=status, linked_patient_id=linked_patient_id, decided_at=utcnow(),
                decided_by_id=actor.user.id if actor.user is not None else None)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not decided:
        db.session.rollback()
        raise ServiceError(_("This patient has already been reviewed."), code="decided")


def _audit(action, actor, review, patient_id, meta=None):
    """Add an audit entry about the review (the caller commits)."""
    record(action, actor, object_type="patient_review", object_id=review.id, patient_id=patient_id,
           meta={"source": review.source, **(meta or {})})


def _archive(actor, patient, now, reason, meta):
    """Archive a record created from outside that is not kept (linked away or ignored): hidden, its links to the
    outside removed (the booking id kept in the audit entry), its "Meine Termine" links revoked."""
    meta = {"reason": reason, **meta}
    if patient.booking_system_id:
        meta["booking_system_id"] = patient.booking_system_id
    patient.archived_at = now
    patient.booking_system_id = None
    patient.booking_email = None
    patient.refresh_search_text()
    db.session.flush()
    revoke_active_links(actor, patient, now, reason=reason)
    record("patient.archive", actor, object_type="patient", object_id=patient.id, patient_id=patient.id, meta=meta)


def accept(actor, review, therapist_id=None):
    """Keep the review's patient as an ordinary record, optionally with a therapist (an active therapist of the
    practice; None keeps the current one); audited; commits."""
    patient = review.patient
    if therapist_id is not None and not is_active_therapist(review.practice_id, therapist_id):
        raise ServiceError(_("Please choose a therapist of this practice."), field="therapist_id")
    _decide(actor, review, ACCEPTED)
    meta = {}
    if therapist_id is not None and therapist_id != patient.therapist_id:
        patient.therapist_id = therapist_id
        meta["therapist_id"] = therapist_id
    _audit("patient_review.accept", actor, review, patient.id, meta)
    db.session.commit()
    return review


def link(actor, review, target):
    """The review's patient is ``target`` (an active patient of the same practice): move what hangs off the
    created record to the target (registered moves: appointments, calls), hand the target the created record's
    booking id (when it has none) and the email the outside system knows, so later events find the target, and
    archive the created record. Audited on both patients; one transaction; commits. Returns the counts moved."""
    created = review.patient
    if target.id == created.id or target.practice_id != review.practice_id or target.archived_at is not None:
        raise ServiceError(_("Please choose another active patient of this practice."), field="patient_id")
    booking_id = created.booking_system_id
    if booking_id and target.booking_system_id and target.booking_system_id != booking_id:
        raise ServiceError(_("%(name)s is already linked to another patient of the booking tool; link the booking "
                             "tool's patient by hand on the record instead.", name=target.full_name),
                           field="patient_id")
    _decide(actor, review, LINKED, target.id)
    moved = {}
    for move in current_app.extensions.get(MOVES, ()):
        moved.update(move(review.practice_id, created.id, target.id))
    outside_email = created.booking_email or created.email_normalized
    now = utcnow()
    _archive(actor, created, now, "patient_review.link", {"linked_to": target.id})
    if booking_id and not target.booking_system_id:
        target.booking_system_id = booking_id
    if outside_email and not target.booking_email and outside_email != target.email_normalized:
        target.booking_email = outside_email
    target.refresh_search_text()
    _audit("patient_review.link", actor, review, target.id,
           {"created_patient_id": created.id, "moved": moved, "booking_system_id": booking_id})
    db.session.commit()
    return moved


def ignore(actor, review):
    """The review's patient is not one of the practice's patients (a test booking, a wrong attendee): archive the
    record (its appointments stay with it, readable in the archive); audited; commits."""
    _decide(actor, review, IGNORED)
    _archive(actor, review.patient, utcnow(), "patient_review.ignore", {})
    _audit("patient_review.ignore", actor, review, review.patient_id)
    db.session.commit()
    return review
