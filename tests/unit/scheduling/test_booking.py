"""Booking, moving and cancelling local appointments against the database: conflicts from local and external
appointments, overrides with permission and reason (audited), resources picked or checked, person-readable errors
for bad input, and the calendar read in a fixed number of queries."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.appointments.models import Appointment
from app.platform.security.actor import Actor
from app.scheduling.availability import load_calendar
from app.scheduling.booking import BookingRequest, ConflictError, book, cancel, change, occupied_resource_ids
from app.scheduling.hours import Absence, Closure, HolidayOpening
from app.scheduling.models import Occupancy
from app.scheduling.resolve import SchedulingError, parse_moment
from tests.helpers import audit_actions
from tests.unit.scheduling.setup import CORPUS_CHRISTI, TUESDAY, build, local


@pytest.fixture
def s(practice, make_user):
    return build(practice, make_user)


def request_for(s, start, therapist=None, appointment_type=None, **kw):
    return BookingRequest(type_id=(appointment_type or s.kg).id, therapist_id=(therapist or s.anna).id,
                          location_id=s.location.id, start=start, **kw)


def kinds(error):
    return sorted(conflict.kind for conflict in error.value.conflicts)


def test_book_picks_a_free_room_and_occupies_therapist_and_room(db, s):
    first = book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 9)))
    second = book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 9), therapist=s.ben))
    assert first.source == "local" and first.ends_at == local(TUESDAY, 9, 30)
    assert first.detail.type_id == s.kg.id and first.service_name == "Krankengymnastik"
    assert occupied_resource_ids(first) == [s.rooms[0].id]
    assert occupied_resource_ids(second) == [s.rooms[1].id]
    assert audit_actions(db) == ["appointment.create", "appointment.create"]


def test_therapist_busy_blocks_even_with_override(db, s, english_messages):
    book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 9)))
    with pytest.raises(ConflictError) as error:
        book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 9, 15), override_reason="Notfall"),
             can_override=True)
    assert kinds(error) == ["therapist_busy"]
    assert error.value.conflicts[0].reason.startswith("Anna Berger already has an appointment from 05.05.2037 09:00")


def test_external_appointment_of_the_therapist_blocks(db, s):
    db.session.add(Appointment(practice_id=s.practice.id, source="calcom", external_id="cal-1",
                               starts_at=local(TUESDAY, 10), ends_at=local(TUESDAY, 11), therapist_id=s.anna.id))
    db.session.add(Appointment(practice_id=s.practice.id, source="booking", external_id="b-1", status="cancelled",
                               starts_at=local(TUESDAY, 12), ends_at=local(TUESDAY, 13), therapist_id=s.anna.id))
    db.session.commit()
    with pytest.raises(ConflictError) as error:
        book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 10, 30)))
    assert kinds(error) == ["therapist_busy"]
    book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 12)))  # the cancelled one holds nothing


def test_device_busy_blocks_and_rooms_run_out(db, s):
    book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 9), appointment_type=s.shock))
    with pytest.raises(ConflictError) as error:
        book(Actor(s.ben), s.practice, request_for(s, local(TUESDAY, 9, 15), therapist=s.ben,
                                                   appointment_type=s.shock))
    # The device is cleaned until 09:20 (room buffer 5 minutes).
    assert kinds(error) == ["resource_busy"]
    book(Actor(s.ben), s.practice, request_for(s, local(TUESDAY, 9, 20), therapist=s.ben, appointment_type=s.shock))


def test_group_room_takes_as_many_as_its_capacity(db, s, make_user):
    s.group.capacity = 2
    db.session.commit()
    for therapist in (s.anna, s.ben):
        book(Actor(therapist), s.practice, request_for(s, local(TUESDAY, 10), therapist=therapist,
                                                       appointment_type=s.back))
    third = make_user(role="therapist")
    with pytest.raises(ConflictError) as error:
        book(Actor(third), s.practice, request_for(s, local(TUESDAY, 10), therapist=third, appointment_type=s.back))
    assert "resource_busy" in kinds(error)


def test_soft_conflicts_need_permission_and_reason_and_are_audited(db, s, make_patient):
    patient = make_patient()
    book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 9), patient_id=patient.id))
    late = request_for(s, local(TUESDAY, 9), therapist=s.ben, patient_id=patient.id)
    with pytest.raises(ConflictError) as error:
        book(Actor(s.ben), s.practice, late)
    assert kinds(error) == ["patient_busy"]
    with pytest.raises(ConflictError):
        book(Actor(s.ben), s.practice, late, can_override=True)  # no reason given
    late.override_reason = "Doppelbehandlung verordnet"
    book(Actor(s.ben), s.practice, late, can_override=True)
    entry_meta = db.session.execute(select(Occupancy)).first()
    assert entry_meta is not None
    from app.platform.audit.models import AuditEntry
    last = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert last.meta["override_reason"] == "Doppelbehandlung verordnet"
    assert last.meta["conflicts"] == ["patient_busy"]


def test_hours_absence_closure_and_holiday_are_soft(db, s):
    db.session.add(Absence(practice_id=s.practice.id, therapist_id=s.anna.id, starts_at=local(TUESDAY, 0),
                           ends_at=local(TUESDAY, 23), reason="vacation"))
    db.session.add(Closure(practice_id=s.practice.id, resource_id=s.rooms[0].id, starts_at=local(TUESDAY, 0),
                           ends_at=local(TUESDAY, 23)))
    db.session.commit()
    with pytest.raises(ConflictError) as error:
        book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 18, 45), resource_ids=[s.rooms[0].id]))
    assert kinds(error) == ["absence", "closure", "outside_opening_hours", "outside_working_hours"]
    assert not any(conflict.hard for conflict in error.value.conflicts)
    holiday = CORPUS_CHRISTI
    with pytest.raises(ConflictError) as error:
        book(Actor(s.ben), s.practice, request_for(s, local(holiday, 9), therapist=s.ben))
    assert kinds(error) == ["holiday"]
    db.session.add(HolidayOpening(practice_id=s.practice.id, day=holiday))
    db.session.commit()
    book(Actor(s.ben), s.practice, request_for(s, local(holiday, 9), therapist=s.ben))


def test_move_never_conflicts_with_itself_and_cancel_frees(db, s, english_messages):
    appointment = book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 9)))
    moved = change(Actor(s.anna), s.practice, appointment, request_for(s, local(TUESDAY, 9, 15)))
    assert moved.starts_at == local(TUESDAY, 9, 15)
    assert db.session.scalar(select(Occupancy.starts_at).where(Occupancy.therapist_id == s.anna.id)) == \
        local(TUESDAY, 9, 15)
    cancel(Actor(s.anna), moved)
    assert moved.status == "cancelled" and db.session.get(Appointment, moved.id) is not None
    assert db.session.scalars(select(Occupancy)).all() == []
    book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 9, 15)))
    with pytest.raises(SchedulingError, match="cancelled"):
        change(Actor(s.anna), s.practice, moved, request_for(s, local(TUESDAY, 11)))
    assert audit_actions(db) == ["appointment.create", "appointment.update", "appointment.cancel",
                                 "appointment.create"]


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"type_id": 999}, "type", "This appointment type does not exist."),
    ({"therapist_id": 999}, "doctor", "This therapist does not exist or is inactive."),
    ({"location_id": 999}, "location", "This location does not exist."),
    ({"end": "before"}, "end_time", "The end must be after the start."),
    ({"end": "20 minutes"}, "end_time", "“Krankengymnastik” lasts 30, 45 minutes."),
    ({"resource_ids": [999]}, "resource_ids", "Resource 999 does not exist."),
    ({"resource_ids": []}, "resource_ids", "This type needs 1 × room."),
    ({"patient_id": 999}, "patient_id", "This patient does not exist."),
])
def test_bad_input_is_refused_with_a_sentence(db, s, english_messages, changes, field, message):
    request = request_for(s, local(TUESDAY, 9))
    start = request.start
    values = {"end": start - timedelta(minutes=5) if changes.get("end") == "before" else
              start + timedelta(minutes=20) if changes.get("end") else None}
    for key, value in changes.items():
        if key != "end":
            setattr(request, key, value)
    request.end = values["end"]
    with pytest.raises(SchedulingError) as error:
        book(Actor(s.anna), s.practice, request)
    assert (error.value.field, error.value.message) == (field, message)
    assert db.session.scalars(select(Appointment)).all() == []


def test_inactive_type_and_other_practice_ids_are_refused(db, s, other_practice, english_messages):
    s.kg.active = False
    db.session.commit()
    with pytest.raises(SchedulingError, match="inactive"):
        book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 9)))
    with pytest.raises(SchedulingError, match="does not exist"):
        book(Actor(s.anna), other_practice, request_for(s, local(TUESDAY, 9), appointment_type=s.shock))


def test_past_start_is_refused(db, s, english_messages):
    with pytest.raises(SchedulingError, match="past"):
        book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY.replace(year=2020), 9)))


def test_local_times_that_do_not_exist_or_repeat_are_refused(s, english_messages):
    with pytest.raises(SchedulingError, match="does not exist in Europe/Berlin"):
        parse_moment("2037-03-29T02:30", s.practice, "start_time")
    with pytest.raises(SchedulingError, match="occurs twice"):
        parse_moment("2037-10-25T02:30", s.practice, "start_time")
    assert parse_moment("2037-10-25T02:30+01:00", s.practice, "x").hour == 1
    assert parse_moment("2037-05-05T09:00", s.practice, "x") == local(TUESDAY, 9)
    with pytest.raises(SchedulingError, match="like 2027-03-01T09:30"):
        parse_moment("morgen", s.practice, "start_time")


def test_calendar_costs_the_same_queries_for_a_day_or_a_month(db, s, sql_statements):
    for hour in (9, 10, 11):
        book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, hour)))
    owners = {"therapist_ids": [s.anna.id, s.ben.id], "location_ids": [s.location.id],
              "resource_ids": [r.id for r in s.rooms], "patient_id": None}
    with sql_statements() as day:
        load_calendar(s.practice, start=local(TUESDAY, 0), end=local(TUESDAY, 23), **owners)
    with sql_statements() as month:
        calendar = load_calendar(s.practice, start=local(TUESDAY, 0), end=local(TUESDAY, 0) + timedelta(days=31),
                                 **owners)
    assert len(day) == len(month) <= 12
    assert len(calendar.busy) == 6
