"""Undoing a merge of two records (admins, permission ``patients.merge``), from the audit trail alone: the latest
``patient.merge`` entry of the merged record (the *duplicate*) names every row that moved to the record that stayed
(the *survivor*), the booking id that moved, the fields that were filled and whether the duplicate was archived
before.

What goes back: each moved row that still belongs to the survivor (a row deleted since, or moved on to another
record, is left where it is and listed), the booking-tool link if the survivor still holds it, the records merged
into the duplicate earlier, and whatever other domains reverse through the ``reverse`` step they gave
``register_merge_step``. A field filled from the duplicate is emptied on the survivor only while the survivor still
holds exactly the duplicate's value (an edit since is kept and listed). The duplicate is un-archived (unless it was
archived before the merge) and no longer marked ``merged_into_id``. Both records get a ``patient.unmerge`` entry
naming what went back and what could not.

Two admins undoing the same merge at once give one undo: the duplicate is released by a conditional UPDATE
(``merged_into_id`` still the survivor) before anything else is written, which the second attempt finds already
done (PostgreSQL: after waiting for the row locks; SQLite: after waiting for the single write lock).
"""

from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.patients.merge import UNMERGE_STEPS, lock_pair
from app.patients.models import Patient, PatientAccessLink
from app.platform.audit.labels import meta_label
from app.platform.audit.models import AuditEntry
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db


@dataclass(frozen=True)
class UnmergeMove:
    """Rows of one kind that moved in the merge: ``returned`` went (or would go) back to the duplicate, ``left``
    no longer belong to the survivor and stay where they are."""

    kind: str
    label: str
    returned: list
    left: list


def _return(model, column, kind, label, survivor, duplicate, moved, apply):
    """The UnmergeMove of ``model``'s rows named under ``kind`` in ``moved`` whose ``column`` still names the
    survivor; with ``apply`` exactly those go back to the duplicate (one UPDATE … RETURNING, so the rows reported
    are the rows changed)."""
    ids = list(moved.get(kind, ()))
    if not ids:
        return UnmergeMove(kind, label, [], [])
    still = (model.practice_id == duplicate.practice_id, column == survivor.id, model.id.in_(ids))
    if apply:
        returned = db.session.scalars(update(model).where(*still).values({column.key: duplicate.id})
                                      .returning(model.id).execution_options(synchronize_session=False))
    else:
        returned = db.session.scalars(select(model.id).where(*still))
    returned = sorted(returned)
    back = set(returned)
    return UnmergeMove(kind, label, returned, [row_id for row_id in ids if row_id not in back])


def return_rows(model, kind, label, survivor, duplicate, moved, apply):
    """The building block of a reverse merge step: ``model``'s rows that moved under ``kind`` and still have the
    survivor as ``patient_id`` (with ``apply``, given back to the duplicate)."""
    return _return(model, model.patient_id, kind, label, survivor, duplicate, moved, apply)


def _own_reverse_step(survivor, duplicate, moved, apply):
    """The patients domain's reverse step: the "Meine Termine" links and the records merged into the duplicate
    earlier (those that still point at the survivor)."""
    return [return_rows(PatientAccessLink, "access_links", _l("“Meine Termine” links"), survivor, duplicate, moved,
                        apply),
            _return(Patient, Patient.merged_into_id, "merged_records", _l("Records merged earlier"), survivor,
                    duplicate, moved, apply)]


@dataclass
class UnmergePlan:
    """What undoing the merge of ``duplicate`` into ``survivor`` does (or did): the rows per kind, the booking id
    that goes back (``booking_left``: the one that cannot), the fields emptied on the survivor and those kept
    because they were changed since, and the problems that forbid it."""

    duplicate: Patient
    survivor: Patient | None = None
    moves: list = field(default_factory=list)
    booking_system_id: str | None = None
    booking_left: str | None = None
    emptied: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    @property
    def left(self):
        """True when anything stays with the survivor."""
        return bool(self.booking_left or self.kept or any(move.left for move in self.moves))


def merge_entry(duplicate):
    """The latest ``patient.merge`` audit entry that merged ``duplicate`` (found through the duplicate's own
    ``patient.merged`` entries, which name the survivor); None when there is none."""
    survivor_ids = db.session.scalars(
        select(AuditEntry.meta).where(AuditEntry.practice_id == duplicate.practice_id,
                                      AuditEntry.patient_id == duplicate.id, AuditEntry.action == "patient.merged")
        .order_by(AuditEntry.id.desc()).limit(1))
    survivor_id = next((meta.get("survivor_id") for meta in survivor_ids), None)
    if survivor_id is None:
        return None
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.practice_id == duplicate.practice_id, AuditEntry.patient_id == survivor_id,
                                 AuditEntry.action == "patient.merge").order_by(AuditEntry.id.desc()))
    return next((entry for entry in entries if entry.meta.get("duplicate_id") == duplicate.id), None)


def _survivor_or_problems(duplicate, entry):
    """The record the duplicate was merged into, or the reasons the merge cannot be undone."""
    if duplicate.merged_into_id is None:
        return None, [_("%(name)s (no. %(id)d) is not merged into another record.", name=duplicate.full_name,
                        id=duplicate.id)]
    if entry is None:
        return None, [_("The audit log holds no merge of this record, so it cannot be undone here.")]
    if duplicate.merged_into_id != entry.patient_id:
        return None, [_("The record this one was merged into (no. %(id)d) has since been merged into record no. "
                        "%(other)d. Please undo that merge first.", id=entry.patient_id,
                        other=duplicate.merged_into_id)]
    survivor = db.session.scalar(select(Patient).where(Patient.practice_id == duplicate.practice_id,
                                                       Patient.id == entry.patient_id))
    if survivor is None:
        return None, [_("The audit log holds no merge of this record, so it cannot be undone here.")]
    return survivor, []


def _plan(survivor, duplicate, meta, apply):
    """Plan (and with ``apply``, carry out) the returns of rows; fields and the booking link are the caller's."""
    moved = meta.get("moved", {})
    steps = [_own_reverse_step, *current_app.extensions.get(UNMERGE_STEPS, ())]
    moves = [move for step in steps for move in step(survivor, duplicate, moved, apply)]
    known = {move.kind for move in moves}
    moves += [UnmergeMove(kind, meta_label(kind), [], list(ids)) for kind, ids in moved.items() if kind not in known]
    plan = UnmergePlan(duplicate, survivor, [move for move in moves if move.returned or move.left])
    booking = meta.get("booking_system_id")
    if booking and survivor.booking_system_id == booking and not duplicate.booking_system_id:
        plan.booking_system_id = booking
    elif booking:
        plan.booking_left = booking
    for name in meta.get("filled", ()):
        value = getattr(survivor, name)
        (plan.emptied if value not in (None, "") and value == getattr(duplicate, name) else plan.kept).append(name)
    return plan


def plan_unmerge(duplicate):
    """The preview of undoing the merge of ``duplicate`` (already scoped to the user); writes nothing."""
    entry = merge_entry(duplicate)
    survivor, problems = _survivor_or_problems(duplicate, entry)
    if problems:
        return UnmergePlan(duplicate, problems=problems)
    return _plan(survivor, duplicate, entry.meta, apply=False)


def _release(survivor, duplicate, meta, now):
    """Take the merged mark off the duplicate (and un-archive it, unless it was archived before the merge), only
    if it still points at the survivor: the conditional UPDATE that decides between two undos at once."""
    values = {"merged_into_id": None, "updated_at": now}
    if not meta.get("archived_before"):
        values["archived_at"] = None
    result = db.session.execute(
        update(Patient).where(Patient.id == duplicate.id, Patient.practice_id == survivor.practice_id,
                              Patient.merged_into_id == survivor.id)
        .values(values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise ServiceError(_("This merge has just been undone or changed by someone else. Please check the records "
                             "again."), code="conflict")


def _give_back_fields(plan):
    """Empty the filled fields the survivor still holds unchanged, and move the booking link back."""
    survivor, duplicate = plan.survivor, plan.duplicate
    for name in plan.emptied:
        setattr(survivor, name, None)
    if "email" in plan.emptied:
        survivor.email_normalized = None
    if plan.booking_system_id:
        booking_email = survivor.booking_email
        survivor.booking_system_id = survivor.booking_email = None
        db.session.flush()  # the booking id is unique per practice: off the survivor before it is on the duplicate
        duplicate.booking_system_id, duplicate.booking_email = plan.booking_system_id, booking_email
    survivor.refresh_search_text()
    duplicate.refresh_search_text()


def _audit_meta(plan):
    """What went back and what could not, for both ``patient.unmerge`` entries (empty parts left out, so the
    Verlauf shows only what happened)."""
    meta = {"returned": {move.kind: move.returned for move in plan.moves if move.returned},
            "left": {move.kind: move.left for move in plan.moves if move.left},
            "emptied": plan.emptied, "kept": plan.kept, "booking_system_id": plan.booking_system_id,
            "booking_left": plan.booking_left}
    return {key: value for key, value in meta.items() if value}


def unmerge_patients(actor, duplicate):
    """Undo the latest merge of ``duplicate`` (already scoped to the actor) in one transaction, audited on both
    records. Raises ServiceError when it cannot be undone or someone else undid it meanwhile; returns the
    UnmergePlan of what went back and what could not."""
    entry = merge_entry(duplicate)
    survivor, problems = _survivor_or_problems(duplicate, entry)
    if problems:
        db.session.rollback()
        raise ServiceError(problems[0], code="conflict")
    survivor, duplicate = lock_pair(survivor.id, duplicate.id)
    _release(survivor, duplicate, entry.meta, utcnow())
    survivor, duplicate = lock_pair(survivor.id, duplicate.id)  # fresh, now that this undo holds the records
    plan = _plan(survivor, duplicate, entry.meta, apply=True)
    _give_back_fields(plan)
    meta = _audit_meta(plan)
    record("patient.unmerge", actor, object_type="patient", object_id=duplicate.id, patient_id=duplicate.id,
           meta={"survivor_id": survivor.id, **meta})
    record("patient.unmerge", actor, object_type="patient", object_id=survivor.id, patient_id=survivor.id,
           meta={"duplicate_id": duplicate.id, **meta})
    db.session.commit()
    return plan


def latest_unmerge(patient):
    """What the latest undo of a merge gave back to ``patient`` (the duplicate), read from its ``patient.unmerge``
    entry as an UnmergePlan; None when there is none (the entries of undos where it was the survivor name a
    ``duplicate_id`` instead)."""
    metas = db.session.scalars(
        select(AuditEntry.meta).where(AuditEntry.practice_id == patient.practice_id,
                                      AuditEntry.patient_id == patient.id, AuditEntry.action == "patient.unmerge")
        .order_by(AuditEntry.id.desc()))
    meta = next((meta for meta in metas if "survivor_id" in meta), None)
    if meta is None:
        return None
    returned, left = meta.get("returned", {}), meta.get("left", {})
    moves = [UnmergeMove(kind, meta_label(kind), returned.get(kind, []), left.get(kind, []))
             for kind in dict.fromkeys([*returned, *left])]
    survivor = db.session.scalar(select(Patient).where(Patient.practice_id == patient.practice_id,
                                                       Patient.id == meta.get("survivor_id")))
    return UnmergePlan(patient, survivor, moves, meta.get("booking_system_id"), meta.get("booking_left"),
                       meta.get("emptied", []), meta.get("kept", []))
