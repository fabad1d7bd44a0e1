"""The one conflict check on hand-made calendars: every conflict kind, hard versus soft, buffers, capacity, a move
that never conflicts with itself, and the sentences a receptionist reads."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.scheduling.engine.conflicts import (
    ABSENCE,
    BREAK,
    CLOSURE,
    HOLIDAY,
    LOCATION,
    OUTSIDE_OPENING_HOURS,
    OUTSIDE_WORKING_HOURS,
    PATIENT,
    PATIENT_BUSY,
    PRACTICE,
    RESOURCE,
    RESOURCE_BUSY,
    THERAPIST,
    THERAPIST_BUSY,
    Blocker,
    Busy,
    Calendar,
    Candidate,
    check,
    is_free,
    peak_load,
)
from app.scheduling.engine.slots import Buffers, spans_for

BERLIN = ZoneInfo("Europe/Berlin")
DAY = datetime(2027, 5, 4, tzinfo=BERLIN)  # a Tuesday
ANNA, ROOM, GROUP, LOC, PAT = 1, 10, 11, 100, 500


def at(hour, minute=0):
    """A UTC instant on DAY at local ``hour:minute``."""
    return DAY.replace(hour=hour, minute=minute).astimezone(UTC)


def calendar(busy=(), blockers=(), capacity=None):
    """Anna works 08-18 at LOC, which is open 07-19."""
    return Calendar(zone=BERLIN, working={ANNA: {LOC: [(at(8), at(18))]}}, opening={LOC: [(at(7), at(19))]},
                    busy=list(busy), blockers=list(blockers), capacity=capacity or {ROOM: 1, GROUP: 3},
                    names={(THERAPIST, ANNA): "Anna Berger", (RESOURCE, ROOM): "Raum 1",
                           (RESOURCE, GROUP): "Gymnastikraum", (LOCATION, LOC): "Hauptstelle"})


NO_BUFFERS = Buffers()


def candidate(start, end, resources=(ROOM,), buffers=NO_BUFFERS, patient=PAT, ignore=None):
    return Candidate(start, end, ANNA, LOC, spans_for(start, end, ANNA, resources, buffers), patient, ignore)


def kinds(conflicts):
    return sorted(conflict.kind for conflict in conflicts)


def test_free_time_has_no_conflict():
    assert check(candidate(at(9), at(9, 30)), calendar()) == []


def test_therapist_busy_is_hard_and_names_the_appointment(english_messages):
    cal = calendar([Busy(THERAPIST, ANNA, at(9), at(10), appointment_id=7)])
    [conflict] = check(candidate(at(9, 30), at(10), resources=()), cal)
    assert conflict.kind == THERAPIST_BUSY and conflict.hard
    assert conflict.with_ == {"type": "appointment", "id": 7}
    assert conflict.reason == "Anna Berger already has an appointment from 04.05.2027 09:00 to 04.05.2027 10:00."


def test_half_open_ranges_touching_do_not_conflict():
    cal = calendar([Busy(THERAPIST, ANNA, at(9), at(10), 7), Busy(RESOURCE, ROOM, at(9), at(10), 7)])
    assert is_free(candidate(at(10), at(10, 30)), cal)


def test_room_busy_is_hard(english_messages):
    cal = calendar([Busy(RESOURCE, ROOM, at(9), at(10), 8)])
    [conflict] = check(candidate(at(9, 30), at(10)), cal)
    assert conflict.kind == RESOURCE_BUSY and conflict.hard
    assert conflict.with_ == {"type": "appointment", "id": 8, "resource_id": ROOM}
    assert "Raum 1 is already booked" in conflict.reason


def test_group_room_capacity_is_respected(english_messages):
    two = [Busy(RESOURCE, GROUP, at(9), at(10), 1), Busy(RESOURCE, GROUP, at(9), at(10), 2)]
    assert is_free(candidate(at(9), at(10), resources=(GROUP,)), calendar(two))
    three = [*two, Busy(RESOURCE, GROUP, at(9, 30), at(10), 3)]
    [conflict] = check(candidate(at(9), at(10), resources=(GROUP,)), calendar(three))
    assert conflict.kind == RESOURCE_BUSY and "(3 places)" in conflict.reason


def test_capacity_counts_simultaneous_use_not_every_overlap():
    # Three bookings in the slot, but never more than two at once: one place is left.
    busy = [Busy(RESOURCE, GROUP, at(9), at(9, 20), 1), Busy(RESOURCE, GROUP, at(9, 20), at(9, 40), 2),
            Busy(RESOURCE, GROUP, at(9), at(10), 3)]
    assert peak_load(busy, at(9), at(10)) == 2
    assert is_free(candidate(at(9), at(10), resources=(GROUP,)), calendar(busy))


def test_buffers_differ_for_room_and_therapist():
    buffers = Buffers(room_before=0, room_after=15, therapist_before=0, therapist_after=5)
    # The room is cleaned until 10:15, the therapist documents until 10:05.
    cal = calendar([Busy(RESOURCE, ROOM, at(10), at(10, 20), 3)])
    assert kinds(check(candidate(at(9, 30), at(10), buffers=buffers), cal)) == [RESOURCE_BUSY]
    cal = calendar([Busy(THERAPIST, ANNA, at(10, 3), at(10, 30), 3)])
    assert kinds(check(candidate(at(9, 30), at(10), resources=(), buffers=buffers), cal)) == [THERAPIST_BUSY]
    cal = calendar([Busy(THERAPIST, ANNA, at(10, 5), at(10, 30), 3)])
    assert is_free(candidate(at(9, 30), at(10), resources=(), buffers=buffers), cal)


def test_patient_overlap_is_soft():
    cal = calendar([Busy(PATIENT, PAT, at(9), at(10), 4)])
    [conflict] = check(candidate(at(9, 30), at(10)), cal)
    assert conflict.kind == PATIENT_BUSY and not conflict.hard


def test_outside_hours_are_soft(english_messages):
    conflicts = check(candidate(at(18, 30), at(19, 30)), calendar())
    assert kinds(conflicts) == [OUTSIDE_OPENING_HOURS, OUTSIDE_WORKING_HOURS]
    assert not any(conflict.hard for conflict in conflicts)
    assert "Anna Berger does not work at Hauptstelle" in " ".join(c.reason for c in conflicts)


@pytest.mark.parametrize(("blocker", "expected"), [
    (Blocker(BREAK, THERAPIST, ANNA, at(12), at(13), {"type": "break", "id": 1}), "has a break"),
    (Blocker(ABSENCE, THERAPIST, ANNA, at(0), at(23), {"type": "absence", "id": 2}, "Vacation"),
     "is absent from 04.05.2027 00:00 to 04.05.2027 23:00 (Vacation)"),
    (Blocker(CLOSURE, PRACTICE, None, at(0), at(23), {"type": "closure", "id": 3}), "The practice is closed"),
    (Blocker(CLOSURE, LOCATION, LOC, at(0), at(23), {"type": "closure", "id": 4}), "Hauptstelle is closed"),
    (Blocker(CLOSURE, RESOURCE, ROOM, at(0), at(23), {"type": "closure", "id": 5}), "Raum 1 is closed"),
    (Blocker(HOLIDAY, PRACTICE, None, at(0), at(23, 59), {"type": "holiday"}, "Maifeiertag"),
     "04.05.2027 is a public holiday (Maifeiertag)"),
])
def test_rules_are_soft_conflicts_with_their_reference(english_messages, blocker, expected):
    [conflict] = check(candidate(at(12, 15), at(12, 45)), calendar(blockers=[blocker]))
    assert conflict.kind == blocker.kind and not conflict.hard
    assert conflict.with_ == blocker.ref
    assert expected in conflict.reason


def test_closure_of_another_resource_or_location_does_not_matter():
    blockers = [Blocker(CLOSURE, RESOURCE, 99, at(0), at(23), {}), Blocker(CLOSURE, LOCATION, 98, at(0), at(23), {})]
    assert is_free(candidate(at(9), at(9, 30)), calendar(blockers=blockers))


def test_moving_never_conflicts_with_itself():
    cal = calendar([Busy(THERAPIST, ANNA, at(9), at(10), 7), Busy(RESOURCE, ROOM, at(9), at(10), 7),
                    Busy(PATIENT, PAT, at(9), at(10), 7)])
    assert check(candidate(at(9, 30), at(10, 30), ignore=7), cal) == []
    assert kinds(check(candidate(at(9, 30), at(10, 30), ignore=8), cal)) == [PATIENT_BUSY, RESOURCE_BUSY,
                                                                              THERAPIST_BUSY]


def test_hard_conflicts_come_first():
    cal = calendar([Busy(PATIENT, PAT, at(9), at(10), 4), Busy(THERAPIST, ANNA, at(9), at(10), 5)])
    conflicts = check(candidate(at(9), at(9, 30), resources=()), cal)
    assert [conflict.hard for conflict in conflicts] == [True, False]
    assert conflicts[0].as_json().keys() == {"kind", "reason", "with"}


def test_reasons_are_german_by_default(app):
    with app.test_request_context():
        [conflict] = check(candidate(at(9, 30), at(10), resources=()),
                           calendar([Busy(THERAPIST, ANNA, at(9), at(10), 7)]))
        assert conflict.reason == "Anna Berger hat von 04.05.2027 09:00 bis 04.05.2027 10:00 bereits einen Termin."
