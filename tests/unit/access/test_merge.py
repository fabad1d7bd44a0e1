"""Merging two patient records moves the duplicate's linked memberships (app.access.merge), and undoing the merge
gives them back; a provider the survivor already holds keeps its own membership."""

from sqlalchemy import select

from app.access.models import Membership
from app.patients.merge import merge_patients, plan_merge
from app.patients.unmerge import unmerge_patients
from app.platform.database import utcnow
from app.platform.extensions import db
from app.platform.security.actor import Actor


def _membership(patient, provider, external_id, unlinked=False):
    row = Membership(practice_id=patient.practice_id, provider=provider, external_id=external_id,
                     patient_id=patient.id, unlinked_at=utcnow() if unlinked else None)
    db.session.add(row)
    return row


def _owners():
    return dict(db.session.execute(select(Membership.external_id, Membership.patient_id)).all())


def test_memberships_move_with_the_merge_and_back_with_its_undo(db, make_user, make_patient):
    admin = make_user(role="admin")
    survivor = make_patient(first_name="Lena", last_name="Becker")
    duplicate = make_patient(first_name="Lena", last_name="Becker")
    _membership(survivor, "fitpass", "FP-SURVIVOR")
    _membership(duplicate, "fitpass", "FP-DUPLICATE")  # the survivor holds Fitpass already: stays
    _membership(duplicate, "wellhub", "1234567890123")
    _membership(duplicate, "friction", "F-OLD", unlinked=True)  # unlinked: not a membership any more
    db.session.commit()
    survivor_id, duplicate_id = survivor.id, duplicate.id

    [preview] = [move for move in plan_merge(survivor, duplicate).moves if move.kind == "memberships"]
    assert len(preview.ids) == 1
    merge_patients(Actor(admin), survivor, duplicate)
    assert _owners() == {"FP-SURVIVOR": survivor_id, "FP-DUPLICATE": duplicate_id,
                         "1234567890123": survivor_id, "F-OLD": duplicate_id}

    unmerge_patients(Actor(admin), db.session.get(type(duplicate), duplicate_id))
    assert _owners() == {"FP-SURVIVOR": survivor_id, "FP-DUPLICATE": duplicate_id,
                         "1234567890123": duplicate_id, "F-OLD": duplicate_id}
