"""Turning what a client asks for (type, therapist, location, resources, times) into checked domain objects, with
an error a person can act on for each thing that is wrong: unknown or inactive type, resource or therapist, a
therapist who does not give the type, resources that do not meet the type's needs, times that make no sense."""

from datetime import UTC, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.models import User
from app.patients.models import Patient
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.scheduling.engine.calendar import zone_of
from app.scheduling.engine.slots import Buffers, Requirement
from app.scheduling.models import ALL_OF, MAX_OCCUPANCY_MINUTES, AppointmentType, Resource
from app.tenancy.models import Location

THERAPIST_ROLE = "therapist"


class SchedulingError(ServiceError):
    """Input the scheduling engine cannot work with; ``field`` names the API field."""


def parse_moment(value, practice, field):
    """An aware UTC datetime from ISO 8601 text. With an offset it is that instant; without one it is wall-clock
    time in the practice's zone, refused when that time does not exist or occurs twice (DST switches)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise SchedulingError(_("Give a date and time like 2027-03-01T09:30 (with or without offset)."),
                                  field) from None
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    zone = zone_of(practice.timezone)
    first, second = parsed.replace(tzinfo=zone, fold=0), parsed.replace(tzinfo=zone, fold=1)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != parsed:
        raise SchedulingError(_("%(time)s does not exist in %(zone)s: the clocks go forward by one hour then.",
                                time=parsed.strftime("%d.%m.%Y %H:%M"), zone=practice.timezone), field)
    if first.utcoffset() != second.utcoffset():
        raise SchedulingError(_("%(time)s occurs twice in %(zone)s (the clocks go back); give the UTC offset, "
                                "e.g. +02:00 or +01:00.", time=parsed.strftime("%d.%m.%Y %H:%M"),
                                zone=practice.timezone), field)
    return first.astimezone(UTC)


def get_type(practice, type_id, *, active=True, field="type"):
    """The practice's appointment type ``type_id``; refused when unknown or (if ``active``) inactive."""
    appointment_type = get_owned(AppointmentType, practice, type_id)
    if appointment_type is None:
        raise SchedulingError(_("This appointment type does not exist."), field)
    if active and not appointment_type.active:
        raise SchedulingError(_("The appointment type “%(name)s” is inactive.", name=appointment_type.name), field)
    return appointment_type


def get_location(practice, location_id, field="location"):
    """The practice's location ``location_id``, refused when unknown."""
    location = get_owned(Location, practice, location_id)
    if location is None:
        raise SchedulingError(_("This location does not exist."), field)
    return location


def get_patient_of(practice, patient_id, field="patient_id"):
    """The practice's patient ``patient_id`` (None stays None), refused when unknown or archived."""
    if patient_id is None:
        return None
    patient = get_owned(Patient, practice, patient_id)
    if patient is None or patient.archived_at is not None:
        raise SchedulingError(_("This patient does not exist."), field)
    return patient


def get_therapist(practice, user_id, field="doctor"):
    """An active user of the practice who treats patients, refused otherwise."""
    user = get_owned(User, practice, user_id)
    if user is None or not user.active:
        raise SchedulingError(_("This therapist does not exist or is inactive."), field)
    return user


def qualified_therapists(practice, appointment_type):
    """The active users who may give ``appointment_type``: those named on the type, else every active therapist."""
    query = select(User).where(User.practice_id == practice.id, User.active.is_(True))
    allowed = appointment_type.therapist_ids
    query = query.where(User.id.in_(allowed)) if allowed else query.where(User.role == THERAPIST_ROLE)
    return db.session.scalars(query.order_by(User.id)).all()


def check_qualified(appointment_type, therapist):
    """Refuse a therapist the type does not name (when it names any)."""
    allowed = appointment_type.therapist_ids
    if allowed and therapist.id not in allowed:
        raise SchedulingError(_("%(name)s does not give “%(type)s”.", name=therapist.name,
                                type=appointment_type.name), "doctor")


def resolve_requirements(practice, appointment_type, location_ids):
    """{location id: [Requirement]}: the type's needs met by the active resources at each location."""
    resources = db.session.scalars(select(Resource).where(
        Resource.practice_id == practice.id, Resource.location_id.in_(location_ids),
        Resource.active.is_(True)).order_by(Resource.id)).all()
    resolved = {}
    for location_id in location_ids:
        here = [resource for resource in resources if resource.location_id == location_id]
        needs = []
        for requirement in appointment_type.requirements:
            if requirement.resource_id is not None:
                candidates = tuple(r.id for r in here if r.id == requirement.resource_id)
                named = db.session.get(Resource, requirement.resource_id)
                label = named.name if named else str(requirement.resource_id)
                needs.append(Requirement("any", 1, candidates, label))
                continue
            candidates = tuple(r.id for r in here if r.kind == requirement.kind)
            label = (_("every %(kind)s", kind=requirement.kind) if requirement.mode == ALL_OF
                     else f"{requirement.count} × {requirement.kind}")
            needs.append(Requirement(requirement.mode, requirement.count, candidates, label))
        resolved[location_id] = needs
    return resolved


def check_resources(practice, location, requirements, resource_ids):
    """The resources ``resource_ids`` (active, at ``location``), refused when unknown, elsewhere, inactive or not
    meeting ``requirements``."""
    resources = {r.id: r for r in db.session.scalars(select(Resource).where(
        Resource.practice_id == practice.id, Resource.id.in_(resource_ids)))}
    for resource_id in resource_ids:
        resource = resources.get(resource_id)
        if resource is None:
            raise SchedulingError(_("Resource %(id)s does not exist.", id=resource_id), "resource_ids")
        if not resource.active:
            raise SchedulingError(_("%(name)s is inactive.", name=resource.name), "resource_ids")
        if resource.location_id != location.id:
            raise SchedulingError(_("%(name)s is not at %(location)s.", name=resource.name,
                                    location=location.name), "resource_ids")
    chosen = set(resource_ids)
    for requirement in requirements:
        have = chosen.intersection(requirement.candidates)
        needed = len(requirement.candidates) if requirement.mode == ALL_OF else requirement.count
        if len(have) < max(needed, 1):
            raise SchedulingError(_("This type needs %(what)s.", what=requirement.label), "resource_ids")
    return [resources[resource_id] for resource_id in resource_ids]


def booking_times(appointment_type, start, end=None):
    """(start, end) of a booking: ``end`` defaults from the type's duration; refused when not after the start,
    not one of the type's durations or too long."""
    if end is None:
        end = start + timedelta(minutes=appointment_type.duration_minutes)
    if end <= start:
        raise SchedulingError(_("The end must be after the start."), "end_time")
    minutes = (end - start) / timedelta(minutes=1)
    if minutes not in appointment_type.durations():
        raise SchedulingError(_("“%(type)s” lasts %(allowed)s minutes.", type=appointment_type.name,
                                allowed=", ".join(str(d) for d in appointment_type.durations())), "end_time")
    if minutes + max(appointment_type.room_buffer_before + appointment_type.room_buffer_after,
                     appointment_type.therapist_buffer_before + appointment_type.therapist_buffer_after) \
            > MAX_OCCUPANCY_MINUTES:
        raise SchedulingError(_("An appointment with its buffers may last at most 12 hours."), "end_time")
    return start, end


def buffers_of(appointment_type):
    """The engine's Buffers of a type."""
    return Buffers(appointment_type.room_buffer_before, appointment_type.room_buffer_after,
                   appointment_type.therapist_buffer_before, appointment_type.therapist_buffer_after)


def get_owned(model, practice, object_id):
    """The practice's row of ``model`` with ``object_id`` (a whole number), else None: never another practice's."""
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
        return None
    row = db.session.get(model, object_id)
    return row if row is not None and row.practice_id == practice.id else None


def get_resource(practice, resource_id, field="resource"):
    """The practice's resource ``resource_id``, refused when unknown or inactive."""
    resource = get_owned(Resource, practice, resource_id)
    if resource is None:
        raise SchedulingError(_("Resource %(id)s does not exist.", id=resource_id), field)
    if not resource.active:
        raise SchedulingError(_("%(name)s is inactive.", name=resource.name), field)
    return resource
