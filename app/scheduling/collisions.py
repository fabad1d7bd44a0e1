"""Which future appointments collide with the rules as they stand now, after hours, a break, an absence, a
closure or the opening hours changed (created, edited or deleted): each is checked with the one conflict check
against a calendar read once for all of them, and listed with its reasons for the user to move. Local ones are
checked against every rule; a therapist's appointments from the booking tool or Cal.com (no location or rooms
known here) against the therapist's breaks and absences, practice closures and holidays. Nothing is moved or
cancelled here. The settings pages and the API ask the same way: ``scope_of(row)`` says whose appointments, and
over which stretch, a change of ``row`` can touch."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select

from app.appointments.models import Appointment
from app.platform.database import utcnow
from app.platform.extensions import db
from app.providers.events import INACTIVE_STATUSES
from app.scheduling.availability import load_calendar
from app.scheduling.engine.calendar import local_instant, zone_of
from app.scheduling.engine.conflicts import (
    ABSENCE,
    BREAK,
    CLOSURE,
    HOLIDAY,
    OUTSIDE_OPENING_HOURS,
    OUTSIDE_WORKING_HOURS,
    RESOURCE,
    THERAPIST,
    Candidate,
    Span,
    check,
)
from app.scheduling.hours import Absence, Break, Closure, HolidayOpening, OpeningHours, WorkingHours
from app.scheduling.models import AppointmentDetail, Occupancy

LOCAL = "local"
RULE_KINDS = frozenset({OUTSIDE_WORKING_HOURS, OUTSIDE_OPENING_HOURS, BREAK, ABSENCE, CLOSURE, HOLIDAY})
# What an appointment from another system is checked against: it has no location or rooms in the hub.
EXTERNAL_KINDS = frozenset({BREAK, ABSENCE, CLOSURE, HOLIDAY})


@dataclass(frozen=True)
class Collision:
    """A future appointment that breaks a rule now: its id, times, therapist, treatment and the reasons."""

    id: int
    starts_at: object
    ends_at: object
    therapist_id: int | None
    therapist_name: str
    service_name: str
    reasons: tuple


# Whose appointments, and within which stretch, a change of a row of each kind can make collide: working hours and
# breaks touch the therapist's (at any location), opening hours the location's, an absence the therapist's and a
# closure the location's or resource's (the practice's when it closes everything) within its time; a holiday the
# practice opens on, or stops opening on, touches every appointment of that day.
SCOPES = {
    OpeningHours: lambda row: {"location_id": row.location_id, "start": row.valid_from, "end": row.valid_to},
    WorkingHours: lambda row: {"therapist_id": row.therapist_id, "start": row.valid_from, "end": row.valid_to},
    Break: lambda row: {"therapist_id": row.therapist_id, "start": row.day, "end": row.day},
    Absence: lambda row: {"therapist_id": row.therapist_id, "start": row.starts_at, "end": row.ends_at},
    Closure: lambda row: {"location_id": row.location_id, "resource_id": row.resource_id, "start": row.starts_at,
                          "end": row.ends_at},
    HolidayOpening: lambda row: {"start": row.day, "end": row.day},
}


def scope_of(row):
    """Keyword arguments of rule_collisions for the appointments a change of ``row`` (hours, a break, an absence,
    a closure, a holiday opening) can make collide."""
    return SCOPES[type(row)](row)


def changed_scope(before, after):
    """The scope to check after an edit changed a row from scope ``before`` to ``after``: the same when nothing of
    it changed, else only what both share (an absence moved to another therapist: the practice's appointments;
    moved in time: all of the therapist's from now), so what collides under the old and the new values is listed."""
    return after if after == before else {name: value for name, value in after.items() if before.get(name) == value}


def _instant(value, zone, end=False):
    """A stretch's bound as a UTC instant: an instant as it is, a local date as the start of that day (of the next
    day for an end, so a date range includes its last day), None open."""
    if value is None or isinstance(value, datetime):
        return value
    return local_instant(value + timedelta(days=1) if end else value, time.min, zone)


def rule_collisions(practice, *, therapist_id=None, location_id=None, resource_id=None, start=None, end=None,
                    now=None, scan=1000, limit=100):
    """Scheduled appointments from ``now`` (the next ``scan`` of the therapist's, the location's, the resource's,
    or without any of them the practice's; appointments from other systems only by therapist or practice), and
    overlapping ``[start, end)`` when given (instants, or local dates: from the start of ``start`` to the end of
    ``end``), that now fall outside hours or into a break, absence, closure or holiday, by start, at most
    ``limit``. Three reads whatever their number: the appointments, what they occupy, and the calendar over their
    span."""
    zone = zone_of(practice.timezone)
    start, end = _instant(start, zone), _instant(end, zone, end=True)
    query = (select(Appointment.id, Appointment.starts_at, Appointment.ends_at, Appointment.therapist_id,
                    Appointment.therapist_name, Appointment.service_name, Appointment.patient_id,
                    Appointment.source, AppointmentDetail.location_id)
             .outerjoin(AppointmentDetail, AppointmentDetail.appointment_id == Appointment.id)
             .where(Appointment.practice_id == practice.id, Appointment.status.not_in(INACTIVE_STATUSES),
                    Appointment.starts_at >= (now or utcnow()),
                    (Appointment.source == LOCAL) | Appointment.therapist_id.is_not(None)))
    if start is not None:
        query = query.where(Appointment.ends_at > start)
    if end is not None:
        query = query.where(Appointment.starts_at < end)
    if therapist_id is not None:
        query = query.where(Appointment.therapist_id == therapist_id)
    if location_id is not None:
        query = query.where(AppointmentDetail.location_id == location_id)
    if resource_id is not None:
        query = query.where(Appointment.id.in_(select(Occupancy.appointment_id).where(
            Occupancy.resource_id == resource_id)))
    rows = db.session.execute(query.order_by(Appointment.starts_at).limit(scan)).all()
    if not rows:
        return []
    spans = {}
    for occupancy in db.session.scalars(select(Occupancy).where(Occupancy.appointment_id.in_([r.id for r in rows]))):
        owner = (THERAPIST, occupancy.therapist_id) if occupancy.therapist_id else (RESOURCE, occupancy.resource_id)
        spans.setdefault(occupancy.appointment_id, []).append(Span(*owner, occupancy.starts_at, occupancy.ends_at))
    calendar = load_calendar(
        practice, therapist_ids={row.therapist_id for row in rows if row.therapist_id},
        location_ids={row.location_id for row in rows if row.location_id},
        resource_ids={span.owner_id for held in spans.values() for span in held if span.owner_kind == RESOURCE},
        start=rows[0].starts_at, end=max(row.ends_at for row in rows))
    found = []
    for row in rows:
        local = row.source == LOCAL
        held = spans.get(row.id) or [Span(THERAPIST, row.therapist_id, row.starts_at, row.ends_at)]
        candidate = Candidate(row.starts_at, row.ends_at, row.therapist_id, row.location_id, tuple(held), None,
                              row.id)
        kinds = RULE_KINDS if local else EXTERNAL_KINDS
        reasons = tuple(conflict.reason for conflict in check(candidate, calendar) if conflict.kind in kinds)
        if reasons:
            found.append(Collision(row.id, row.starts_at, row.ends_at, row.therapist_id, row.therapist_name or "",
                                   row.service_name or "", reasons))
            if len(found) >= limit:
                break
    return found
