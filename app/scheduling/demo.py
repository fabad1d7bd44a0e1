"""The scheduling part of ``flask demo``: the demo practice (Berlin) gets its treatments, rooms and a shockwave
device per location, opening and working hours, breaks, an upcoming training absence, a device's maintenance,
its Bundesland for public holidays (and one it opens on) and three weeks of local appointments, so the calendar and
the slot finder have something to show.

Every part is added only where missing (types and resources by name, hours, breaks and the absence per owner,
appointments by their demo ids), so running ``flask demo`` twice changes nothing. Appointments are booked through
the engine (``booking.book``): one that would collide (a holiday, the absence, a booking-tool appointment of the
same therapist) is simply left out, so the demo never holds a conflicting booking."""

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from app.accounts.models import User
from app.appointments.models import Appointment
from app.patients.models import Patient
from app.platform.extensions import db
from app.platform.security.actor import cli_actor
from app.scheduling.availability import holiday_region
from app.scheduling.booking import BookingRequest, ConflictError, book
from app.scheduling.engine.calendar import public_holidays, zone_of
from app.scheduling.hours import TRAINING, Absence, Break, Closure, HolidayOpening, OpeningHours, WorkingHours
from app.scheduling.models import DEVICE, ROOM, AppointmentType, Resource, TypeRequirement
from app.scheduling.resolve import SchedulingError
from app.tenancy.models import Location

DEMO_SLUG = "demo"
HOLIDAY_REGION = "BE"  # the demo practice is in Berlin
GROUP_ROOM = "group_room"
VALID_FROM = date(2026, 1, 1)
# name -> (colour, minutes, kinds of resource needed (one of each at the booked location), slot step)
TYPES = {
    "Krankengymnastik": ("#3b82f6", 30, (ROOM,), 15),
    "Manuelle Therapie": ("#10b981", 45, (ROOM,), 15),
    "Lymphdrainage": ("#8b5cf6", 60, (ROOM,), 15),
    "Stoßwellentherapie": ("#f59e0b", 15, (DEVICE, ROOM), 15),
    "Rückenschule": ("#ef4444", 60, (GROUP_ROOM,), 30),
}
# Per location: (kind, name, places)
RESOURCES = ((ROOM, "Behandlungsraum 1", 1), (ROOM, "Behandlungsraum 2", 1), (DEVICE, "Stoßwellengerät", 1),
             (GROUP_ROOM, "Gymnastikraum", 8))
OPENING = ((time(7, 30), time(19)),)  # Monday to Friday at every location
# therapist email -> ((weekday, location index, from, until), ...), their daily break (from, until)
WORK = {
    "therapeut@demo.test": (tuple((day, 0, time(8), time(16)) for day in range(5)), (time(12), time(12, 30))),
    "therapeutin@demo.test": (tuple((day, 0 if day < 3 else 1, time(9), time(17)) for day in range(5)),
                              (time(13), time(13, 30))),
}
ABSENCE = ("therapeutin@demo.test", 10, 3, "Fortbildung Lymphologie (Demo)")  # starts in 10 days, lasts 3 days
# The day plan of each therapist: (hour, minute, type); patients rotate through the demo patients.
DAY_PLAN = {
    "therapeut@demo.test": ((8, 0, "Krankengymnastik"), (9, 0, "Manuelle Therapie"), (10, 0, "Stoßwellentherapie"),
                            (11, 0, "Krankengymnastik"), (14, 0, "Lymphdrainage")),
    "therapeutin@demo.test": ((9, 0, "Lymphdrainage"), (10, 30, "Krankengymnastik"),
                              (11, 30, "Stoßwellentherapie"), (14, 0, "Rückenschule"), (15, 30, "Manuelle Therapie")),
}
WEEKS = 3
MAINTENANCE_IN_DAYS = 14
DEMO_PREFIX = "demo-local-"


def load_scheduling_demo(practice):
    """Add the scheduling demo data the demo practice lacks; other practices get none. Returns the rows created."""
    if practice.slug != DEMO_SLUG:
        return 0
    if not (practice.settings or {}).get("holiday_region"):
        practice.settings = {**(practice.settings or {}), "holiday_region": HOLIDAY_REGION}
    locations = list(db.session.scalars(select(Location).where(Location.practice_id == practice.id)
                                        .order_by(Location.id)))
    therapists = {user.email: user for user in db.session.scalars(select(User).where(
        User.practice_id == practice.id, User.email.in_(WORK)))}
    if not locations or len(therapists) != len(WORK):
        return 0
    created = _resources(practice, locations)
    db.session.flush()
    created += _types(practice)
    created += _hours(practice, locations, therapists)
    created += _absence(practice, therapists)
    created += _maintenance(practice, locations)
    created += _holiday_opening(practice)
    db.session.commit()
    return created + _appointments(practice, locations, therapists)


def _resources(practice, locations):
    """The rooms, the device and the group room of each location, where missing."""
    existing = set(db.session.execute(select(Resource.location_id, Resource.name).where(
        Resource.practice_id == practice.id)).tuples())
    created = 0
    for location in locations:
        for kind, name, places in RESOURCES:
            if (location.id, name) not in existing:
                db.session.add(Resource(practice_id=practice.id, location_id=location.id, kind=kind, name=name,
                                        capacity=places))
                created += 1
    return created


def _types(practice):
    """The demo treatments, where missing; each needs one resource of each of its kinds at the booked location
    (the shockwave type: the location's device and a treatment room)."""
    existing = set(db.session.scalars(select(AppointmentType.name).where(AppointmentType.practice_id == practice.id)))
    created = 0
    for name, (colour, minutes, needs, step) in TYPES.items():
        if name in existing:
            continue
        requirements = [TypeRequirement(kind=kind, count=1, mode="any") for kind in needs]
        db.session.add(AppointmentType(practice_id=practice.id, name=name, colour=colour, duration_minutes=minutes,
                                       slot_step_minutes=step, min_notice_minutes=60, horizon_days=180,
                                       therapist_buffer_after=5 if minutes >= 45 else 0,
                                       requirements=requirements))
        created += 1
    return created


def _hours(practice, locations, therapists):
    """Opening hours per location, working hours and a daily break per therapist, each where the owner has none."""
    created = 0
    opened = set(db.session.scalars(select(OpeningHours.location_id).where(OpeningHours.practice_id == practice.id)))
    for location in locations:
        if location.id in opened:
            continue
        for weekday in range(5):
            for start, end in OPENING:
                db.session.add(OpeningHours(practice_id=practice.id, location_id=location.id, weekday=weekday,
                                            start_time=start, end_time=end, valid_from=VALID_FROM))
                created += 1
    working = set(db.session.scalars(select(WorkingHours.therapist_id).where(WorkingHours.practice_id == practice.id)))
    breaking = set(db.session.scalars(select(Break.therapist_id).where(Break.practice_id == practice.id)))
    for email, (days, (break_start, break_end)) in WORK.items():
        therapist = therapists[email]
        if therapist.id not in working:
            for weekday, index, start, end in days:
                location = locations[min(index, len(locations) - 1)]
                db.session.add(WorkingHours(practice_id=practice.id, therapist_id=therapist.id,
                                            location_id=location.id, weekday=weekday, start_time=start,
                                            end_time=end, valid_from=VALID_FROM))
                created += 1
        if therapist.id not in breaking:
            for weekday, *_rest in days:
                db.session.add(Break(practice_id=practice.id, therapist_id=therapist.id, weekday=weekday,
                                     start_time=break_start, end_time=break_end))
                created += 1
    return created


def _absence(practice, therapists):
    """The upcoming training of one therapist, unless that therapist already has an absence."""
    email, in_days, days, note = ABSENCE
    therapist = therapists[email]
    if db.session.scalar(select(Absence.id).where(Absence.therapist_id == therapist.id).limit(1)) is not None:
        return 0
    zone = zone_of(practice.timezone)
    first = datetime.combine(_today(practice) + timedelta(days=in_days), time(0), zone)
    db.session.add(Absence(practice_id=practice.id, therapist_id=therapist.id, starts_at=first,
                           ends_at=datetime.combine(first.date() + timedelta(days=days), time(0), zone),
                           reason=TRAINING, note=note))
    return 1


def _maintenance(practice, locations):
    """A morning's maintenance of the first location's shockwave device in two weeks, unless a closure exists."""
    if db.session.scalar(select(Closure.id).where(Closure.practice_id == practice.id).limit(1)) is not None:
        return 0
    device = db.session.scalar(select(Resource.id).where(Resource.location_id == locations[0].id,
                                                         Resource.kind == DEVICE).order_by(Resource.id).limit(1))
    day, zone = _today(practice) + timedelta(days=MAINTENANCE_IN_DAYS), zone_of(practice.timezone)
    db.session.add(Closure(practice_id=practice.id, resource_id=device, starts_at=datetime.combine(day, time(7), zone),
                           ends_at=datetime.combine(day, time(12), zone), note="Wartung Stoßwellengerät (Demo)"))
    return 1


def _holiday_opening(practice):
    """The practice opens on purpose on the first weekday holiday at least a month ahead, unless it opens on one."""
    if db.session.scalar(select(HolidayOpening.id).where(HolidayOpening.practice_id == practice.id).limit(1)):
        return 0
    first = _today(practice) + timedelta(days=30)
    days = [first + timedelta(days=offset) for offset in range(366)]
    country, region = holiday_region(practice)
    weekdays = sorted(on for on in public_holidays(country, region, days) if on.weekday() < 5)
    if not weekdays:
        return 0
    db.session.add(HolidayOpening(practice_id=practice.id, day=weekdays[0]))
    return 1


def _today(practice):
    """Today in the practice's zone."""
    return datetime.now(zone_of(practice.timezone)).date()


def _appointments(practice, locations, therapists):
    """Book the day plans of the next weeks through the engine, once: skipped entirely when demo bookings exist.
    A planned appointment that collides with a rule or another booking is left out."""
    if db.session.scalar(select(Appointment.id).where(
            Appointment.practice_id == practice.id, Appointment.external_id.like(f"{DEMO_PREFIX}%")).limit(1)):
        return 0
    types = {row.name: row for row in db.session.scalars(select(AppointmentType).where(
        AppointmentType.practice_id == practice.id, AppointmentType.name.in_(TYPES)))}
    # Each therapist sees their own patients only (an appointment makes a patient the therapist's own), so the
    # demo books every therapist's day with the patients assigned to them.
    patients_of = {}
    for patient_id, therapist_id in db.session.execute(select(Patient.id, Patient.therapist_id).where(
            Patient.practice_id == practice.id, Patient.archived_at.is_(None)).order_by(Patient.id)):
        patients_of.setdefault(therapist_id, []).append(patient_id)
    zone, actor, created = zone_of(practice.timezone), cli_actor(practice_id=practice.id), 0
    for offset in range(1, WEEKS * 7 + 1):
        day = _today(practice) + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for number, (email, plan) in enumerate(DAY_PLAN.items()):
            days = {weekday: index for weekday, index, *_times in WORK[email][0]}
            location = locations[min(days.get(day.weekday(), 0), len(locations) - 1)]
            for slot, (hour, minute, type_name) in enumerate(plan):
                own = patients_of.get(therapists[email].id, [])
                patient = own[(offset * 3 + slot * 2) % len(own)] if own else None
                start = datetime.combine(day, time(hour, minute), zone)
                try:
                    appointment = book(actor, practice, BookingRequest(
                        type_id=types[type_name].id, therapist_id=therapists[email].id, location_id=location.id,
                        start=start, patient_id=patient))
                except (ConflictError, SchedulingError):
                    db.session.rollback()
                    continue
                appointment.external_id = f"{DEMO_PREFIX}{day.isoformat()}-{number}-{slot}"
                db.session.commit()
                created += 1
    return created
