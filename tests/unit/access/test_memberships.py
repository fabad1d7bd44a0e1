"""Memberships: an external id belongs to one person and a person has one membership per provider, enforced by the
database (also when two desks link at the same moment); the loser is told who holds it; linking is audited."""

import queue

import pytest
from sqlalchemy import func, select

from app.access.checkins import check_in
from app.access.memberships import (
    MembershipTaken,
    link_from_checkin,
    link_membership,
    patient_memberships,
    unlink_membership,
)
from app.access.models import Membership
from app.platform.errors import ServiceError
from app.platform.security.actor import Actor
from config import TestConfig
from tests.helpers import at_once, audit_actions


@pytest.fixture
def app_overrides(tmp_path):
    """Threads need their own connections to one database: a file on SQLite (PostgreSQL when configured)."""
    if TestConfig.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
        return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/memberships.sqlite3"}
    return {}


def test_link_a_patient_and_a_course_member(db, practice, desk, make_patient):
    patient = make_patient(first_name="Erika", last_name="Muster")
    first = link_membership(desk, practice.id, "fitpass", "FP-7Q2K9D4M", patient_id=patient.id)
    second = link_membership(desk, practice.id, "fitpass", "FP-3H8W1C6X", member_name="Kurs Gast")
    assert (first.person_name, second.person_name) == ("Erika Muster", "Kurs Gast")
    assert audit_actions(db) == ["access.membership.link", "access.membership.link"]


def test_an_external_id_belongs_to_one_person(db, practice, desk, make_patient, english_messages):
    holder = make_patient(first_name="Erika", last_name="Muster")
    link_membership(desk, practice.id, "fitpass", "FP-7Q2K9D4M", patient_id=holder.id)
    with pytest.raises(MembershipTaken) as taken:
        link_membership(desk, practice.id, "fitpass", "FP-7Q2K9D4M", patient_id=make_patient().id)
    assert "Erika Muster" in str(taken.value.message)


def test_a_person_has_one_membership_per_provider(db, practice, desk, make_patient, english_messages):
    patient = make_patient()
    link_membership(desk, practice.id, "fitpass", "FP-7Q2K9D4M", patient_id=patient.id)
    with pytest.raises(MembershipTaken):
        link_membership(desk, practice.id, "fitpass", "FP-3H8W1C6X", patient_id=patient.id)
    link_membership(desk, practice.id, "wellhub", "1234567890123", patient_id=patient.id)  # another provider: fine


def test_the_loser_learns_the_name_only_when_allowed_to_see_the_patient(db, practice, make_user, make_patient,
                                                                      english_messages):
    therapist = make_user(role="therapist")
    holder = make_patient(first_name="Erika", last_name="Muster")
    link_membership(Actor(make_user(role="admin")), practice.id, "fitpass", "FP-7Q2K9D4M", patient_id=holder.id)
    own = make_patient(therapist_id=therapist.id)
    with pytest.raises(MembershipTaken) as taken:
        link_membership(Actor(therapist), practice.id, "fitpass", "FP-7Q2K9D4M", patient_id=own.id)
    assert "Erika" not in str(taken.value.message) and "another patient" in str(taken.value.message)


def test_another_practices_patient_cannot_be_linked(db, practice, other_practice, desk, make_patient):
    stranger = make_patient(practice=other_practice)
    with pytest.raises(ServiceError):
        link_membership(desk, practice.id, "fitpass", "FP-7Q2K9D4M", patient_id=stranger.id)


@pytest.mark.parametrize("provider, external_id, name", [("nope", "x", "A"), ("fitpass", "", "A"),
                                                         ("fitpass", "x" * 129, "A"), ("fitpass", "x", None),
                                                         ("fitpass", "x", "n" * 201)])
def test_invalid_links_are_refused(db, practice, desk, provider, external_id, name):
    with pytest.raises(ServiceError):
        link_membership(desk, practice.id, provider, external_id, member_name=name)


def test_unlink_keeps_the_row_and_frees_the_id(db, practice, desk, make_patient):
    patient = make_patient()
    membership = link_membership(desk, practice.id, "fitpass", "FP-7Q2K9D4M", patient_id=patient.id)
    unlink_membership(desk, membership)
    again = link_membership(desk, practice.id, "fitpass", "FP-7Q2K9D4M", member_name="Neu")
    assert again.id != membership.id
    assert db.session.scalar(select(func.count()).select_from(Membership)) == 2
    assert audit_actions(db) == ["access.membership.link", "access.membership.unlink", "access.membership.link"]


def test_link_from_a_validated_checkin_only(db, location, enable, desk, make_patient):
    enable(location)
    patient = make_patient()
    unknown = check_in(desk, location, "FP-UNKNOWN9").checkin
    with pytest.raises(ServiceError):
        link_from_checkin(desk, unknown, patient_id=patient.id)
    allowed = check_in(desk, location, "FP-7Q2K9D4M").checkin
    membership = link_from_checkin(desk, allowed, patient_id=patient.id)
    assert (membership.provider, membership.external_id) == ("fitpass", "FP-7Q2K9D4M")
    [(listed, visits, last)] = patient_memberships(patient)
    assert listed.id == membership.id and visits == 0 and last is None  # the visit predates the link


def test_concurrent_double_linking_exactly_one_wins(app, db, practice, make_user, make_patient):
    user = make_user(role="assistant")
    patients = [make_patient(first_name=f"Person{index}", last_name="Test") for index in range(4)]
    ids = queue.SimpleQueue()
    for patient in patients:
        ids.put(patient.id)
    user_id = user.id

    def link():
        from app.accounts.models import User
        actor = Actor(db.session.get(User, user_id))
        try:
            return link_membership(actor, practice.id, "fitpass", "FP-7Q2K9D4M", patient_id=ids.get()).id
        except MembershipTaken as taken:
            return str(taken.message)

    results = at_once(app, 4, link)
    winners = [result for result in results if isinstance(result, int)]
    losers = [result for result in results if isinstance(result, str)]
    assert len(winners) == 1 and len(losers) == 3
    holder = db.session.get(Membership, winners[0]).person_name
    assert all(holder in message for message in losers)


def test_simultaneous_double_scan_asks_the_provider_once(app, db, practice, make_user, location, enable,
                                                         fitpass_server):
    from app.access.models import Checkin
    from app.tenancy.models import Location

    enable(location)
    user_id, location_id = make_user(role="assistant").id, location.id

    def scan():
        from app.accounts.models import User
        outcome = check_in(Actor(db.session.get(User, user_id)), db.session.get(Location, location_id),
                           "FP-7Q2K9D4M")
        return outcome.checkin.id

    ids = at_once(app, 3, scan)
    assert len(set(ids)) == 1 and len(fitpass_server.requests) == 1
    assert db.session.scalar(select(func.count()).select_from(Checkin)) == 1
