"""Slot search against the database: a chosen resource, notice and horizon of the type, holidays, and the checks on
what is asked for."""

from datetime import timedelta

import pytest

from app.scheduling.finder import SlotSearch, find_slots
from app.scheduling.resolve import SchedulingError
from tests.unit.scheduling.setup import CORPUS_CHRISTI, TUESDAY, build, local


@pytest.fixture
def s(practice, make_user):
    return build(practice, make_user)


def test_a_chosen_room_is_used_by_every_slot(s):
    slots, _ = find_slots(s.practice, SlotSearch(type_id=s.kg.id, resource_id=s.rooms[1].id,
                                                 start=local(TUESDAY, 0), limit=5), now=local(TUESDAY, 0))
    assert len(slots) == 5 and {slot.resource_ids for slot in slots} == {(s.rooms[1].id,)}


def test_notice_and_horizon_of_the_type(db, s):
    s.kg.min_notice_minutes, s.kg.horizon_days = 120, 1
    db.session.commit()
    now = local(TUESDAY, 8)
    slots, _ = find_slots(s.practice, SlotSearch(type_id=s.kg.id, therapist_id=s.anna.id, limit=100), now=now)
    assert slots[0].start == local(TUESDAY, 10)
    assert slots[-1].start < now + timedelta(days=1)


def test_holidays_close_the_practice(s, english_messages):
    holiday = CORPUS_CHRISTI
    slots, reasons = find_slots(s.practice, SlotSearch(type_id=s.kg.id, start=local(holiday, 0),
                                                       end=local(holiday, 23)),
                                now=local(holiday - timedelta(days=7), 0))
    assert slots == []
    assert reasons == ["Everything is booked or blocked (breaks, absences, closures, holidays) in the chosen "
                       "period."]


@pytest.mark.parametrize(("changes", "field"), [
    ({"part_of_day": "evening"}, "part_of_day"),
    ({"limit": 0}, "limit"),
    ({"end": "before"}, "end"),
    ({"end": "far"}, "end"),
    ({"type_id": 999}, "type"),
    ({"resource_id": 999}, "resource"),
])
def test_bad_searches_are_refused(s, changes, field):
    search = SlotSearch(type_id=s.kg.id, start=local(TUESDAY, 9))
    for key, value in changes.items():
        if value == "before":
            value = local(TUESDAY, 8)
        elif value == "far":
            value = local(TUESDAY, 9) + timedelta(days=400)
        setattr(search, key, value)
    with pytest.raises(SchedulingError) as error:
        find_slots(s.practice, search, now=local(TUESDAY, 0))
    assert error.value.field == field
