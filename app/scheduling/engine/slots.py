"""Slot suggestions on plain data: the next free starts for a type, with the therapist and the concrete resources
each would use, every one passed through the same conflict check as a booking. Starts lie on the type's grid of
wall-clock times in the practice's zone (08:00, 08:15, ...), so a daylight-saving switch neither shifts them nor
offers a time that does not exist, nor the repeated hour twice."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from flask_babel import gettext as _

from app.scheduling.engine.calendar import exists_locally, intersect, local_days
from app.scheduling.engine.conflicts import RESOURCE, THERAPIST, Candidate, Span, is_free, peak_load

MORNING, AFTERNOON = "morning", "afternoon"
NOON = time(12, 0)
NO_HOURS, ALL_BOOKED, NO_RESOURCES = "no_hours", "all_booked", "no_resources"


@dataclass(frozen=True)
class Requirement:
    """A resource need resolved for one location: ``count`` of ``candidates`` (mode ``any``) or all of them
    (mode ``all``). ``label`` names it when the location cannot meet it."""

    mode: str
    count: int
    candidates: tuple
    label: str = ""

    def satisfiable(self):
        """False when the location lacks enough (active) resources for it."""
        return len(self.candidates) >= (self.count if self.mode == "any" else 1)


@dataclass(frozen=True)
class Buffers:
    """Minutes before and after an appointment that the room and the therapist stay taken."""

    room_before: int = 0
    room_after: int = 0
    therapist_before: int = 0
    therapist_after: int = 0


@dataclass(frozen=True)
class SlotQuery:
    """What to look for. ``requirements`` maps location id to its resolved requirements; ``earliest`` already
    includes the type's minimum notice, ``latest`` its horizon."""

    duration: int
    step: int
    earliest: datetime
    latest: datetime
    therapist_ids: tuple
    location_ids: tuple
    requirements: dict
    buffers: Buffers = field(default_factory=Buffers)
    part_of_day: str | None = None
    patient_id: int | None = None
    limit: int = 10
    ignore_appointment_id: int | None = None


@dataclass(frozen=True)
class Slot:
    """A free start with the therapist, location and resources it would use."""

    start: datetime
    end: datetime
    therapist_id: int
    location_id: int
    resource_ids: tuple


def spans_for(start, end, therapist_id, resource_ids, buffers):
    """The spans a booking of ``[start, end)`` holds: the therapist and each resource with their buffers."""
    therapist = Span(THERAPIST, therapist_id, start - timedelta(minutes=buffers.therapist_before),
                     end + timedelta(minutes=buffers.therapist_after))
    room_start = start - timedelta(minutes=buffers.room_before)
    room_end = end + timedelta(minutes=buffers.room_after)
    return (therapist, *(Span(RESOURCE, resource_id, room_start, room_end) for resource_id in resource_ids))


def _resource_free(calendar, resource_id, start, end, ignore):
    """True when the resource has a place left over ``[start, end)``."""
    busy = calendar.busy_with(RESOURCE, resource_id, start, end, ignore)
    if not busy:
        return True
    capacity = calendar.capacity.get(resource_id, 1)
    return capacity > 1 and peak_load(busy, start, end) < capacity


def pick_resources(requirements, calendar, start, end, buffers, ignore=None, *, fill_busy=False):
    """Concrete resources meeting every requirement over the room span of ``[start, end)``, free ones first; None
    when there are not enough free ones, unless ``fill_busy``: then taken ones fill the gap (a booking that is
    about to be refused then names what is taken)."""
    room_start = start - timedelta(minutes=buffers.room_before)
    room_end = end + timedelta(minutes=buffers.room_after)
    chosen = []
    for requirement in requirements:
        needed = len(requirement.candidates) if requirement.mode == "all" else requirement.count
        free = []
        for rid in requirement.candidates:  # stop at the first ``needed`` free ones
            if len(free) == needed:
                break
            if rid not in chosen and _resource_free(calendar, rid, room_start, room_end, ignore):
                free.append(rid)
        if len(free) < needed:
            if not fill_busy:
                return None
            free += [rid for rid in requirement.candidates if rid not in chosen and rid not in free]
        chosen.extend(free[:needed])
    return tuple(chosen)


def grid_starts(window_start, window_end, duration, step, zone):
    """UTC starts on the local wall-clock grid (multiples of ``step`` minutes after local midnight) such that
    ``[start, start + duration)`` lies in the window. Local times that do not exist are skipped; a repeated
    local time is offered once (its first occurrence)."""
    local = window_start.astimezone(zone)
    midnight = datetime.combine(local.date(), time.min)
    minutes = local.hour * 60 + local.minute + (1 if local.second or local.microsecond else 0)
    offset = -(-minutes // step) * step
    seen = set()
    while True:
        naive = midnight + timedelta(minutes=offset)
        offset += step
        if not exists_locally(naive, zone):
            continue
        start = naive.replace(tzinfo=zone).astimezone(UTC)
        if start + timedelta(minutes=duration) > window_end:
            if start >= window_end:
                return
            continue
        if start < window_start or naive in seen:
            continue
        seen.add(naive)
        yield start


def _wanted(start, part_of_day, zone):
    """True when ``start`` falls in the part of day asked for (local time before or from noon)."""
    if part_of_day is None:
        return True
    before_noon = start.astimezone(zone).time() < NOON
    return before_noon if part_of_day == MORNING else not before_noon


def _day_slots(query, calendar, day_start, day_end, tally):
    """The free slots of one local day for every therapist and location, by start."""
    found = []
    duration = timedelta(minutes=query.duration)
    for location_id in query.location_ids:
        requirements = query.requirements.get(location_id, [])
        if not all(requirement.satisfiable() for requirement in requirements):
            tally[NO_RESOURCES] += 1
            continue
        opening = intersect(calendar.opening.get(location_id, []), [(day_start, day_end)])
        for therapist_id in query.therapist_ids:
            working = calendar.working.get(therapist_id, {}).get(location_id, [])
            for window_start, window_end in intersect(intersect(working, opening),
                                                      [(max(day_start, query.earliest), day_end)]):
                tally[NO_HOURS] -= 1  # a window exists somewhere: hours are not the reason (0: none anywhere)
                for start in grid_starts(window_start, window_end, query.duration, query.step, calendar.zone):
                    if start >= query.latest:
                        break
                    if not _wanted(start, query.part_of_day, calendar.zone):
                        continue
                    end = start + duration
                    # The therapist first: most taken times fail here, before any resource is looked at.
                    therapist_busy = calendar.busy_with(
                        THERAPIST, therapist_id, start - timedelta(minutes=query.buffers.therapist_before),
                        end + timedelta(minutes=query.buffers.therapist_after), query.ignore_appointment_id)
                    resources = None if therapist_busy else pick_resources(
                        requirements, calendar, start, end, query.buffers, query.ignore_appointment_id)
                    if resources is None:
                        tally[ALL_BOOKED] += 1
                        continue
                    candidate = Candidate(start, end, therapist_id, location_id,
                                          spans_for(start, end, therapist_id, resources, query.buffers),
                                          query.patient_id, query.ignore_appointment_id)
                    if is_free(candidate, calendar):
                        found.append(Slot(start, end, therapist_id, location_id, resources))
                    else:
                        tally[ALL_BOOKED] += 1
    found.sort(key=lambda slot: (slot.start, slot.therapist_id, slot.location_id))
    return found


def suggest(query, calendar, tally=None):
    """(the first ``query.limit`` free slots in time order, the reasons when there are none). Reasons are
    sentences: no hours in the range, everything booked, or a location lacking a needed resource. ``tally``: a
    Counter shared by searches over consecutive stretches of one range, so the reasons speak of all of them."""
    slots = []
    tally = tally if tally is not None else Counter()
    for day in local_days(query.earliest, query.latest, calendar.zone):
        day_start = datetime.combine(day, time.min, calendar.zone).astimezone(UTC)
        day_end = datetime.combine(day + timedelta(days=1), time.min, calendar.zone).astimezone(UTC)
        slots.extend(_day_slots(query, calendar, day_start, day_end, tally))
        if len(slots) >= query.limit:
            break
    slots = slots[:query.limit]
    return slots, ([] if slots else _reasons(query, tally))


def _reasons(query, tally):
    """Why nothing fits, most telling first."""
    reasons = []
    if tally[NO_RESOURCES]:
        for location_id in query.location_ids:
            for requirement in query.requirements.get(location_id, []):
                if not requirement.satisfiable():
                    reasons.append(_("The location lacks what this type needs: %(what)s.", what=requirement.label))
    if tally[NO_HOURS] == 0 and not tally[NO_RESOURCES]:
        reasons.append(_("No therapist who gives this type works in the chosen period while the location is "
                         "open."))
    elif tally[NO_HOURS] < 0:
        reasons.append(_("Everything is booked or blocked (breaks, absences, closures, holidays) in the chosen "
                         "period."))
    return list(dict.fromkeys(reasons))
