"""Merging two records of one person (issue 17, item 3): what moves to the record that stays, what the audit entry
keeps to reverse it, what forbids a merge, and that two admins merging at once give exactly one merge (real
threads on a SQLite file, or PostgreSQL through TEST_DATABASE_URL)."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from app.accounts.models import User
from app.appointments.models import Appointment, Call
from app.patients.merge import merge_patients, merged_records_history, plan_merge, register_merge_step
from app.patients.models import Patient, PatientAccessLink
from app.patients.service import archive_patient, get_patient, restore_patient
from app.platform.audit.models import AuditEntry
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.actor import Actor
from tests.helpers import at_once
from tests.hub_support import file_database


@pytest.fixture
def app_overrides(tmp_path):
    """A database file on SQLite, so each thread has its own connection as in production."""
    return file_database(tmp_path)


@pytest.fixture
def admin(make_user):
    return make_user(role="admin")


@pytest.fixture
def pair(make_patient):
    """The record that stays (with a phone only) and its duplicate (email, birth date, booking link)."""
    survivor = make_patient(first_name="Jörg", last_name="Müller", phone="+4917012345678")
    duplicate = make_patient(first_name="Jörg", last_name="Mueller", email="joerg@example.de",
                             email_normalized="joerg@example.de", birth_date=date(1970, 1, 2),
                             booking_system_id="B-77", booking_email="joerg@example.de")
    return survivor, duplicate


def _belongings(patient, admin):
    """Two appointments, a call, a "Meine Termine" link and one history entry of ``patient``; their ids."""
    start = utcnow() + timedelta(days=1)
    appointments = [Appointment(practice_id=patient.practice_id, patient_id=patient.id, source="booking",
                                external_id=f"A-{patient.id}-{n}", starts_at=start, ends_at=start + timedelta(hours=1))
                    for n in range(2)]
    call = Call(practice_id=patient.practice_id, patient_id=patient.id, external_id=f"C-{patient.id}")
    link = PatientAccessLink(practice_id=patient.practice_id, patient_id=patient.id, nonce="n" * 32,
                             expires_at=start)
    db.session.add_all([*appointments, call, link])
    record("patient.update", Actor(admin), object_type="patient", object_id=patient.id, patient_id=patient.id,
           meta={"fields": ["phone"]})
    db.session.commit()
    return {"appointments": [a.id for a in appointments], "calls": [call.id], "access_links": [link.id]}


def test_everything_moves_to_the_survivor_and_the_audit_entry_can_reverse_it(app, admin, pair):
    survivor, duplicate = pair
    moved = _belongings(duplicate, admin)
    kept = _belongings(survivor, admin)
    survivor_id, duplicate_id = survivor.id, duplicate.id

    merge_patients(Actor(admin), survivor, duplicate)

    survivor, duplicate = db.session.get(Patient, survivor_id), db.session.get(Patient, duplicate_id)
    for model, kind in ((Appointment, "appointments"), (Call, "calls"), (PatientAccessLink, "access_links")):
        owned = set(db.session.scalars(select(model.id).where(model.patient_id == survivor_id)))
        assert owned == set(moved[kind]) | set(kept[kind]), kind
    assert (duplicate.merged_into_id, duplicate.archived_at is not None) == (survivor_id, True)
    assert (duplicate.booking_system_id, survivor.booking_system_id) == (None, "B-77")
    assert (survivor.email, survivor.birth_date, survivor.phone) == ("joerg@example.de", date(1970, 1, 2),
                                                                    "+4917012345678")
    assert "joerg@example.de" in survivor.search_text
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "patient.merge"))
    assert entry.patient_id == survivor_id
    assert entry.meta == {"duplicate_id": duplicate_id, "moved": moved, "filled": ["email", "birth_date"],
                          "booking_system_id": "B-77"}
    assert db.session.scalar(select(AuditEntry.meta).where(AuditEntry.action == "patient.merged",
                                                           AuditEntry.patient_id == duplicate_id)) == {
        "survivor_id": survivor_id}


def test_the_preview_lists_the_same_moves_and_writes_nothing(app, admin, pair):
    survivor, duplicate = pair
    moved = _belongings(duplicate, admin)
    plan = plan_merge(survivor, duplicate)
    assert plan.problems == []
    assert {move.kind: move.ids for move in plan.moves} == {**moved, "merged_records": [], "memberships": []}
    assert (plan.booking_system_id, plan.filled, plan.history) == ("B-77", ["email", "birth_date"], 1)
    assert db.session.get(Patient, duplicate.id).merged_into_id is None
    assert db.session.scalar(select(Appointment.patient_id).where(Appointment.id == moved["appointments"][0])) \
        == duplicate.id


def test_the_duplicates_history_shows_on_the_survivor(app, admin, pair, english_messages):
    survivor, duplicate = pair
    _belongings(duplicate, admin)
    record("patient.view", Actor(admin), object_type="patient", object_id=duplicate.id, patient_id=duplicate.id)
    db.session.commit()
    merge_patients(Actor(admin), survivor, duplicate)
    with app.test_request_context():
        lines = merged_records_history(db.session.get(Patient, survivor.id), 50)
    # Newest first; the duplicate's record openings are left out.
    assert [line.text for line in lines] == ["Merged into another record", "Patient data changed"]
    assert ("From merged record no.", str(duplicate.id)) in lines[1].details


def test_a_chain_of_merges_keeps_one_level(app, admin, pair, make_patient):
    """A record merged into the duplicate earlier now points at the survivor, so its history follows."""
    survivor, duplicate = pair
    older = make_patient(first_name="Jörg", last_name="Müller")
    merge_patients(Actor(admin), duplicate, older)
    merge_patients(Actor(admin), survivor, db.session.get(Patient, duplicate.id))
    assert db.session.get(Patient, older.id).merged_into_id == survivor.id
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "patient.merge")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.meta["moved"]["merged_records"] == [older.id]


def test_other_domains_add_steps_through_the_registry(app, admin, pair):
    """A step registered later (memberships, say) is asked in the preview and applied in the merge."""
    calls = []

    def step(survivor, duplicate, apply):
        calls.append(apply)
        return []

    register_merge_step(app, step)
    survivor, duplicate = pair
    plan_merge(survivor, duplicate)
    merge_patients(Actor(admin), survivor, duplicate)
    assert calls == [False, True]


def test_pairs_that_cannot_be_merged_are_refused(app, admin, pair, make_patient, english_messages):
    survivor, duplicate = pair
    with pytest.raises(ServiceError, match="two different records"):
        merge_patients(Actor(admin), survivor, survivor)
    linked = make_patient(first_name="Jörg", last_name="Müller", booking_system_id="B-78")
    assert plan_merge(linked, duplicate).problems  # both linked to the booking tool
    with pytest.raises(ServiceError, match="booking tool"):
        merge_patients(Actor(admin), linked, duplicate)
    archived = make_patient(first_name="Jörg", last_name="Müller")
    archive_patient(Actor(admin), archived)
    with pytest.raises(ServiceError, match="archived"):
        merge_patients(Actor(admin), archived, survivor)
    assert db.session.get(Patient, duplicate.id).merged_into_id is None


def test_a_merged_record_is_not_restored_nor_merged_again(app, admin, pair, make_patient, english_messages):
    survivor, duplicate = pair
    merge_patients(Actor(admin), survivor, duplicate)
    merged = db.session.get(Patient, duplicate.id)
    with pytest.raises(ServiceError, match="merged into"):
        restore_patient(Actor(admin), merged)
    third = make_patient(first_name="Jörg", last_name="Müller")
    with pytest.raises(ServiceError, match="already been merged"):
        merge_patients(Actor(admin), third, merged)
    assert get_patient(admin, merged.id) is not None  # still readable (archived), for the audit trail


def _merge_in_thread(admin_id, survivor_id, duplicate_id):
    """One admin's merge from records read in their own request; "merged" or "refused"."""
    user = db.session.get(User, admin_id)
    survivor, duplicate = get_patient(user, survivor_id), get_patient(user, duplicate_id)
    try:
        merge_patients(Actor(user), survivor, duplicate)
    except ServiceError:
        return "refused"
    return "merged"


def test_two_admins_merging_the_same_pair_at_once_give_one_merge(app, admin, make_user, pair):
    survivor, duplicate = pair
    _belongings(duplicate, admin)
    survivor_id, duplicate_id = survivor.id, duplicate.id
    admins = iter([admin.id, make_user(role="admin").id])

    results = at_once(app, 2, lambda: _merge_in_thread(next(admins), survivor_id, duplicate_id))

    assert sorted(results) == ["merged", "refused"]
    assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "patient.merge")).all() == [
        "patient.merge"]
    assert db.session.scalars(select(Appointment.patient_id).distinct()).all() == [survivor_id]


def test_merging_a_into_b_and_b_into_a_at_once_merges_once(app, admin, pair):
    survivor, duplicate = pair
    survivor_id, duplicate_id, admin_id = survivor.id, duplicate.id, admin.id
    directions = iter([(survivor_id, duplicate_id), (duplicate_id, survivor_id)])

    results = at_once(app, 2, lambda: _merge_in_thread(admin_id, *next(directions)))

    assert sorted(results) == ["merged", "refused"]
    states = db.session.scalars(select(Patient.merged_into_id).where(
        Patient.id.in_((survivor_id, duplicate_id))).execution_options(populate_existing=True)).all()
    assert sorted(states, key=lambda value: value is None) in ([survivor_id, None], [duplicate_id, None])


def test_the_audit_entry_alone_is_enough_to_reverse_the_merge(app, admin, pair):
    """Undo a merge by hand from nothing but its audit entry: every moved row goes back, the duplicate returns
    with its booking link, and the filled fields are emptied again; the records are then as before."""
    survivor, duplicate = pair
    moved = _belongings(duplicate, admin)
    survivor_id, duplicate_id = survivor.id, duplicate.id
    merge_patients(Actor(admin), survivor, duplicate)

    meta = db.session.scalar(select(AuditEntry.meta).where(AuditEntry.action == "patient.merge"))
    models = {"appointments": Appointment, "calls": Call, "access_links": PatientAccessLink}
    for kind, ids in meta["moved"].items():
        db.session.execute(update(models[kind]).where(models[kind].id.in_(ids)).values(patient_id=meta[
            "duplicate_id"]))
    back = db.session.get(Patient, meta["duplicate_id"])
    kept = db.session.get(Patient, survivor_id)
    back.booking_system_id, back.booking_email = meta["booking_system_id"], kept.booking_email
    kept.booking_system_id = kept.booking_email = None
    db.session.flush()
    back.merged_into_id = back.archived_at = None
    for name in meta["filled"]:
        setattr(kept, name, None)
    db.session.commit()

    for kind, model in models.items():
        assert list(db.session.scalars(select(model.id).where(model.patient_id == duplicate_id))) == moved[kind]
    assert (back.booking_system_id, back.archived_at, kept.email, kept.birth_date) == ("B-77", None, None, None)
