"""Slot suggestions on hand-made calendars: the wall-clock grid, resources chosen with the slot, all/any
requirements, morning/afternoon, reasons when nothing fits, both Europe/Berlin switch days, and a property test
that no suggested slot ever conflicts."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.scheduling.engine.calendar import WeeklyRule, expand, local_days, public_holidays
from app.scheduling.engine.conflicts import RESOURCE, THERAPIST, Blocker, Busy, Calendar, Candidate, check
from app.scheduling.engine.slots import (
    AFTERNOON,
    MORNING,
    Buffers,
    Requirement,
    SlotQuery,
    grid_starts,
    spans_for,
    suggest,
)

BERLIN = ZoneInfo("Europe/Berlin")
ANNA, BEN, LOC = 1, 2, 100
ROOM_A, ROOM_B, SHOCKWAVE = 10, 11, 20
SPRING, AUTUMN = date(2027, 3, 28), date(2027, 10, 31)  # the last Sundays of March and October 2027


def local(day, hour, minute=0, fold=0):
    return datetime.combine(day, time(hour, minute), BERLIN).replace(fold=fold).astimezone(UTC)


def day_calendar(day, start=8, end=12, busy=(), blockers=(), therapists=(ANNA,)):
    window = [(local(day, start), local(day, end))]
    return Calendar(zone=BERLIN, working={t: {LOC: list(window)} for t in therapists}, opening={LOC: list(window)},
                    busy=list(busy), blockers=list(blockers), capacity={ROOM_A: 1, ROOM_B: 1, SHOCKWAVE: 1})


def query(day, requirements=(), therapists=(ANNA,), **kw):
    kw.setdefault("duration", 30)
    kw.setdefault("step", 30)
    kw.setdefault("limit", 100)
    return SlotQuery(earliest=local(day, 0), latest=local(day + timedelta(days=1), 0), therapist_ids=therapists,
                     location_ids=(LOC,), requirements={LOC: list(requirements)}, **kw)


def starts(slots):
    return [slot.start.astimezone(BERLIN).strftime("%H:%M") for slot in slots]


def test_slots_follow_the_grid_and_skip_busy_times():
    day = date(2027, 5, 4)
    busy = [Busy(THERAPIST, ANNA, local(day, 9), local(day, 10), 1)]
    slots, reasons = suggest(query(day), day_calendar(day, busy=busy))
    assert starts(slots) == ["08:00", "08:30", "10:00", "10:30", "11:00", "11:30"]
    assert reasons == []


def test_each_slot_gets_concrete_resources_any_and_all():
    day = date(2027, 5, 4)
    rooms = Requirement("any", 1, (ROOM_A, ROOM_B), "1 × room")
    device = Requirement("all", 1, (SHOCKWAVE,), "every device")
    busy = [Busy(RESOURCE, ROOM_A, local(day, 8), local(day, 9), 5),
            Busy(RESOURCE, SHOCKWAVE, local(day, 10), local(day, 12), 6)]
    slots, _ = suggest(query(day, [rooms, device]), day_calendar(day, busy=busy))
    assert starts(slots) == ["08:00", "08:30", "09:00", "09:30"]
    assert slots[0].resource_ids == (ROOM_B, SHOCKWAVE)
    assert slots[2].resource_ids == (ROOM_A, SHOCKWAVE)


def test_any_therapist_and_part_of_day():
    day = date(2027, 5, 4)
    cal = day_calendar(day, start=10, end=14, therapists=(ANNA, BEN))
    slots, _ = suggest(query(day, therapists=(ANNA, BEN), part_of_day=MORNING), cal)
    assert starts(slots) == ["10:00", "10:00", "10:30", "10:30", "11:00", "11:00", "11:30", "11:30"]
    assert {slot.therapist_id for slot in slots} == {ANNA, BEN}
    slots, _ = suggest(query(day, therapists=(ANNA,), part_of_day=AFTERNOON), cal)
    assert starts(slots) == ["12:00", "12:30", "13:00", "13:30"]


def test_limit_and_buffers():
    day = date(2027, 5, 4)
    slots, _ = suggest(query(day, buffers=Buffers(therapist_after=30), limit=3), day_calendar(day))
    assert len(slots) == 3
    # A documentation buffer after each slot is no conflict with free time after it.
    busy = [Busy(THERAPIST, ANNA, local(day, 9), local(day, 12), 1)]
    slots, _ = suggest(query(day, buffers=Buffers(therapist_after=30)), day_calendar(day, busy=busy))
    assert starts(slots) == ["08:00"]


def test_reasons_when_nothing_fits(english_messages):
    day = date(2027, 5, 4)
    device = Requirement("any", 1, (), "1 × shockwave device")
    _slots, reasons = suggest(query(day, [device]), day_calendar(day))
    assert reasons == ["The location lacks what this type needs: 1 × shockwave device."]
    _slots, reasons = suggest(query(day), day_calendar(day, start=8, end=8, busy=()))
    assert reasons == ["No therapist who gives this type works in the chosen period while the location is open."]
    busy = [Busy(THERAPIST, ANNA, local(day, 8), local(day, 12), 1)]
    _slots, reasons = suggest(query(day), day_calendar(day, busy=busy))
    assert reasons == ["Everything is booked or blocked (breaks, absences, closures, holidays) in the chosen "
                       "period."]


def test_spring_forward_offers_no_time_that_does_not_exist():
    cal = day_calendar(SPRING, start=1, end=4)
    slots, _ = suggest(query(SPRING), cal)
    assert starts(slots) == ["01:00", "01:30", "03:00", "03:30"]
    # 01:30 CET lasts until 03:00 CEST: half an hour of real time.
    assert slots[1].end - slots[1].start == timedelta(minutes=30)


def test_fall_back_offers_the_repeated_hour_once():
    cal = day_calendar(AUTUMN, start=1, end=4)
    slots, _ = suggest(query(AUTUMN), cal)
    assert starts(slots) == ["01:00", "01:30", "02:00", "02:30", "03:00", "03:30"]
    assert len({slot.start for slot in slots}) == len(slots)


def test_weekly_hours_keep_their_wall_clock_time_across_both_switches():
    rule = WeeklyRule(owner=ANNA, start=time(8), end=time(12), weekday=6)
    for day in (SPRING - timedelta(days=7), SPRING, AUTUMN, AUTUMN + timedelta(days=7)):
        [(start, end, _)] = expand([rule], [day], BERLIN)
        assert start.astimezone(BERLIN).time() == time(8) and end.astimezone(BERLIN).time() == time(12)
    assert expand([rule], [SPRING], BERLIN)[0][0].hour == 6  # 08:00 CEST
    assert expand([rule], [SPRING - timedelta(days=7)], BERLIN)[0][0].hour == 7  # 08:00 CET


def test_grid_on_a_switch_day_lists_each_instant_once():
    start, end = local(AUTUMN, 0), local(AUTUMN, 5)
    instants = list(grid_starts(start, end, 15, 15, BERLIN))
    assert len(instants) == len(set(instants))
    assert len(local_days(start, end, BERLIN)) == 1


def test_public_holidays_of_the_bundesland():
    days = [date(2027, 1, 6), date(2027, 11, 1), date(2027, 5, 4)]
    assert set(public_holidays("DE", "BY", days)) == {date(2027, 1, 6), date(2027, 11, 1)}
    assert set(public_holidays("DE", "BE", days)) == set()
    assert public_holidays("DE", "XX", days) == {}


_minutes = st.integers(min_value=0, max_value=11 * 60)


@st.composite
def calendars(draw):
    """A day with random busy times of two therapists and two rooms, and random breaks."""
    day = draw(st.sampled_from([date(2027, 5, 4), SPRING, AUTUMN]))
    base = local(day, 7)

    def interval():
        start = base + timedelta(minutes=draw(_minutes))
        return start, start + timedelta(minutes=draw(st.integers(min_value=5, max_value=120)))

    busy = [Busy(kind, owner, *interval(), appointment_id=index)
            for index, (kind, owner) in enumerate(draw(st.lists(st.sampled_from(
                [(THERAPIST, ANNA), (THERAPIST, BEN), (RESOURCE, ROOM_A), (RESOURCE, ROOM_B)]), max_size=12)))]
    blockers = [Blocker("break", THERAPIST, owner, *interval(), {}) for owner in draw(st.lists(
        st.sampled_from([ANNA, BEN]), max_size=3))]
    return day, day_calendar(day, start=7, end=19, busy=busy, blockers=blockers, therapists=(ANNA, BEN))


@settings(max_examples=60, deadline=None)
@given(calendars(), st.sampled_from([15, 30, 45]), st.sampled_from([5, 15, 30]),
       st.builds(Buffers, *(st.integers(min_value=0, max_value=20) for _ in range(4))),
       st.sampled_from([None, MORNING, AFTERNOON]))
def test_no_suggested_slot_ever_conflicts(drawn, duration, step, buffers, part_of_day):
    day, cal = drawn
    rooms = Requirement("any", 1, (ROOM_A, ROOM_B), "room")
    slots, _ = suggest(query(day, [rooms], therapists=(ANNA, BEN), duration=duration, step=step, buffers=buffers,
                             part_of_day=part_of_day), cal)
    for slot in slots:
        candidate = Candidate(slot.start, slot.end, slot.therapist_id, LOC,
                              spans_for(slot.start, slot.end, slot.therapist_id, slot.resource_ids, buffers))
        assert check(candidate, cal) == []
        assert slot.end - slot.start == timedelta(minutes=duration)
        wall = slot.start.astimezone(BERLIN)
        assert (wall.hour * 60 + wall.minute) % step == 0
        if part_of_day:
            assert (wall.hour < 12) == (part_of_day == MORNING)
    assert len({(slot.start, slot.therapist_id) for slot in slots}) == len(slots)
