"""Undoing a merge of two records (issue 17, item 3: "reversible within the audit trail's information"): everything
that moved goes back, what was changed since stays and is reported, both records are audited, and two admins
undoing at once give exactly one undo (real threads on a SQLite file, or PostgreSQL through TEST_DATABASE_URL)."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.appointments.models import Appointment, Call
from app.patients.merge import MergeMove, merge_patients, register_merge_step
from app.patients.models import Patient, PatientAccessLink
from app.patients.service import archive_patient, get_patient
from app.patients.unmerge import latest_unmerge, plan_unmerge, unmerge_patients
from app.platform.audit.models import AuditEntry
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.actor import Actor
from tests.helpers import at_once
from tests.hub_support import file_database

MODELS = {"appointments": Appointment, "calls": Call, "access_links": PatientAccessLink}


@pytest.fixture
def app_overrides(tmp_path):
    """A database file on SQLite, so each thread has its own connection as in production."""
    return file_database(tmp_path)


@pytest.fixture
def admin(make_user):
    return make_user(role="admin")


@pytest.fixture
def merged(app, admin, make_patient):
    """Jörg Müller's duplicate (email, birth date, booking link, two appointments, a call, a link) merged into the
    record that stays (a phone and an appointment of its own); (survivor id, duplicate id, the moved ids)."""
    survivor = make_patient(first_name="Jörg", last_name="Müller", phone="+4917012345678")
    duplicate = make_patient(first_name="Jörg", last_name="Mueller", email="joerg@example.de",
                             email_normalized="joerg@example.de", birth_date=date(1970, 1, 2),
                             booking_system_id="B-77", booking_email="joerg@booking.example")
    start = utcnow() + timedelta(days=1)
    rows = {"appointments": [Appointment(practice_id=duplicate.practice_id, patient_id=duplicate.id,
                                         source="booking", external_id=f"A-{n}", starts_at=start,
                                         ends_at=start + timedelta(hours=1)) for n in range(2)],
            "calls": [Call(practice_id=duplicate.practice_id, patient_id=duplicate.id, external_id="C-1")],
            "access_links": [PatientAccessLink(practice_id=duplicate.practice_id, patient_id=duplicate.id,
                                               nonce="n" * 32, expires_at=start)]}
    own = Appointment(practice_id=survivor.practice_id, patient_id=survivor.id, source="booking",
                      external_id="A-own", starts_at=start, ends_at=start + timedelta(hours=1))
    db.session.add_all([own, *(row for kind in rows.values() for row in kind)])
    db.session.commit()
    moved = {kind: [row.id for row in kind_rows] for kind, kind_rows in rows.items()}
    survivor_id, duplicate_id = survivor.id, duplicate.id
    merge_patients(Actor(admin), survivor, duplicate)
    return survivor_id, duplicate_id, moved


def _owned(model, patient_id):
    """Ids of ``model``'s rows of the patient, fresh from the database."""
    return sorted(db.session.scalars(select(model.id).where(model.patient_id == patient_id)))


def _fresh(patient_id):
    """The patient as stored now."""
    return db.session.scalar(select(Patient).where(Patient.id == patient_id)
                             .execution_options(populate_existing=True))


def test_everything_goes_back_and_both_records_are_audited(app, admin, merged):
    survivor_id, duplicate_id, moved = merged

    plan = unmerge_patients(Actor(admin), _fresh(duplicate_id))

    for kind, model in MODELS.items():
        assert _owned(model, duplicate_id) == moved[kind], kind
    assert len(_owned(Appointment, survivor_id)) == 1  # the survivor's own appointment stays
    survivor, duplicate = _fresh(survivor_id), _fresh(duplicate_id)
    assert (duplicate.merged_into_id, duplicate.archived_at) == (None, None)
    assert (duplicate.booking_system_id, duplicate.booking_email) == ("B-77", "joerg@booking.example")
    assert (survivor.booking_system_id, survivor.booking_email) == (None, None)
    assert (survivor.email, survivor.email_normalized, survivor.birth_date, survivor.phone) == (
        None, None, None, "+4917012345678")
    assert "example" not in survivor.search_text and "b-77" in duplicate.search_text.lower()
    assert not plan.left
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "patient.unmerge")
                                 .order_by(AuditEntry.patient_id)).all()
    assert [entry.patient_id for entry in entries] == sorted([survivor_id, duplicate_id])
    expected = {"returned": moved, "emptied": ["email", "birth_date"], "booking_system_id": "B-77"}
    by_patient = {entry.patient_id: entry.meta for entry in entries}
    assert by_patient[duplicate_id] == {"survivor_id": survivor_id, **expected}
    assert by_patient[survivor_id] == {"duplicate_id": duplicate_id, **expected}


def test_the_preview_shows_the_same_and_writes_nothing(app, merged):
    survivor_id, duplicate_id, moved = merged
    plan = plan_unmerge(_fresh(duplicate_id))
    assert plan.problems == [] and plan.survivor.id == survivor_id
    assert {move.kind: move.returned for move in plan.moves} == moved
    assert (plan.booking_system_id, plan.emptied, plan.kept) == ("B-77", ["email", "birth_date"], [])
    assert _fresh(duplicate_id).merged_into_id == survivor_id
    assert _owned(Call, duplicate_id) == []


def test_rows_and_fields_changed_since_stay_with_the_survivor_and_are_reported(app, admin, merged, make_patient):
    survivor_id, duplicate_id, moved = merged
    third = make_patient(first_name="Jana", last_name="Schmidt")
    call = db.session.get(Call, moved["calls"][0])
    call.patient_id = third.id  # assigned to someone else since
    db.session.delete(db.session.get(Appointment, moved["appointments"][0]))  # gone from the booking tool
    survivor = _fresh(survivor_id)
    survivor.email = "joerg.neu@example.de"  # corrected by the front desk since
    db.session.commit()

    plan = unmerge_patients(Actor(admin), _fresh(duplicate_id))

    assert _owned(Appointment, duplicate_id) == moved["appointments"][1:]
    assert _owned(Call, third.id) == moved["calls"]
    left = {move.kind: move.left for move in plan.moves if move.left}
    assert left == {"appointments": moved["appointments"][:1], "calls": moved["calls"]}
    assert (plan.emptied, plan.kept, plan.left) == (["birth_date"], ["email"], True)
    survivor = _fresh(survivor_id)
    assert (survivor.email, survivor.birth_date) == ("joerg.neu@example.de", None)
    meta = db.session.scalar(select(AuditEntry.meta).where(AuditEntry.action == "patient.unmerge",
                                                           AuditEntry.patient_id == duplicate_id))
    assert meta["left"] == left and meta["kept"] == ["email"]
    outcome = latest_unmerge(_fresh(duplicate_id))  # what the page shows afterwards, from the audit entry
    assert {move.kind: (move.returned, move.left) for move in outcome.moves} == {
        "appointments": (moved["appointments"][1:], moved["appointments"][:1]), "calls": ([], moved["calls"]),
        "access_links": (moved["access_links"], [])}
    assert (outcome.survivor.id, outcome.kept, outcome.emptied) == (survivor_id, ["email"], ["birth_date"])


def test_a_booking_link_changed_since_stays(app, admin, merged):
    survivor_id, duplicate_id, _moved = merged
    survivor = _fresh(survivor_id)
    survivor.booking_system_id = "B-99"
    db.session.commit()
    plan = unmerge_patients(Actor(admin), _fresh(duplicate_id))
    assert (plan.booking_system_id, plan.booking_left) == (None, "B-77")
    assert (_fresh(survivor_id).booking_system_id, _fresh(duplicate_id).booking_system_id) == ("B-99", None)


def test_a_record_archived_before_the_merge_stays_archived(app, admin, make_patient):
    survivor = make_patient(first_name="Jörg", last_name="Müller")
    duplicate = make_patient(first_name="Jörg", last_name="Müller")
    archive_patient(Actor(admin), duplicate)
    merge_patients(Actor(admin), survivor, _fresh(duplicate.id))
    unmerge_patients(Actor(admin), _fresh(duplicate.id))
    back = _fresh(duplicate.id)
    assert back.merged_into_id is None and back.archived_at is not None


def test_records_merged_into_the_duplicate_earlier_go_back_to_it(app, admin, make_patient):
    survivor, duplicate, older = (make_patient(first_name="Jörg", last_name="Müller") for _ in range(3))
    merge_patients(Actor(admin), duplicate, older)
    merge_patients(Actor(admin), survivor, _fresh(duplicate.id))
    assert _fresh(older.id).merged_into_id == survivor.id
    unmerge_patients(Actor(admin), _fresh(duplicate.id))
    assert _fresh(older.id).merged_into_id == duplicate.id
    assert _fresh(duplicate.id).merged_into_id is None


def test_a_merge_that_moved_on_or_never_was_cannot_be_undone(app, admin, merged, make_patient, english_messages):
    survivor_id, duplicate_id, _moved = merged
    with pytest.raises(ServiceError, match="not merged into another record"):
        unmerge_patients(Actor(admin), _fresh(survivor_id))
    third = make_patient(first_name="Jörg", last_name="Müller")
    merge_patients(Actor(admin), third, _fresh(survivor_id))  # the survivor itself merged on: one level follows
    assert "undo that merge first" in plan_unmerge(_fresh(duplicate_id)).problems[0]
    with pytest.raises(ServiceError, match="undo that merge first"):
        unmerge_patients(Actor(admin), _fresh(duplicate_id))
    unmerge_patients(Actor(admin), _fresh(survivor_id))  # undone in the right order, both work
    unmerge_patients(Actor(admin), _fresh(duplicate_id))
    assert _fresh(duplicate_id).merged_into_id is None


def test_rows_of_a_step_without_a_reverse_stay_and_are_reported(app, admin, make_patient):
    """A domain that registered no reverse step: its rows are listed as staying with the survivor."""
    register_merge_step(app, lambda survivor, duplicate, apply: [MergeMove("memberships", "Memberships", [4711])])
    survivor, duplicate = (make_patient(first_name="Jörg", last_name="Müller") for _ in range(2))
    merge_patients(Actor(admin), survivor, duplicate)
    plan = unmerge_patients(Actor(admin), _fresh(duplicate.id))
    assert [(move.kind, move.returned, move.left) for move in plan.moves] == [("memberships", [], [4711])]
    assert plan.left and _fresh(duplicate.id).merged_into_id is None


def _undo_in_thread(admin_id, duplicate_id):
    """One admin's undo from the record read in their own request; "undone" or "refused"."""
    user = db.session.get(User, admin_id)
    try:
        unmerge_patients(Actor(user), get_patient(user, duplicate_id))
    except ServiceError:
        return "refused"
    return "undone"


def test_two_admins_undoing_at_once_give_one_undo(app, admin, make_user, merged):
    survivor_id, duplicate_id, moved = merged
    admins = iter([admin.id, make_user(role="admin").id])

    results = at_once(app, 2, lambda: _undo_in_thread(next(admins), duplicate_id))

    assert sorted(results) == ["refused", "undone"]
    assert db.session.scalars(select(AuditEntry.patient_id).where(AuditEntry.action == "patient.unmerge")
                              .order_by(AuditEntry.patient_id)).all() == sorted([survivor_id, duplicate_id])
    assert _owned(Appointment, duplicate_id) == moved["appointments"]
    assert _fresh(duplicate_id).merged_into_id is None
