"""Reading the calendar the engine checks against, for the owners and the time range involved: one indexed range
query per set of owners (therapists' occupancy, resources' occupancy, the therapists' appointments from other
systems, the patient's appointments), never one per candidate slot; plus the hours, breaks, absences, closures and
holidays of those days."""

from datetime import time, timedelta

from sqlalchemy import Date, Integer, literal, select, union_all

from app.accounts.models import User
from app.appointments.models import Appointment
from app.platform.extensions import db
from app.providers.events import INACTIVE_STATUSES
from app.scheduling.engine.calendar import (
    WeeklyRule,
    covered,
    day_bounds,
    expand,
    local_days,
    local_instant,
    public_holidays,
    zone_of,
)
from app.scheduling.engine.conflicts import (
    ABSENCE,
    BREAK,
    CLOSURE,
    HOLIDAY,
    LOCATION,
    PATIENT,
    PRACTICE,
    RESOURCE,
    THERAPIST,
    Blocker,
    Busy,
    Calendar,
)
from app.scheduling.hours import Absence, Break, Closure, HolidayOpening, OpeningHours, WorkingHours
from app.scheduling.labels import absence_reason_label
from app.scheduling.models import MAX_OCCUPANCY_MINUTES, AppointmentDetail, Occupancy, Resource
from app.tenancy.models import Location

LOOKBACK = timedelta(minutes=MAX_OCCUPANCY_MINUTES)
LOCAL = "local"


def _read(statement):
    """Rows of a Core select on the session's connection (same transaction as the booking that asks): plain tuples
    without the ORM's per-statement work, which costs more than these small indexed reads themselves."""
    return db.session.connection().execute(statement)


def holiday_region(practice):
    """(country, Bundesland/Kanton) whose public holidays close the practice, from the practice's settings."""
    settings = practice.settings or {}
    return practice.country or "DE", settings.get("holiday_region") or None


def _busy(practice, therapist_ids, resource_ids, patient_id, start, end):
    """Busy intervals overlapping ``[start, end)`` in one statement of indexed range reads: local occupancy of the
    therapists and of the resources, the therapists' appointments from other systems (a person is busy whichever
    system booked them) and the patient's appointments."""
    parts = []
    recent = (start - LOOKBACK, end, start)

    def occupancy(kind, column, ids):
        """Local bookings of the owners in ``column`` (therapist or resource) within the range."""
        return select(literal(kind), column, Occupancy.starts_at, Occupancy.ends_at, Occupancy.appointment_id).where(
            column.in_(ids), Occupancy.starts_at >= recent[0], Occupancy.starts_at < recent[1],
            Occupancy.ends_at > recent[2])

    def appointments(kind, owner, *conditions):
        """Active appointments (any source) matching ``conditions`` within the range."""
        return select(literal(kind), owner, Appointment.starts_at, Appointment.ends_at, Appointment.id).where(
            *conditions, Appointment.status.not_in(INACTIVE_STATUSES), Appointment.starts_at >= recent[0],
            Appointment.starts_at < recent[1], Appointment.ends_at > recent[2])

    if therapist_ids:
        parts.append(occupancy(THERAPIST, Occupancy.therapist_id, therapist_ids))
        parts.append(appointments(THERAPIST, Appointment.therapist_id, Appointment.practice_id == practice.id,
                                  Appointment.therapist_id.in_(therapist_ids), Appointment.source != LOCAL))
    if resource_ids:
        parts.append(occupancy(RESOURCE, Occupancy.resource_id, resource_ids))
    if patient_id is not None:
        parts.append(appointments(PATIENT, Appointment.patient_id, Appointment.patient_id == patient_id))
    if not parts:
        return []
    return [Busy(*row) for row in _read(union_all(*parts) if len(parts) > 1 else parts[0])]


def _weekly_rules(practice, therapist_ids, location_ids):
    """(working hours, opening hours, breaks) as the engine's WeeklyRules, read in one statement."""
    no_day, no_location = literal(None, Date), literal(None, Integer)
    rows = _read(union_all(
        select(literal("working"), WorkingHours.id, WorkingHours.therapist_id, WorkingHours.location_id,
               WorkingHours.weekday, no_day, WorkingHours.start_time, WorkingHours.end_time,
               WorkingHours.valid_from, WorkingHours.valid_to).where(
            WorkingHours.practice_id == practice.id, WorkingHours.therapist_id.in_(therapist_ids)),
        select(literal("opening"), OpeningHours.id, OpeningHours.location_id, OpeningHours.location_id,
               OpeningHours.weekday, no_day, OpeningHours.start_time, OpeningHours.end_time,
               OpeningHours.valid_from, OpeningHours.valid_to).where(
            OpeningHours.practice_id == practice.id, OpeningHours.location_id.in_(location_ids)),
        select(literal("break"), Break.id, Break.therapist_id, no_location, Break.weekday, Break.day,
               Break.start_time, Break.end_time, no_day, no_day).where(
            Break.practice_id == practice.id, Break.therapist_id.in_(therapist_ids)),
    ))
    rules = {"working": [], "opening": [], "break": []}
    for kind, ref_id, owner, location_id, weekday, on, start, end, valid_from, valid_to in rows:
        rules[kind].append(WeeklyRule(owner=owner, start=start, end=end, weekday=weekday, day=on,
                                      valid_from=valid_from, valid_to=valid_to, location_id=location_id,
                                      ref_id=ref_id))
    return rules


def _windows(rules, days, zone):
    """Working windows per therapist and location, opening windows per location, in UTC, for ``days``."""
    working, opening = {}, {}
    for start, end, rule in expand(rules["working"], days, zone):
        working.setdefault(rule.owner, {}).setdefault(rule.location_id, []).append((start, end))
    for start, end, rule in expand(rules["opening"], days, zone):
        opening.setdefault(rule.owner, []).append((start, end))
    return working, opening


def _blockers(practice, therapist_ids, rules, start, end, days, zone):
    """Breaks, absences, closures and public holidays (unless opened on purpose) touching ``[start, end)``;
    absences and closures in one statement."""
    blockers = [Blocker(BREAK, THERAPIST, rule.owner, b_start, b_end, {"type": "break", "id": rule.ref_id})
                for b_start, b_end, rule in expand(rules["break"], days, zone)]
    none = literal(None, Integer)
    rows = _read(union_all(
        select(literal(ABSENCE), Absence.id, Absence.therapist_id, none, none, Absence.starts_at, Absence.ends_at,
               Absence.reason).where(Absence.practice_id == practice.id, Absence.therapist_id.in_(therapist_ids),
                                     Absence.starts_at < end, Absence.ends_at > start),
        select(literal(CLOSURE), Closure.id, none, Closure.location_id, Closure.resource_id, Closure.starts_at,
               Closure.ends_at, Closure.note).where(Closure.practice_id == practice.id, Closure.starts_at < end,
                                                    Closure.ends_at > start),
    ))
    for kind, ref_id, therapist_id, location_id, resource_id, r_start, r_end, detail in rows:
        if kind == ABSENCE:
            blockers.append(Blocker(ABSENCE, THERAPIST, therapist_id, r_start, r_end, {"type": "absence", "id": ref_id},
                                    absence_reason_label(detail)))
            continue
        scope, owner = ((RESOURCE, resource_id) if resource_id else
                        (LOCATION, location_id) if location_id else (PRACTICE, None))
        blockers.append(Blocker(CLOSURE, scope, owner, r_start, r_end, {"type": "closure", "id": ref_id}, detail))
    country, region = holiday_region(practice)
    holidays = public_holidays(country, region, days)
    if holidays:
        opened = set(_read(select(HolidayOpening.day).where(
            HolidayOpening.practice_id == practice.id, HolidayOpening.day.in_(list(holidays)))).scalars())
        for day, name in holidays.items():
            if day not in opened:
                h_start, h_end = day_bounds(day, zone)
                blockers.append(Blocker(HOLIDAY, PRACTICE, None, h_start, h_end,
                                        {"type": "holiday", "date": day.isoformat(), "name": name}, name))
    return blockers


def _names(practice, therapist_ids, location_ids, resource_ids):
    """Display names and resource capacities of the owners involved, in one statement."""
    one = literal(1)
    rows = _read(union_all(
        select(literal(THERAPIST), User.id, User.name, one).where(User.practice_id == practice.id,
                                                                   User.id.in_(therapist_ids)),
        select(literal(LOCATION), Location.id, Location.name, one).where(Location.practice_id == practice.id,
                                                                         Location.id.in_(location_ids)),
        select(literal(RESOURCE), Resource.id, Resource.name, Resource.capacity).where(
            Resource.practice_id == practice.id, Resource.id.in_(resource_ids)),
    ))
    names, capacity = {}, {}
    for kind, owner_id, name, size in rows:
        names[(kind, owner_id)] = name
        if kind == RESOURCE:
            capacity[owner_id] = size
    return names, capacity


def load_calendar(practice, *, therapist_ids, location_ids, resource_ids, start, end, patient_id=None):
    """The engine's Calendar for the owners given over ``[start, end)`` (UTC), read in four statements (five when
    a public holiday falls in the range) whatever the length of the range and the number of owners."""
    zone = zone_of(practice.timezone)
    therapist_ids, location_ids, resource_ids = (sorted(set(ids)) for ids in (therapist_ids, location_ids,
                                                                                resource_ids))
    days = local_days(start, end, zone)
    # One day either side, so wall-clock rules that cross midnight in UTC are read whole.
    days = [days[0] - timedelta(days=1), *days, days[-1] + timedelta(days=1)]
    rules = _weekly_rules(practice, therapist_ids, location_ids)
    working, opening = _windows(rules, days, zone)
    names, capacity = _names(practice, therapist_ids, location_ids, resource_ids)
    range_start, range_end = local_instant(days[0], time.min, zone), local_instant(days[-1], time.min, zone)
    return Calendar(
        zone=zone, working=working, opening=opening,
        blockers=_blockers(practice, therapist_ids, rules, min(start, range_start), max(end, range_end), days, zone),
        busy=_busy(practice, therapist_ids, resource_ids, patient_id, start, end),
        capacity=capacity, names=names,
    )



def outside_working_hours(practice, therapist_id, now, scan=2000, limit=200):
    """The therapist's scheduled local appointments from ``now`` (the next ``scan`` of them) that lie outside
    their working hours as they stand now (after a change of hours): (id, starts_at, ends_at) by start, at most
    ``limit``."""
    rows = _read(select(Appointment.id, Appointment.starts_at, Appointment.ends_at, AppointmentDetail.location_id)
                 .join(AppointmentDetail, AppointmentDetail.appointment_id == Appointment.id).where(
        Appointment.practice_id == practice.id, Appointment.therapist_id == therapist_id,
        Appointment.source == LOCAL, Appointment.status.not_in(INACTIVE_STATUSES), Appointment.starts_at >= now)
        .order_by(Appointment.starts_at).limit(scan)).all()
    if not rows:
        return []
    zone = zone_of(practice.timezone)
    rules = _weekly_rules(practice, [therapist_id], [])
    working, _opening = _windows(rules, local_days(rows[0].starts_at, rows[-1].ends_at, zone), zone)
    windows = working.get(therapist_id, {})
    return [row[:3] for row in rows if not covered(windows.get(row.location_id, []), row.starts_at, row.ends_at)][
        :limit]
