"""Merging two records of the same person (admins, permission ``patients.merge``): the admin picks the record that
stays (the *survivor*) and the duplicate, sees what would move, and confirms.

What moves to the survivor: the duplicate's "Meine Termine" links, the records merged into the duplicate earlier,
its booking-tool link (when the survivor has none), the fields empty on the survivor, and whatever other domains
registered with ``register_merge_step`` (the appointments domain: appointments and calls; later the access
domain: memberships), so patients never imports the domains above it. The history follows by itself: the
survivor's Verlauf shows the entries of every record merged into it. The duplicate is archived and marked
``merged_into_id``; nothing is deleted.

The audit entry ``patient.merge`` on the survivor names every moved row by id, the booking id that moved, the
fields that were filled and whether the duplicate was archived already, so a merge can be reversed from the audit
trail alone (app.patients.unmerge, with each domain's reverse step given to ``register_merge_step``).

Two admins merging the same records at once give exactly one merge: both rows are locked in id order (PostgreSQL)
and the duplicate is marked with a conditional UPDATE (``merged_into_id IS NULL``), which the second attempt finds
already done (on SQLite that UPDATE also takes the single write lock, so the second waits and then finds it).
"""

from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from app.patients.models import Patient, PatientAccessLink
from app.platform.audit.history import VIEW_ACTIONS, HistoryItem
from app.platform.audit.labels import action_label, meta_items
from app.platform.audit.models import AuditEntry
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db

MERGE_STEPS = "praxis.patient_merge_steps"
UNMERGE_STEPS = "praxis.patient_unmerge_steps"
FILLABLE = ("email", "phone", "birth_date", "therapist_id")  # taken from the duplicate where the survivor has none


@dataclass(frozen=True)
class MergeMove:
    """Rows of one kind that name the duplicate and move to the survivor: ``kind`` is the key in the audit entry,
    ``label`` what the preview calls them, ``ids`` their primary keys."""

    kind: str
    label: str
    ids: list


def register_merge_step(app, step, reverse=None):
    """Add ``step(survivor, duplicate, apply)``: the rows of a domain that belong to ``duplicate``, as a list of
    MergeMove; with ``apply`` the step also moves them to ``survivor`` (in the caller's transaction). ``reverse(
    survivor, duplicate, moved, apply)`` undoes it from the audit entry's ``moved`` ids (app.patients.unmerge,
    built with ``return_rows``); rows of a step without one stay with the survivor when a merge is undone."""
    app.extensions.setdefault(MERGE_STEPS, []).append(step)
    if reverse is not None:
        app.extensions.setdefault(UNMERGE_STEPS, []).append(reverse)


def move_rows(model, kind, label, survivor, duplicate, apply):
    """The MergeMove of ``model``'s rows whose ``patient_id`` is the duplicate (one query), and with ``apply``
    their move to the survivor (one UPDATE of exactly those ids): the building block of a merge step."""
    ids = list(db.session.scalars(select(model.id).where(model.practice_id == duplicate.practice_id,
                                                         model.patient_id == duplicate.id).order_by(model.id)))
    if apply and ids:
        db.session.execute(update(model).where(model.id.in_(ids)).values(patient_id=survivor.id)
                           .execution_options(synchronize_session=False))
    return MergeMove(kind, label, ids)


def _merged_records(survivor, duplicate, apply):
    """Records merged into the duplicate earlier now point at the survivor (one level, so histories follow)."""
    ids = list(db.session.scalars(select(Patient.id).where(Patient.practice_id == duplicate.practice_id,
                                                           Patient.merged_into_id == duplicate.id)))
    if apply and ids:
        db.session.execute(update(Patient).where(Patient.id.in_(ids)).values(merged_into_id=survivor.id)
                           .execution_options(synchronize_session=False))
    return MergeMove("merged_records", _l("Records merged earlier"), ids)


def _own_step(survivor, duplicate, apply):
    """The patients domain's own step: the "Meine Termine" links and the records merged earlier."""
    return [move_rows(PatientAccessLink, "access_links", _l("“Meine Termine” links"), survivor, duplicate, apply),
            _merged_records(survivor, duplicate, apply)]


@dataclass
class MergePlan:
    """What merging ``duplicate`` into ``survivor`` does: the rows that move, the booking id that moves, the
    fields filled on the survivor, the history entries that follow, and the problems that forbid it."""

    survivor: Patient
    duplicate: Patient
    moves: list = field(default_factory=list)
    booking_system_id: str | None = None
    filled: list = field(default_factory=list)
    history: int = 0
    problems: list = field(default_factory=list)


def _problems(survivor, duplicate):
    """Why these two records cannot be merged (empty: they can)."""
    if survivor.id == duplicate.id:
        return [_("Please choose two different records.")]
    problems = []
    if duplicate.merged_into_id is not None:
        problems.append(_("%(name)s (no. %(id)d) has already been merged into another record.",
                          name=duplicate.full_name, id=duplicate.id))
    if survivor.merged_into_id is not None:
        problems.append(_("%(name)s (no. %(id)d) has already been merged into another record.",
                          name=survivor.full_name, id=survivor.id))
    elif survivor.archived_at is not None:
        problems.append(_("The record that stays, %(name)s (no. %(id)d), is archived. Please restore it first.",
                          name=survivor.full_name, id=survivor.id))
    if survivor.booking_system_id and duplicate.booking_system_id:
        problems.append(_("Both records are linked to the booking tool (patient IDs %(one)s and %(other)s). Please "
                          "remove one of the links first.", one=survivor.booking_system_id,
                          other=duplicate.booking_system_id))
    return problems


def _plan(survivor, duplicate, apply):
    """Plan (and with ``apply``, carry out) the moves; the survivor's fields are filled by the caller."""
    steps = [_own_step, *current_app.extensions.get(MERGE_STEPS, ())]
    moves = [move for step in steps for move in step(survivor, duplicate, apply)]
    filled = [name for name in FILLABLE
              if getattr(survivor, name) in (None, "") and getattr(duplicate, name) not in (None, "")]
    history = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.practice_id == duplicate.practice_id, AuditEntry.patient_id == duplicate.id))
    return MergePlan(survivor, duplicate, moves, duplicate.booking_system_id if not survivor.booking_system_id
                     else None, filled, history)


def plan_merge(survivor, duplicate):
    """The preview of merging ``duplicate`` into ``survivor`` (both already scoped to the user); writes nothing."""
    problems = _problems(survivor, duplicate)
    if problems:
        return MergePlan(survivor, duplicate, problems=problems)
    return _plan(survivor, duplicate, apply=False)


def lock_pair(survivor_id, duplicate_id):
    """Both records, read fresh and (PostgreSQL) locked in id order, so two merges (or undos) of the same pair
    queue up instead of deadlocking."""
    rows = db.session.scalars(
        select(Patient).where(Patient.id.in_((survivor_id, duplicate_id))).order_by(Patient.id)
        .with_for_update().execution_options(populate_existing=True)
    ).all()
    by_id = {patient.id: patient for patient in rows}
    return by_id[survivor_id], by_id[duplicate_id]


def _mark_merged(survivor, duplicate, now):
    """Archive the duplicate as merged into the survivor, only if no one did it first (a conditional UPDATE: the
    database decides between two merges at once), and take its booking link off it."""
    result = db.session.execute(
        update(Patient)
        .where(Patient.id == duplicate.id, Patient.practice_id == survivor.practice_id,
               Patient.merged_into_id.is_(None))
        .values(merged_into_id=survivor.id, archived_at=func.coalesce(Patient.archived_at, now),
                booking_system_id=None, booking_email=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    untouched = db.session.execute(
        update(Patient)
        .where(Patient.id == survivor.id, Patient.merged_into_id.is_(None), Patient.archived_at.is_(None))
        .values(updated_at=now).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1 or untouched.rowcount != 1:
        db.session.rollback()
        raise ServiceError(_("These records have just been merged or changed by someone else. Please check them "
                             "again."), code="conflict")


def merge_patients(actor, survivor, duplicate):
    """Merge ``duplicate`` into ``survivor`` (both already scoped to the actor) in one transaction, audited with
    everything needed to reverse it. Raises ServiceError when the pair cannot be merged or someone else merged
    it meanwhile; returns the survivor."""
    survivor_id, duplicate_id = survivor.id, duplicate.id
    if survivor_id == duplicate_id:
        raise ServiceError(_("Please choose two different records."))
    survivor, duplicate = lock_pair(survivor_id, duplicate_id)
    problems = _problems(survivor, duplicate)
    if problems:
        db.session.rollback()
        raise ServiceError(problems[0], code="conflict")
    now = utcnow()
    booking = (duplicate.booking_system_id, duplicate.booking_email)
    archived_before = duplicate.archived_at is not None
    _mark_merged(survivor, duplicate, now)
    plan = _plan(survivor, duplicate, apply=True)
    for name in plan.filled:
        setattr(survivor, name, getattr(duplicate, name))
    if "email" in plan.filled:
        survivor.email_normalized = survivor.email.lower()
    if plan.booking_system_id:
        survivor.booking_system_id, survivor.booking_email = booking
    survivor.refresh_search_text()
    meta = {"duplicate_id": duplicate.id, "moved": {move.kind: move.ids for move in plan.moves if move.ids},
            "filled": plan.filled}
    if plan.booking_system_id:
        meta["booking_system_id"] = plan.booking_system_id
    if archived_before:
        meta["archived_before"] = True  # an undo leaves it archived
    record("patient.merge", actor, object_type="patient", object_id=survivor.id, patient_id=survivor.id, meta=meta)
    record("patient.merged", actor, object_type="patient", object_id=duplicate.id, patient_id=duplicate.id,
           meta={"survivor_id": survivor.id})
    db.session.commit()
    db.session.expire(duplicate)
    return survivor


def merged_records_history(patient, limit):
    """The history source (app.platform.audit.history) that keeps a merged record's history on the survivor's
    Verlauf: the audit entries of the records merged into ``patient`` (record openings left out), one query,
    each line naming the record it came from."""
    merged = select(Patient.id).where(Patient.practice_id == patient.practice_id,
                                      Patient.merged_into_id == patient.id)
    entries = db.session.scalars(
        select(AuditEntry).options(joinedload(AuditEntry.user))
        .where(AuditEntry.practice_id == patient.practice_id, AuditEntry.patient_id.in_(merged),
               AuditEntry.action.not_in(VIEW_ACTIONS))
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(limit)
    )
    return [HistoryItem(entry.created_at, str(action_label(entry.action)), entry.user.name if entry.user else None,
                        [*meta_items(entry.meta), (str(_l("From merged record no.")), str(entry.patient_id))])
            for entry in entries]
