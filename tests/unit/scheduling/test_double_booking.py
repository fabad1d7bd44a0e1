"""No double booking, enforced by the database: 32 threads booking overlapping times of one therapist (or one
room) create exactly one appointment, on a SQLite file (serialised write with re-check) and on PostgreSQL
(exclusion constraint); a property test that random bookings and moves never leave two overlapping exclusive
rows; and PostgreSQL refusing an overlap that skips the check altogether."""

import itertools
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.appointments.models import Appointment
from app.platform.extensions import db
from app.platform.security.actor import Actor
from app.scheduling.booking import BookingRequest, ConflictError, book, change
from app.scheduling.models import Occupancy
from app.tenancy.models import Practice
from tests.helpers import at_once
from tests.hub_support import file_database
from tests.unit.scheduling.setup import TUESDAY, build, local


@pytest.fixture
def app_overrides(tmp_path):
    """A SQLite file (each thread its own connection, as with several workers), or TEST_DATABASE_URL."""
    return file_database(tmp_path)


@pytest.fixture
def s(practice, make_user):
    return build(practice, make_user)


def _race(app, s, requests):
    """Run one booking per request in as many threads at once; (booked ids, refusals)."""
    practice_id, turns, lock = s.practice.id, iter(requests), __import__("threading").Lock()

    def attempt():
        with lock:
            therapist_id, request = next(turns)
        try:
            practice = db.session.get(Practice, practice_id)
            return book(Actor(db.session.get(User, therapist_id)), practice, request).id
        except ConflictError:
            return None

    outcomes = at_once(app, len(requests), attempt)
    return [outcome for outcome in outcomes if outcome], [outcome for outcome in outcomes if not outcome]


def test_32_requests_for_one_therapist_book_exactly_one(app, s):
    requests = [(s.anna.id, BookingRequest(type_id=s.kg.id, therapist_id=s.anna.id, location_id=s.location.id,
                                           start=local(TUESDAY, 9) + timedelta(minutes=index % 4 * 5)))
                for index in range(32)]
    booked, refused = _race(app, s, requests)
    assert len(booked) == 1 and len(refused) == 31
    assert db.session.scalar(select(db.func.count()).select_from(Appointment)) == 1


def test_32_requests_for_one_device_book_exactly_one(app, s, make_user):
    therapists = [s.anna, s.ben]
    requests = [(therapists[index % 2].id, BookingRequest(
        type_id=s.shock.id, therapist_id=therapists[index % 2].id, location_id=s.location.id,
        start=local(TUESDAY, 11))) for index in range(32)]
    booked, _refused = _race(app, s, requests)
    assert len(booked) == 1


def _overlaps(rows):
    """Pairs of exclusive occupancy rows of one owner that overlap."""
    by_owner = {}
    for row in rows:
        by_owner.setdefault((row.therapist_id, row.resource_id), []).append(row)
    return [(a.id, b.id) for group in by_owner.values() for a, b in itertools.combinations(group, 2)
            if a.starts_at < b.ends_at and b.starts_at < a.ends_at]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 2), st.integers(0, 36), st.booleans()),
                min_size=1, max_size=10))
def test_the_database_never_holds_two_overlapping_bookings_of_one_resource(s, attempts):
    db.session.execute(Occupancy.__table__.delete())
    db.session.execute(db.text("DELETE FROM appointment_details"))
    db.session.execute(Appointment.__table__.delete())
    db.session.commit()
    therapists, types = [s.anna, s.ben], [s.kg, s.shock, s.back]
    booked = []
    for therapist_index, type_index, quarter, move in attempts:
        therapist, appointment_type = therapists[therapist_index], types[type_index]
        request = BookingRequest(type_id=appointment_type.id, therapist_id=therapist.id, location_id=s.location.id,
                                 start=local(TUESDAY, 8) + timedelta(minutes=15 * quarter))
        try:
            if move and booked:
                change(Actor(therapist), s.practice, booked[-1], request)
            else:
                booked.append(book(Actor(therapist), s.practice, request))
        except ConflictError:
            pass
    rows = db.session.scalars(select(Occupancy).where(Occupancy.exclusive.is_(True))).all()
    assert _overlaps(rows) == []


def test_postgresql_refuses_an_overlap_that_skips_the_check(db, s):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the exclusion constraint exists on PostgreSQL only")
    first = book(Actor(s.anna), s.practice, BookingRequest(type_id=s.kg.id, therapist_id=s.anna.id,
                                                           location_id=s.location.id, start=local(TUESDAY, 9)))
    db.session.add(Occupancy(practice_id=s.practice.id, appointment_id=first.id, therapist_id=s.anna.id,
                             starts_at=local(TUESDAY, 9, 10), ends_at=local(TUESDAY, 9, 40), exclusive=True))
    with pytest.raises(IntegrityError, match="ex_appointment_resources_therapist_overlap"):
        db.session.commit()
    db.session.rollback()
