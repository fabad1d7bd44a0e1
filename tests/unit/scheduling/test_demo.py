"""The scheduling demo: the demo practice gets its five treatments (the shockwave one needing the device, the
back school in a group room), rooms and a device per location, hours, breaks, an upcoming absence, its Bundesland
and weeks of local appointments that the engine finds conflict-free; a second ``flask demo`` changes nothing."""

from sqlalchemy import func, select

from app.appointments.models import Appointment
from app.demo import load_demo
from app.scheduling.availability import load_calendar
from app.scheduling.engine.conflicts import Candidate, check
from app.scheduling.engine.slots import spans_for
from app.scheduling.hours import Absence, Break, Closure, HolidayOpening, OpeningHours, WorkingHours
from app.scheduling.models import AppointmentType, Occupancy, Resource
from app.scheduling.resolve import buffers_of
from app.tenancy.models import Practice


def _counts(db):
    return [db.session.scalar(select(func.count()).select_from(model))
            for model in (AppointmentType, Resource, OpeningHours, WorkingHours, Break, Absence, Closure,
                          HolidayOpening, Appointment, Occupancy)]


def test_demo_practice_gets_a_bookable_schedule_once(db):
    load_demo()
    practice = db.session.scalar(select(Practice).where(Practice.slug == "demo"))
    assert practice.settings["holiday_region"] == "BE"
    types = {row.name: row for row in db.session.scalars(select(AppointmentType))}
    assert {name: row.duration_minutes for name, row in types.items()} == {
        "Krankengymnastik": 30, "Manuelle Therapie": 45, "Lymphdrainage": 60, "Stoßwellentherapie": 15,
        "Rückenschule": 60}
    assert sorted(need.kind for need in types["Stoßwellentherapie"].requirements) == ["device", "room"]
    group = [need.kind for need in types["Rückenschule"].requirements]
    assert db.session.scalar(select(func.min(Resource.capacity)).where(Resource.kind.in_(group))) > 1
    assert len(practice.locations) == 2
    for location in practice.locations:
        kinds = set(db.session.scalars(select(Resource.kind).where(Resource.location_id == location.id)))
        assert {"room", "device"} <= kinds
    assert db.session.scalar(select(func.count()).select_from(Absence)) == 1
    assert db.session.scalar(select(Closure.resource_id)) is not None
    assert db.session.scalar(select(func.count()).select_from(HolidayOpening)) == 1
    assert db.session.scalar(select(func.count()).select_from(Break)) > 0
    local = db.session.scalars(select(Appointment).where(Appointment.source == "local")).all()
    assert len(local) > 40
    assert {appointment.service_name for appointment in local} == set(types)
    before = _counts(db)
    assert load_demo() == 0
    assert _counts(db) == before


def test_demo_appointments_never_conflict(db):
    load_demo()
    practice = db.session.scalar(select(Practice).where(Practice.slug == "demo"))
    local = db.session.scalars(select(Appointment).where(Appointment.source == "local")
                               .order_by(Appointment.starts_at)).all()
    absence = db.session.scalar(select(Absence))
    assert not any(a.starts_at < absence.ends_at and a.ends_at > absence.starts_at
                   and a.therapist_id == absence.therapist_id for a in local)
    for appointment in local[:: max(1, len(local) // 15)]:
        spans = db.session.scalars(select(Occupancy).where(Occupancy.appointment_id == appointment.id)).all()
        calendar = load_calendar(practice, therapist_ids=[appointment.therapist_id],
                                 location_ids=[appointment.detail.location_id],
                                 resource_ids=[span.resource_id for span in spans if span.resource_id],
                                 start=appointment.starts_at, end=appointment.ends_at,
                                 patient_id=appointment.patient_id)
        candidate = Candidate(appointment.starts_at, appointment.ends_at, appointment.therapist_id,
                              appointment.detail.location_id,
                              spans_for(appointment.starts_at, appointment.ends_at, appointment.therapist_id,
                                        [span.resource_id for span in spans if span.resource_id],
                                        buffers_of(appointment.detail.type)),
                              appointment.patient_id, appointment.id)
        assert check(candidate, calendar) == []
