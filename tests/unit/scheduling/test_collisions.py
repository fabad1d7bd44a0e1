"""Which future appointments collide after a change of rules: the stretch a change covers bounds the search (an
absence far ahead is found behind many earlier appointments), local dates cover whole local days, and an edit that
changes the owner widens the search to what the old and new values share."""

from datetime import time, timedelta

import pytest

from app.platform.security.actor import Actor
from app.scheduling.booking import BookingRequest, book
from app.scheduling.collisions import changed_scope, rule_collisions, scope_of
from app.scheduling.hours import Absence, Break
from tests.unit.scheduling.setup import TUESDAY, build, local


@pytest.fixture
def s(practice, make_user):
    return build(practice, make_user)


def booking(s, start):
    return book(Actor(s.anna), s.practice, BookingRequest(type_id=s.kg.id, therapist_id=s.anna.id,
                                                          location_id=s.location.id, start=start))


def ids(found):
    return [collision.id for collision in found]


def test_the_changed_stretch_bounds_the_search_so_a_far_change_is_found(db, s):
    weekly = [booking(s, local(TUESDAY + timedelta(weeks=week), 9)) for week in range(3)]
    far = TUESDAY + timedelta(weeks=2)
    absence = Absence(practice_id=s.practice.id, therapist_id=s.anna.id, starts_at=local(far, 0),
                      ends_at=local(far + timedelta(days=1), 0), reason="vacation")
    db.session.add(absence)
    db.session.commit()
    assert rule_collisions(s.practice, therapist_id=s.anna.id, scan=1) == []  # only the next one looked at
    assert ids(rule_collisions(s.practice, **scope_of(absence), scan=1)) == [weekly[2].id]


def test_a_stretch_of_dates_covers_whole_local_days(db, s):
    late = booking(s, local(TUESDAY, 17, 30))
    db.session.add(Break(practice_id=s.practice.id, therapist_id=s.anna.id, day=TUESDAY, start_time=time(17, 30),
                         end_time=time(18)))
    db.session.commit()
    assert ids(rule_collisions(s.practice, therapist_id=s.anna.id, start=TUESDAY, end=TUESDAY)) == [late.id]
    monday = TUESDAY - timedelta(days=1)
    assert rule_collisions(s.practice, therapist_id=s.anna.id, start=monday, end=monday) == []


def test_an_edit_keeps_only_what_the_old_and_new_scope_share():
    before = {"therapist_id": 1, "start": TUESDAY, "end": TUESDAY}
    assert changed_scope(before, dict(before)) == before
    assert changed_scope(before, {**before, "therapist_id": 2}) == {"start": TUESDAY, "end": TUESDAY}
    assert changed_scope(before, {**before, "start": None}) == {"therapist_id": 1, "end": TUESDAY}
