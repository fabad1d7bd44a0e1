"""The one conflict check every booking path uses (API, UI, series, slot suggestions), on plain data: a candidate
booking against a calendar of busy intervals and rules. Each conflict says its kind, whether it blocks (hard: the
therapist, a room or a device is taken) or may be overridden (soft: patient overlap, outside hours, break, absence,
closure, holiday), a reason a receptionist understands and what it collides with."""

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import chain

from flask_babel import gettext as _

from app.scheduling.engine.calendar import covered, merge

THERAPIST, RESOURCE, PATIENT = "therapist", "resource", "patient"
PRACTICE, LOCATION = "practice", "location"
THERAPIST_BUSY, RESOURCE_BUSY, PATIENT_BUSY = "therapist_busy", "resource_busy", "patient_busy"
OUTSIDE_WORKING_HOURS, OUTSIDE_OPENING_HOURS = "outside_working_hours", "outside_opening_hours"
BREAK, ABSENCE, CLOSURE, HOLIDAY = "break", "absence", "closure", "holiday"
HARD_KINDS = frozenset({THERAPIST_BUSY, RESOURCE_BUSY})


@dataclass(frozen=True)
class Span:
    """What a booking holds: a therapist or a resource over ``[start, end)`` in UTC, buffers included."""

    owner_kind: str
    owner_id: int
    start: object
    end: object


@dataclass(frozen=True)
class Candidate:
    """A booking to check: its own times (for hours, breaks and the patient) and the spans it would hold."""

    start: object
    end: object
    therapist_id: int
    location_id: int
    spans: tuple
    patient_id: int | None = None
    ignore_appointment_id: int | None = None


@dataclass(frozen=True)
class Busy:
    """An interval a therapist, resource or patient is taken by an appointment (any source)."""

    owner_kind: str
    owner_id: int
    start: object
    end: object
    appointment_id: int


@dataclass(frozen=True)
class Blocker:
    """A rule that makes a time unavailable: a break or absence (therapist), a closure (practice, location or
    resource) or a public holiday (practice). ``ref`` names the rule for the client; ``detail`` is shown."""

    kind: str
    scope: str
    owner_id: int | None
    start: object
    end: object
    ref: dict
    detail: str = ""


@dataclass(frozen=True)
class Conflict:
    """One reason a booking cannot (hard) or should not (soft) be made. The sentence is written only when asked
    for (``reason``): slot suggestions test thousands of candidates and only need to know whether one conflicts."""

    kind: str
    describe: object = field(compare=False, repr=False)
    with_: dict = field(default_factory=dict)

    @property
    def reason(self):
        """The sentence a receptionist reads, in the request's language."""
        return self.describe()

    @property
    def hard(self):
        """True when no override may book over it."""
        return self.kind in HARD_KINDS

    def as_json(self):
        """The API form ``{"kind", "reason", "with"}``."""
        return {"kind": self.kind, "reason": self.reason, "with": self.with_}


class _Intervals:
    """Intervals of one owner sorted by start, for overlap lookups in O(log n + hits)."""

    def __init__(self, items):
        self.items = sorted(items, key=lambda item: item.start)
        self.starts = [item.start for item in self.items]
        self.longest = max((item.end - item.start for item in self.items), default=timedelta(0))

    def overlapping(self, start, end):
        """The items overlapping ``[start, end)``."""
        first = bisect_left(self.starts, start - self.longest)
        last = bisect_left(self.starts, end)
        return [item for item in self.items[first:last] if item.end > start]


@dataclass
class Calendar:
    """Everything the check needs for the owners and days involved, already read: the practice's zone, working
    windows per therapist and location, opening windows per location, blockers, busy intervals, resource
    capacities and the display names of therapists, locations and resources."""

    zone: object
    working: dict = field(default_factory=dict)   # therapist id -> {location id: [(start, end)]}
    opening: dict = field(default_factory=dict)   # location id -> [(start, end)]
    blockers: list = field(default_factory=list)
    busy: list = field(default_factory=list)
    capacity: dict = field(default_factory=dict)  # resource id -> capacity
    names: dict = field(default_factory=dict)     # (kind, id) -> name

    def __post_init__(self):
        grouped = defaultdict(list)
        for item in self.busy:
            grouped[(item.owner_kind, item.owner_id)].append(item)
        self._busy = {key: _Intervals(items) for key, items in grouped.items()}
        grouped = defaultdict(list)
        for item in self.blockers:
            grouped[(item.scope, item.owner_id)].append(item)
        self._blockers = {key: _Intervals(items) for key, items in grouped.items()}
        self.working = {therapist: {location: merge(windows) for location, windows in by_location.items()}
                        for therapist, by_location in self.working.items()}
        self.opening = {location: merge(windows) for location, windows in self.opening.items()}

    def busy_with(self, owner_kind, owner_id, start, end, ignore=None):
        """The busy intervals of an owner overlapping ``[start, end)``, without appointment ``ignore``."""
        index = self._busy.get((owner_kind, owner_id))
        if index is None:
            return []
        return [item for item in index.overlapping(start, end) if item.appointment_id != ignore]

    def blocked_by(self, scope, owner_id, start, end):
        """The blockers of a scope and owner overlapping ``[start, end)``."""
        index = self._blockers.get((scope, owner_id))
        return index.overlapping(start, end) if index is not None else []

    def name(self, kind, owner_id):
        """The display name of a therapist, resource or location."""
        return self.names.get((kind, owner_id), f"#{owner_id}")

    def when(self, instant):
        """A UTC instant as the practice reads it: TT.MM.JJJJ HH:MM."""
        return instant.astimezone(self.zone).strftime("%d.%m.%Y %H:%M")


def peak_load(intervals, start, end):
    """The most of ``intervals`` that overlap one another at any instant within ``[start, end)``."""
    events = []
    for item in intervals:
        events.append((max(item.start, start), 1))
        events.append((min(item.end, end), -1))
    load = peak = 0
    for _instant, step in sorted(events, key=lambda event: (event[0], event[1])):
        load += step
        peak = max(peak, load)
    return peak


def _appointment(item):
    """What a busy interval collides with, for the client."""
    return {"type": "appointment", "id": item.appointment_id}


def _span_conflicts(candidate, calendar):
    """Hard conflicts: a therapist span over another booking, a resource span at its capacity."""
    for span in candidate.spans:
        busy = calendar.busy_with(span.owner_kind, span.owner_id, span.start, span.end,
                                  candidate.ignore_appointment_id)
        if not busy:
            continue
        name = calendar.name(span.owner_kind, span.owner_id)
        if span.owner_kind == THERAPIST:
            for item in busy:
                yield Conflict(THERAPIST_BUSY, lambda item=item, name=name: _(
                    "%(name)s already has an appointment from %(start)s to %(end)s.", name=name,
                    start=calendar.when(item.start), end=calendar.when(item.end)), _appointment(item))
            continue
        capacity = calendar.capacity.get(span.owner_id, 1)
        if peak_load(busy, span.start, span.end) < capacity:
            continue
        first = min(busy, key=lambda item: item.start)

        def describe(first=first, capacity=capacity, name=name):
            start, end = calendar.when(first.start), calendar.when(first.end)
            if capacity == 1:
                return _("%(name)s is already booked from %(start)s to %(end)s.", name=name, start=start, end=end)
            return _("%(name)s is full from %(start)s to %(end)s (%(capacity)d places).", name=name, start=start,
                     end=end, capacity=capacity)

        yield Conflict(RESOURCE_BUSY, describe, {**_appointment(first), "resource_id": span.owner_id})


def _patient_conflicts(candidate, calendar):
    """Soft: the patient already has an appointment overlapping this one."""
    if candidate.patient_id is None:
        return
    for item in calendar.busy_with(PATIENT, candidate.patient_id, candidate.start, candidate.end,
                                   candidate.ignore_appointment_id):
        yield Conflict(PATIENT_BUSY, lambda item=item: _(
            "The patient already has an appointment from %(start)s to %(end)s.",
            start=calendar.when(item.start), end=calendar.when(item.end)), _appointment(item))


def _hours_conflicts(candidate, calendar):
    """Soft: the booking outside the therapist's working hours at the location, or the location's opening hours."""
    therapist, location = candidate.therapist_id, candidate.location_id
    working = calendar.working.get(therapist, {}).get(location, [])
    if not covered(working, candidate.start, candidate.end):
        yield Conflict(OUTSIDE_WORKING_HOURS, lambda: _(
            "%(name)s does not work at %(location)s at this time.", name=calendar.name(THERAPIST, therapist),
            location=calendar.name(LOCATION, location)), {"type": "working_hours", "therapist_id": therapist})
    if not covered(calendar.opening.get(location, []), candidate.start, candidate.end):
        yield Conflict(OUTSIDE_OPENING_HOURS, lambda: _(
            "%(location)s is not open at this time.", location=calendar.name(LOCATION, location)),
            {"type": "opening_hours", "location_id": location})


def _blocker_reason(blocker, calendar):
    """The sentence for one blocker."""
    start, end = calendar.when(blocker.start), calendar.when(blocker.end)
    if blocker.kind == BREAK:
        return _("%(name)s has a break from %(start)s to %(end)s.", name=calendar.name(THERAPIST, blocker.owner_id),
                 start=start, end=end)
    if blocker.kind == ABSENCE:
        return _("%(name)s is absent from %(start)s to %(end)s (%(reason)s).",
                 name=calendar.name(THERAPIST, blocker.owner_id), start=start, end=end, reason=blocker.detail)
    if blocker.kind == HOLIDAY:
        return _("%(day)s is a public holiday (%(name)s); the practice is closed.",
                 day=blocker.start.astimezone(calendar.zone).strftime("%d.%m.%Y"), name=blocker.detail)
    what = (_("The practice") if blocker.scope == PRACTICE
            else calendar.name(LOCATION if blocker.scope == LOCATION else RESOURCE, blocker.owner_id))
    return _("%(what)s is closed from %(start)s to %(end)s.", what=what, start=start, end=end)


def _blocker_conflicts(candidate, calendar):
    """Soft: breaks and absences of the therapist, closures and holidays that overlap the booking."""
    owners = [(THERAPIST, candidate.therapist_id), (PRACTICE, None), (LOCATION, candidate.location_id)]
    owners += [(RESOURCE, span.owner_id) for span in candidate.spans if span.owner_kind == RESOURCE]
    for scope, owner_id in owners:
        for blocker in calendar.blocked_by(scope, owner_id, candidate.start, candidate.end):
            yield Conflict(blocker.kind, lambda blocker=blocker: _blocker_reason(blocker, calendar), blocker.ref)


def _conflicts(candidate, calendar):
    """All conflicts, lazily, hard ones first."""
    return chain(_span_conflicts(candidate, calendar), _patient_conflicts(candidate, calendar),
                 _hours_conflicts(candidate, calendar), _blocker_conflicts(candidate, calendar))


def check(candidate, calendar):
    """Every conflict of ``candidate`` against ``calendar``, hard ones first; [] when it may be booked."""
    return list(_conflicts(candidate, calendar))


def is_free(candidate, calendar):
    """True when ``candidate`` has no conflict at all (what slot suggestions require); stops at the first."""
    return next(_conflicts(candidate, calendar), None) is None
