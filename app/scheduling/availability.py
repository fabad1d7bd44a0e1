"""Reading the calendar the engine checks against, for the owners and the time range involved: everything tied to
the range in one statement of indexed range reads per set of owners (therapists' and resources' occupancy, the
therapists' appointments from other systems, the patient's appointments, absences and closures), never one per
candidate slot; the hours, breaks, names and capacities that do not depend on the range in one more, which a search
over many stretches reads once; public holidays from the ``holidays`` package."""

from dataclasses import dataclass
from datetime import UTC, time, timedelta
from functools import cache

from sqlalchemy import Date, Integer, String, Time, bindparam, literal, select, union_all

from app.accounts.models import User
from app.appointments.models import Appointment
from app.platform.extensions import db
from app.providers.events import INACTIVE_STATUSES
from app.scheduling.engine.calendar import (
    WeeklyRule,
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
from app.scheduling.models import MAX_OCCUPANCY_MINUTES, Occupancy, Resource
from app.tenancy.models import Location

LOOKBACK = timedelta(minutes=MAX_OCCUPANCY_MINUTES)
LOCAL = "local"


def _read(statement, params=None):
    """Rows of a Core select on the session's connection (same transaction as the booking that asks): plain tuples
    without the ORM's per-statement work, which costs more than these small indexed reads themselves."""
    return db.session.connection().execute(statement, params)


def _ids(name):
    """A bind parameter for a list of ids (``IN``), filled when the statement runs."""
    return bindparam(name, expanding=True)


def holiday_region(practice):
    """(country, Bundesland/Kanton) whose public holidays close the practice, from the practice's settings."""
    settings = practice.settings or {}
    return practice.country or "DE", settings.get("holiday_region") or None


@cache
def _ranged_statement(therapists, resources, patient):
    """The statement of _ranged asking for therapists, resources and a patient or not (three flags), built once
    per process with bind parameters: building and keying a union of up to six selects costs more than running it."""
    none, no_text = literal(None, Integer), literal(None, String)
    recent = (bindparam("busy_from"), bindparam("busy_to"), bindparam("busy_after"))

    def occupancy(kind, column, ids):
        """Local bookings of the owners in ``column`` (therapist or resource) within the range."""
        return select(literal(kind), Occupancy.appointment_id, column, none, none, Occupancy.starts_at,
                      Occupancy.ends_at, no_text).where(
            column.in_(ids), Occupancy.starts_at >= recent[0], Occupancy.starts_at < recent[1],
            Occupancy.ends_at > recent[2])

    def appointments(kind, owner, *conditions):
        """Active appointments (any source) matching ``conditions`` within the range."""
        return select(literal(kind), Appointment.id, owner, none, none, Appointment.starts_at, Appointment.ends_at,
                      no_text).where(
            *conditions, Appointment.status.not_in(INACTIVE_STATUSES), Appointment.starts_at >= recent[0],
            Appointment.starts_at < recent[1], Appointment.ends_at > recent[2])

    practice_id, rule_from, rule_to = bindparam("practice_id"), bindparam("rule_from"), bindparam("rule_to")
    parts = [select(literal(CLOSURE), Closure.id, none, Closure.location_id, Closure.resource_id, Closure.starts_at,
                    Closure.ends_at, Closure.note).where(Closure.practice_id == practice_id,
                                                         Closure.starts_at < rule_to, Closure.ends_at > rule_from)]
    if therapists:
        parts.append(select(literal(ABSENCE), Absence.id, Absence.therapist_id, none, none, Absence.starts_at,
                            Absence.ends_at, Absence.reason).where(
            Absence.practice_id == practice_id, Absence.therapist_id.in_(_ids("therapist_ids")),
            Absence.starts_at < rule_to, Absence.ends_at > rule_from))
        parts.append(occupancy(THERAPIST, Occupancy.therapist_id, _ids("therapist_ids")))
        # No practice_id here: the therapists are the practice's own, and a second indexed column tempts a planner
        # without statistics (after a bulk load) to combine both indexes, reading the practice's whole history.
        parts.append(appointments(THERAPIST, Appointment.therapist_id,
                                  Appointment.therapist_id.in_(_ids("therapist_ids")), Appointment.source != LOCAL))
    if resources:
        parts.append(occupancy(RESOURCE, Occupancy.resource_id, _ids("resource_ids")))
    if patient:
        parts.append(appointments(PATIENT, Appointment.patient_id, Appointment.patient_id == bindparam("patient_id")))
    return union_all(*parts)


def _ranged(practice, therapist_ids, resource_ids, patient_id, busy_range, rule_range):
    """(busy intervals overlapping ``busy_range``, rows of absences and closures touching ``rule_range``), read in
    one statement of indexed range reads: local occupancy of the therapists and of the resources, the therapists'
    appointments from other systems (a person is busy whichever system booked them), the patient's appointments,
    the therapists' absences and the practice's closures. One round trip: on a busy server each one costs."""
    start, end = busy_range
    statement = _ranged_statement(bool(therapist_ids), bool(resource_ids), patient_id is not None)
    rows = _read(statement, {
        "practice_id": practice.id, "therapist_ids": therapist_ids, "resource_ids": resource_ids,
        "patient_id": patient_id, "busy_from": start - LOOKBACK, "busy_to": end, "busy_after": start,
        "rule_from": rule_range[0], "rule_to": rule_range[1]})
    busy, rules = [], []
    for kind, ref_id, owner, location_id, resource_id, r_start, r_end, detail in rows:
        # In datetime.UTC, as the engine's own instants: psycopg hands back the server's zone (Etc/UTC), and
        # comparing instants of two different zone objects is eight times slower, in the engine's hottest loop.
        r_start, r_end = r_start.astimezone(UTC), r_end.astimezone(UTC)
        if kind in (ABSENCE, CLOSURE):
            rules.append((kind, ref_id, owner, location_id, resource_id, r_start, r_end, detail))
        else:
            busy.append(Busy(kind, owner, r_start, r_end, ref_id))
    return busy, rules


def _windows(rules, days, zone):
    """Working windows per therapist and location, opening windows per location, in UTC, for ``days``."""
    working, opening = {}, {}
    for start, end, rule in expand(rules["working"], days, zone):
        working.setdefault(rule.owner, {}).setdefault(rule.location_id, []).append((start, end))
    for start, end, rule in expand(rules["opening"], days, zone):
        opening.setdefault(rule.owner, []).append((start, end))
    return working, opening


def _blockers(practice, rules, rows, days, zone):
    """Breaks of ``days`` from the weekly ``rules``, absences and closures from their ``rows`` (read by _ranged),
    and the public holidays of ``days`` (unless the practice opens on them: one statement, only when a holiday
    falls in the range)."""
    blockers = [Blocker(BREAK, THERAPIST, rule.owner, b_start, b_end, {"type": "break", "id": rule.ref_id})
                for b_start, b_end, rule in expand(rules["break"], days, zone)]
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


@dataclass(frozen=True)
class Standing:
    """What a calendar reads that does not depend on the time range: the owners' weekly rules (working and
    opening hours, breaks), names and resource capacities. A search over many stretches reads it once."""

    rules: dict
    names: dict
    capacity: dict


@cache
def _standing_statement():
    """The statement of standing, built once per process with bind parameters (see _ranged_statement)."""
    no_int, no_day, no_time, no_text = (literal(None, kind) for kind in (Integer, Date, Time, String))
    practice_id = bindparam("practice_id")
    return union_all(
        select(literal("working"), WorkingHours.id, WorkingHours.therapist_id, WorkingHours.location_id,
               WorkingHours.weekday, no_day, WorkingHours.start_time, WorkingHours.end_time,
               WorkingHours.valid_from, WorkingHours.valid_to, no_text, no_int).where(
            WorkingHours.practice_id == practice_id, WorkingHours.therapist_id.in_(_ids("therapist_ids"))),
        select(literal("opening"), OpeningHours.id, OpeningHours.location_id, OpeningHours.location_id,
               OpeningHours.weekday, no_day, OpeningHours.start_time, OpeningHours.end_time,
               OpeningHours.valid_from, OpeningHours.valid_to, no_text, no_int).where(
            OpeningHours.practice_id == practice_id, OpeningHours.location_id.in_(_ids("location_ids"))),
        select(literal("break"), Break.id, Break.therapist_id, no_int, Break.weekday, Break.day,
               Break.start_time, Break.end_time, no_day, no_day, no_text, no_int).where(
            Break.practice_id == practice_id, Break.therapist_id.in_(_ids("therapist_ids"))),
        *(select(literal(kind), model.id, no_int, no_int, no_int, no_day, no_time, no_time, no_day, no_day,
                 model.name, size).where(model.practice_id == practice_id, model.id.in_(_ids(ids)))
          for kind, model, size, ids in ((THERAPIST, User, literal(1), "therapist_ids"),
                                         (LOCATION, Location, literal(1), "location_ids"),
                                         (RESOURCE, Resource, Resource.capacity, "resource_ids"))),
    )


def standing(practice, *, therapist_ids, location_ids, resource_ids):
    """The Standing of the owners given, in one statement: working hours and breaks of the therapists, opening
    hours of the locations, and the names of all (with the resources' capacities)."""
    rows = _read(_standing_statement(), {"practice_id": practice.id, "therapist_ids": list(therapist_ids),
                                         "location_ids": list(location_ids), "resource_ids": list(resource_ids)})
    rules, names, capacity = {"working": [], "opening": [], "break": []}, {}, {}
    for kind, ref_id, owner, location_id, weekday, on, start, end, valid_from, valid_to, name, size in rows:
        if kind in rules:
            rules[kind].append(WeeklyRule(owner=owner, start=start, end=end, weekday=weekday, day=on,
                                          valid_from=valid_from, valid_to=valid_to, location_id=location_id,
                                          ref_id=ref_id))
            continue
        names[(kind, ref_id)] = name
        if kind == RESOURCE:
            capacity[ref_id] = size
    return Standing(rules, names, capacity)


def load_calendar(practice, *, therapist_ids, location_ids, resource_ids, start, end, patient_id=None, known=None):
    """The engine's Calendar for the owners given over ``[start, end)`` (UTC), read in two statements (three when
    a public holiday falls in the range) whatever the length of the range and the number of owners; in one with
    ``known``, their Standing read before (covering at least these owners)."""
    zone = zone_of(practice.timezone)
    therapist_ids, location_ids, resource_ids = (sorted(set(ids)) for ids in (therapist_ids, location_ids,
                                                                                resource_ids))
    known = known or standing(practice, therapist_ids=therapist_ids, location_ids=location_ids,
                              resource_ids=resource_ids)
    days = local_days(start, end, zone)
    # One day either side, so wall-clock rules that cross midnight in UTC are read whole.
    days = [days[0] - timedelta(days=1), *days, days[-1] + timedelta(days=1)]
    working, opening = _windows(known.rules, days, zone)
    range_start, range_end = local_instant(days[0], time.min, zone), local_instant(days[-1], time.min, zone)
    busy, rows = _ranged(practice, therapist_ids, resource_ids, patient_id, (start, end),
                         (min(start, range_start), max(end, range_end)))
    return Calendar(zone=zone, working=working, opening=opening,
                    blockers=_blockers(practice, known.rules, rows, days, zone), busy=busy,
                    capacity=known.capacity, names=known.names)
