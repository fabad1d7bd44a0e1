"""The access domain's part of merging two patient records (app.patients.merge): the duplicate's linked
memberships move to the record that stays, and back when the merge is undone.

A person holds one linked membership per provider (a unique index). Where the survivor already holds one of the
same provider, the duplicate's stays where it is (with the archived duplicate, where the desk still finds it and
staff can unlink it), so a merge never fails on that rule or decides between two member ids by itself."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.access.models import Membership
from app.patients.merge import MergeMove
from app.patients.unmerge import return_rows
from app.platform.extensions import db

KIND = "memberships"
LABEL = _l("Memberships")


def move_memberships(survivor, duplicate, apply):
    """The merge step: the duplicate's linked memberships of providers the survivor holds none of (with ``apply``,
    moved to the survivor)."""
    held = select(Membership.provider).where(Membership.patient_id == survivor.id, Membership.unlinked_at.is_(None))
    ids = list(db.session.scalars(
        select(Membership.id).where(Membership.practice_id == duplicate.practice_id,
                                    Membership.patient_id == duplicate.id, Membership.unlinked_at.is_(None),
                                    Membership.provider.not_in(held))
        .order_by(Membership.id)))
    if apply and ids:
        db.session.execute(update(Membership).where(Membership.id.in_(ids)).values(patient_id=survivor.id)
                           .execution_options(synchronize_session=False))
    return [MergeMove(KIND, LABEL, ids)]


def return_memberships(survivor, duplicate, moved, apply):
    """The reverse step: the memberships that moved, back to the duplicate where still the survivor's."""
    return [return_rows(Membership, KIND, LABEL, survivor, duplicate, moved, apply)]
