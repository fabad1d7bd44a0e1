"""Finding free slots for a type: "the next N slots for type X with therapist Y or any qualified one, in room Z or
any fitting one, between two dates, in the morning or afternoon". Reads the calendar once for the whole range and
hands it to the engine, which checks every slot with the same rules as a booking."""

from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from app.platform.database import utcnow
from app.platform.extensions import db
from app.scheduling import resolve
from app.scheduling.availability import load_calendar, standing
from app.scheduling.engine.slots import AFTERNOON, MORNING, Requirement, SlotQuery, suggest
from app.tenancy.models import Location

DEFAULT_DAYS = 28
MAX_DAYS = 366
MAX_LIMIT = 100
FIRST_CHUNK_DAYS = 2


@dataclass
class SlotSearch:
    """What the client asks for; ids as sent, times parsed (aware) or None."""

    type_id: object
    therapist_id: object = None
    resource_id: object = None
    location_id: object = None
    start: object = None
    end: object = None
    part_of_day: str | None = None
    limit: int = 10
    patient_id: object = None


def _narrow(requirements, resource, appointment_type):
    """The requirements with ``resource`` taking the place of the candidates of the requirement it fits."""
    for index, requirement in enumerate(requirements):
        if resource.id in requirement.candidates:
            narrowed = list(requirements)
            narrowed[index] = Requirement(requirement.mode, requirement.count, (resource.id,), requirement.label)
            return narrowed
    raise resolve.SchedulingError(_("“%(type)s” does not use %(name)s.", type=appointment_type.name,
                                    name=resource.name), "resource")


def find_slots(practice, search, now=None):
    """(free slots, reasons when there are none) for ``search``; SchedulingError on bad input."""
    now = now or utcnow()
    appointment_type = resolve.get_type(practice, search.type_id)
    if search.part_of_day not in (None, MORNING, AFTERNOON):
        raise resolve.SchedulingError(_("Part of day must be “morning” or “afternoon”."), "part_of_day")
    if not 1 <= search.limit <= MAX_LIMIT:
        raise resolve.SchedulingError(_("limit must be between 1 and %(max)d.", max=MAX_LIMIT), "limit")
    if search.therapist_id is not None:
        therapist = resolve.get_therapist(practice, search.therapist_id)
        resolve.check_qualified(appointment_type, therapist)
        therapists = [therapist]
    else:
        therapists = resolve.qualified_therapists(practice, appointment_type)
        if not therapists:
            return [], [_("No active therapist gives “%(type)s”.", type=appointment_type.name)]
    resource = None
    if search.resource_id is not None:
        resource = resolve.get_resource(practice, search.resource_id)
    if search.location_id is not None:
        locations = [resolve.get_location(practice, search.location_id)]
        if resource is not None and resource.location_id != locations[0].id:
            raise resolve.SchedulingError(_("%(name)s is not at %(location)s.", name=resource.name,
                                            location=locations[0].name), "resource")
    elif resource is not None:
        locations = [resource.location]
    else:
        locations = db.session.scalars(select(Location).where(Location.practice_id == practice.id)
                                       .order_by(Location.id)).all()
    start = max(search.start or now, now + timedelta(minutes=appointment_type.min_notice_minutes))
    end = search.end or (search.start or now) + timedelta(days=DEFAULT_DAYS)
    if end <= (search.start or now):
        raise resolve.SchedulingError(_("The end must be after the start."), "end")
    if end - (search.start or now) > timedelta(days=MAX_DAYS):
        raise resolve.SchedulingError(_("Search at most %(days)d days at once.", days=MAX_DAYS), "end")
    end = min(end, now + timedelta(days=appointment_type.horizon_days))
    if end <= start:
        return [], [_("The period lies outside what “%(type)s” can be booked for (notice and horizon).",
                      type=appointment_type.name)]
    requirements = resolve.resolve_requirements(practice, appointment_type, [loc.id for loc in locations])
    if resource is not None:
        requirements = {loc.id: _narrow(requirements[loc.id], resource, appointment_type) for loc in locations
                        if loc.id == resource.location_id}
        locations = [loc for loc in locations if loc.id == resource.location_id]
    patient = resolve.get_patient_of(practice, search.patient_id)
    query = SlotQuery(
        duration=appointment_type.duration_minutes, step=appointment_type.slot_step_minutes, earliest=start,
        latest=end, therapist_ids=tuple(t.id for t in therapists), location_ids=tuple(loc.id for loc in locations),
        requirements=requirements, buffers=resolve.buffers_of(appointment_type), part_of_day=search.part_of_day,
        patient_id=patient.id if patient else None, limit=search.limit)
    return _search_in_chunks(practice, query, appointment_type)


def _search_in_chunks(practice, query, appointment_type):
    """Run the engine over growing stretches of the range (2 days, then 4, 8, ...), reading each stretch only when
    the slots found so far are not enough; within a stretch, first without the rooms and devices (the therapists'
    own calendars are small), and the resources' bookings only from the first time a therapist is free. A slot free
    for all is free for the therapist, so nothing earlier is skipped; a fully booked therapist costs no reads of
    the rooms they share with everyone else. The hours, names and capacities are read once for all stretches."""
    buffers = query.buffers
    margin = timedelta(minutes=max(appointment_type.durations()) + max(
        buffers.room_before, buffers.room_after, buffers.therapist_before, buffers.therapist_after))
    resource_ids = [rid for needs in query.requirements.values() for need in needs for rid in need.candidates]
    unmet = {location: [need for need in needs if not need.satisfiable()]
             for location, needs in query.requirements.items()}
    owners = {"therapist_ids": query.therapist_ids, "location_ids": query.location_ids,
              "patient_id": query.patient_id}
    owners["known"] = standing(practice, therapist_ids=query.therapist_ids, location_ids=query.location_ids,
                               resource_ids=resource_ids)
    slots, reasons, tally, chunk_start, days = [], [], Counter(), query.earliest, FIRST_CHUNK_DAYS
    while chunk_start < query.latest and len(slots) < query.limit:
        chunk_end = min(chunk_start + timedelta(days=days), query.latest)
        people = load_calendar(practice, resource_ids=[], start=chunk_start - margin, end=chunk_end + margin,
                               **owners)
        probe, reasons = suggest(replace(query, earliest=chunk_start, latest=chunk_end, requirements=unmet,
                                         limit=1), people, tally)
        if probe:
            calendar = load_calendar(practice, resource_ids=resource_ids, start=probe[0].start - margin,
                                     end=chunk_end + margin, **owners)
            found, reasons = suggest(replace(query, earliest=probe[0].start, latest=chunk_end,
                                             limit=query.limit - len(slots)), calendar, tally)
            slots += found
        chunk_start, days = chunk_end, days * 2
    return slots, ([] if slots else reasons)
