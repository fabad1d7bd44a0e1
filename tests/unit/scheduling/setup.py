"""A small scheduling setup shared by the scheduling unit and web tests: one practice in Bavaria with a location,
two therapists, two rooms, a shockwave device and a group room, types that need them, and weekday hours."""

from datetime import UTC, date, datetime, time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from app.platform.extensions import db
from app.scheduling.hours import OpeningHours, WorkingHours
from app.scheduling.models import AppointmentType, Resource, TypeRequirement
from app.tenancy.models import Location

BERLIN = ZoneInfo("Europe/Berlin")
# Far enough ahead that bookings never lie in the past while these tests live; the types' horizon reaches it.
TUESDAY = date(2037, 5, 5)  # no holiday in Bavaria
CORPUS_CHRISTI = date(2037, 6, 4)  # Fronleichnam, a Thursday, a public holiday in Bavaria (not in Berlin)
HORIZON_DAYS = 20 * 365


def local(day, hour, minute=0):
    """The UTC instant of ``hour:minute`` on ``day`` in Berlin."""
    return datetime.combine(day, time(hour, minute), BERLIN).astimezone(UTC)


def build(practice, make_user):
    """Create the setup for ``practice`` and return its objects by name."""
    practice.settings = {**(practice.settings or {}), "holiday_region": "BY"}
    location = Location(practice_id=practice.id, name="Hauptstelle")
    db.session.add(location)
    db.session.flush()
    anna = make_user(role="therapist", name="Anna Berger")
    ben = make_user(role="therapist", name="Ben Krause")
    rooms = [Resource(practice_id=practice.id, location_id=location.id, kind="room", name=f"Raum {n}")
             for n in (1, 2)]
    device = Resource(practice_id=practice.id, location_id=location.id, kind="device", name="Stoßwellengerät")
    group = Resource(practice_id=practice.id, location_id=location.id, kind="gym", name="Gymnastikraum", capacity=3)
    db.session.add_all([*rooms, device, group])
    db.session.flush()
    kg = AppointmentType(practice_id=practice.id, name="Krankengymnastik", duration_minutes=30,
                         horizon_days=HORIZON_DAYS, alternative_durations=[45], slot_step_minutes=15,
                         requirements=[TypeRequirement(kind="room", count=1, mode="any")])
    shock = AppointmentType(practice_id=practice.id, name="Stoßwellentherapie", duration_minutes=15,
                            horizon_days=HORIZON_DAYS,
                            slot_step_minutes=15, room_buffer_after=5,
                            requirements=[TypeRequirement(resource_id=device.id),
                                          TypeRequirement(kind="room", count=1, mode="any")])
    back = AppointmentType(practice_id=practice.id, name="Rückenschule", duration_minutes=60, slot_step_minutes=30,
                           horizon_days=HORIZON_DAYS,
                           requirements=[TypeRequirement(kind="gym", count=1, mode="any")])
    db.session.add_all([kg, shock, back])
    for weekday in range(5):
        db.session.add(OpeningHours(practice_id=practice.id, location_id=location.id, weekday=weekday,
                                    start_time=time(7), end_time=time(19), valid_from=date(2026, 1, 1)))
        for therapist in (anna, ben):
            db.session.add(WorkingHours(practice_id=practice.id, therapist_id=therapist.id, location_id=location.id,
                                        weekday=weekday, start_time=time(8), end_time=time(18),
                                        valid_from=date(2026, 1, 1)))
    db.session.commit()
    return SimpleNamespace(practice=practice, location=location, anna=anna, ben=ben, rooms=rooms, device=device,
                           group=group, kg=kg, shock=shock, back=back)
