"""Booking, moving, cancelling and closing local appointments, each through the one conflict check, each audited.

No double booking is left to the check alone. On PostgreSQL the ``appointment_resources`` exclusion constraints
refuse two overlapping rows of one therapist or one resource of capacity 1 whatever the timing, and group rooms
(capacity above 1) are counted under row locks: the therapist's and the resources' rows are locked in a fixed
order before the check. On SQLite the check and the insert run in one write transaction opened with
``BEGIN IMMEDIATE`` (SQLite has one writer, so the check sees every booking committed before and none can slip in
before the insert)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import uuid4

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.appointments.models import Appointment
from app.platform.audit.service import record
from app.platform.database import sqlite_writer, utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.providers.events import CANCELLED, COMPLETED, NO_SHOW, SCHEDULED
from app.scheduling import resolve
from app.scheduling.availability import load_calendar
from app.scheduling.engine.calendar import zone_of
from app.scheduling.engine.conflicts import Candidate, check
from app.scheduling.engine.slots import pick_resources, spans_for
from app.scheduling.models import AppointmentDetail, Occupancy, Resource

LOCAL = "local"
STATUS_CHANGES = (SCHEDULED, CANCELLED, COMPLETED, NO_SHOW)


class ConflictError(ServiceError):
    """The booking collides; ``conflicts`` lists why (hard ones cannot be overridden)."""

    def __init__(self, conflicts):
        super().__init__(_("The appointment collides with other bookings or rules."), code="conflict")
        self.conflicts = conflicts


@dataclass
class BookingRequest:
    """What to book: ids as the client sent them, times already parsed (aware)."""

    type_id: object
    therapist_id: object
    location_id: object
    start: datetime
    end: datetime | None = None
    patient_id: object = None
    resource_ids: list | None = None
    notes: str = ""
    override_reason: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class _Plan:
    """A validated booking: its type, therapist, location, patient, times and (given) resources."""

    appointment_type: object
    therapist: object
    location: object
    patient: object
    start: datetime
    end: datetime
    resource_ids: list | None
    timing_overridden: str = ""


def _plan(practice, request):
    """Validate ``request`` into a _Plan (SchedulingError on the first thing wrong)."""
    appointment_type = resolve.get_type(practice, request.type_id)
    therapist = resolve.get_therapist(practice, request.therapist_id)
    resolve.check_qualified(appointment_type, therapist)
    location = resolve.get_location(practice, request.location_id)
    patient = resolve.get_patient_of(practice, request.patient_id)
    start, end = resolve.booking_times(appointment_type, request.start, request.end)
    requirements = resolve.resolve_requirements(practice, appointment_type, [location.id])[location.id]
    for requirement in requirements:
        if not requirement.satisfiable():
            raise resolve.SchedulingError(_("%(location)s lacks what this type needs: %(what)s.",
                                            location=location.name, what=requirement.label), "location")
    resource_ids = None
    if request.resource_ids is not None:
        resource_ids = [r.id for r in resolve.check_resources(practice, location, requirements,
                                                                request.resource_ids)]
    return _Plan(appointment_type, therapist, location, patient, start, end, resource_ids), requirements


def _serialised_write():
    """Begin the write transaction in which check and insert happen together. SQLite: this process's writer lock
    and ``BEGIN IMMEDIATE`` (the database's write lock, against other processes). PostgreSQL: nothing here; the
    exclusion constraints and resource row locks do the work."""
    engine = db.engine
    lock = sqlite_writer(engine)
    lock.__enter__()
    if engine.dialect.name == "sqlite":
        driver = db.session.connection().connection.driver_connection
        if not driver.in_transaction:
            driver.execute("BEGIN IMMEDIATE")
    return lock


def _lock_owners(therapist_id, resource_ids):
    """PostgreSQL: lock the therapist's and the resources' rows, always in the same order (the therapist, then
    resources by id), before reading the calendar. Two bookings sharing anyone or anything then take turns, the
    second one's check sees the first one's rows (READ COMMITTED reads what committed before each statement), group
    rooms are counted exactly, and their inserts never wait on each other's exclusion checks in opposite orders
    (which deadlocks). ``FOR NO KEY UPDATE`` leaves foreign keys to these rows free."""
    if db.engine.dialect.name != "postgresql":
        return
    db.session.execute(select(User.id).where(User.id == therapist_id).with_for_update(key_share=True))
    if resource_ids:
        db.session.execute(select(Resource.id).where(Resource.id.in_(resource_ids)).order_by(Resource.id)
                           .with_for_update(key_share=True))


def _checked(practice, plan, requirements, ignore, actor, can_override, override_reason):
    """(resource ids, conflicts overridden) for ``plan`` against the calendar read now; ConflictError when a hard
    conflict remains or soft ones are not overridden with permission and a reason."""
    buffers = resolve.buffers_of(plan.appointment_type)
    candidates = sorted({rid for requirement in requirements for rid in requirement.candidates}
                        | set(plan.resource_ids or ()))
    _lock_owners(plan.therapist.id, candidates)
    calendar = load_calendar(practice, therapist_ids=[plan.therapist.id], location_ids=[plan.location.id],
                             resource_ids=candidates, start=plan.start - _margin(buffers),
                             end=plan.end + _margin(buffers), patient_id=plan.patient.id if plan.patient else None)
    resource_ids = plan.resource_ids
    if resource_ids is None:
        # When not enough are free, taken ones fill in, so the conflicts say what is taken.
        resource_ids = list(pick_resources(requirements, calendar, plan.start, plan.end, buffers, ignore,
                                           fill_busy=True))
    candidate = Candidate(plan.start, plan.end, plan.therapist.id, plan.location.id,
                          spans_for(plan.start, plan.end, plan.therapist.id, resource_ids, buffers),
                          plan.patient.id if plan.patient else None, ignore)
    conflicts = check(candidate, calendar)
    if not conflicts:
        return resource_ids, []
    if any(conflict.hard for conflict in conflicts) or not can_override or not (override_reason or "").strip():
        raise ConflictError(conflicts)
    return resource_ids, conflicts


def _margin(buffers):
    """The widest buffer: how far around the booking the calendar must be read."""
    return timedelta(minutes=max(buffers.room_before, buffers.room_after, buffers.therapist_before,
                                 buffers.therapist_after))


def _occupy(practice, appointment, plan, resource_ids):
    """Add the occupancy rows of ``appointment``: the therapist and each resource over their buffered spans."""
    buffers = resolve.buffers_of(plan.appointment_type)
    capacities = dict(db.session.execute(select(Resource.id, Resource.capacity).where(
        Resource.id.in_(resource_ids or [-1]))).all())
    for span in spans_for(plan.start, plan.end, plan.therapist.id, resource_ids, buffers):
        therapist = span.owner_kind == "therapist"
        db.session.add(Occupancy(
            practice_id=practice.id, appointment=appointment, therapist_id=span.owner_id if therapist else None,
            resource_id=None if therapist else span.owner_id, starts_at=span.start, ends_at=span.end,
            exclusive=therapist or capacities.get(span.owner_id, 1) == 1))


def _refused(error, practice, plan, requirements, ignore):
    """After PostgreSQL's exclusion constraint refused the rows (a concurrent booking won, past the locks): roll
    back and raise the conflicts as they are now; any other integrity error goes on up."""
    db.session.rollback()
    if "exclusion" not in str(error.orig).lower() and "overlap" not in str(error.orig).lower():
        raise error
    _checked(practice, plan, requirements, ignore, None, False, "")
    raise ConflictError([]) from error


def _audit(action, actor, appointment, meta):
    """Audit a change of a local appointment (ids and times only, never notes)."""
    record(action, actor, practice_id=appointment.practice_id, object_type="appointment",
           object_id=appointment.id, patient_id=appointment.patient_id, meta=meta)


def _override_meta(conflicts, reason, plan=None):
    """The audit details of an override: the reason given and the kinds of conflict (and of booking rule: the
    minimum notice or the horizon) booked over."""
    kinds = [conflict.kind for conflict in conflicts]
    if plan is not None and plan.timing_overridden:
        kinds.append(plan.timing_overridden)
    return {"override_reason": reason.strip(), "conflicts": kinds} if kinds else {}


def _create(actor, practice, plan, requirements, request, can_override):
    """Check ``plan`` and add its appointment, details and occupancy rows (flushed, not committed)."""
    resource_ids, overridden = _checked(practice, plan, requirements, None, actor, can_override,
                                        request.override_reason)
    appointment = Appointment(
        practice_id=practice.id, patient_id=plan.patient.id if plan.patient else None, source=LOCAL,
        external_id=f"local-{uuid4().hex}", starts_at=plan.start, ends_at=plan.end,
        therapist_id=plan.therapist.id, therapist_name=plan.therapist.name,
        service_name=plan.appointment_type.name, status=SCHEDULED)
    db.session.add(appointment)
    db.session.add(AppointmentDetail(appointment=appointment, practice_id=practice.id,
                                     type_id=plan.appointment_type.id, location_id=plan.location.id,
                                     notes=request.notes or ""))
    _occupy(practice, appointment, plan, resource_ids)
    db.session.flush()
    _audit("appointment.create", actor, appointment, {
        "starts_at": plan.start.isoformat(), "therapist_id": plan.therapist.id,
        **_override_meta(overridden, request.override_reason, plan)})
    return appointment


def _check_timing(practice, plan, request, can_override):
    """Staff bookings keep the type's minimum notice and booking horizon too (the finder never offers such a
    time, and a booking made by hand must not undercut what the practice set). A user who may override books
    inside the notice or beyond the horizon with a reason; that is audited like an overridden conflict."""
    now, appointment_type = utcnow(), plan.appointment_type
    earliest = now + timedelta(minutes=appointment_type.min_notice_minutes)
    latest = now + timedelta(days=appointment_type.horizon_days)
    if earliest <= plan.start <= latest:
        return
    if can_override and (request.override_reason or "").strip():
        plan.timing_overridden = "min_notice" if plan.start < earliest else "horizon"
        return
    local = (earliest if plan.start < earliest else latest).astimezone(zone_of(practice.timezone))
    if plan.start < earliest:
        raise resolve.SchedulingError(_("“%(type)s” is booked at least %(minutes)d minutes ahead: the earliest "
                                        "start is %(time)s.", type=appointment_type.name,
                                        minutes=appointment_type.min_notice_minutes,
                                        time=local.strftime("%d.%m.%Y %H:%M")), "start_time")
    raise resolve.SchedulingError(_("“%(type)s” can be booked at most %(days)d days ahead, until %(day)s.",
                                    type=appointment_type.name, days=appointment_type.horizon_days,
                                    day=local.strftime("%d.%m.%Y")), "start_time")


def _future_plan(practice, request, can_override=False):
    """``_plan`` refusing a start in the past, inside the type's minimum notice or beyond its horizon."""
    plan, requirements = _plan(practice, request)
    if plan.start < utcnow():
        raise resolve.SchedulingError(_("The start lies in the past."), "start_time")
    _check_timing(practice, plan, request, can_override)
    return plan, requirements


def book(actor, practice, request, *, can_override=False):
    """Create a local appointment from ``request``; SchedulingError on bad input, ConflictError on a collision."""
    plan, requirements = _future_plan(practice, request, can_override)
    lock = _serialised_write()
    try:
        try:
            appointment = _create(actor, practice, plan, requirements, request, can_override)
        except IntegrityError as error:
            _refused(error, practice, plan, requirements, None)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        lock.__exit__(None, None, None)
    return appointment


class SeriesConflict(ServiceError):
    """Units of a series collide; ``failures`` holds (unit index, conflicts) for each."""

    def __init__(self, failures):
        super().__init__(_("Some units of the series collide with other bookings or rules."), code="conflict")
        self.failures = failures


def book_all(actor, practice, requests, *, can_override=False, partial=False, attach=None):
    """Book several appointments (a treatment series) in one transaction: all or none, or with ``partial`` the
    ones that fit (at least one). Returns (appointments, failures as (index, conflicts)); SeriesConflict when any
    unit collides (not ``partial``) or none fits; SchedulingError (its field prefixed with the unit) on bad input.
    ``attach(appointments)`` runs inside the same transaction before the commit (the series record), so what it
    adds is saved with the bookings or not at all."""
    plans = []
    for index, request in enumerate(requests):
        try:
            plans.append(_future_plan(practice, request, can_override))
        except resolve.SchedulingError as error:
            error.field = f"units[{index}].{error.field}"
            raise
    booked, failures = [], []
    lock = _serialised_write()
    try:
        for index, ((plan, requirements), request) in enumerate(zip(plans, requests, strict=True)):
            savepoint = db.session.begin_nested()
            try:
                booked.append(_create(actor, practice, plan, requirements, request, can_override))
                savepoint.commit()
            except ConflictError as conflict:
                savepoint.rollback()
                failures.append((index, conflict.conflicts))
            except IntegrityError:
                savepoint.rollback()
                failures.append((index, []))
        if failures and (not partial or not booked):
            raise SeriesConflict(failures)
        if attach is not None:
            attach(booked)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        lock.__exit__(None, None, None)
    return booked, failures


def occupied_resource_ids(appointment):
    """The resources a local appointment holds, by id."""
    return sorted(db.session.scalars(select(Occupancy.resource_id).where(
        Occupancy.appointment_id == appointment.id, Occupancy.resource_id.is_not(None))))


def change(actor, practice, appointment, request, *, can_override=False):
    """Move or edit a local appointment (``request`` holds every field, changed or not). Never conflicts with
    itself; a cancelled appointment cannot be changed."""
    if appointment.status == CANCELLED:
        raise resolve.SchedulingError(_("A cancelled appointment cannot be changed; book a new one."), "status")
    plan, requirements = _plan(practice, request)
    if plan.start != appointment.starts_at:  # a move keeps the notice and horizon; other edits leave them be
        _check_timing(practice, plan, request, can_override)
    lock = _serialised_write()
    try:
        db.session.execute(delete(Occupancy).where(Occupancy.appointment_id == appointment.id))
        resource_ids, overridden = _checked(practice, plan, requirements, appointment.id, actor, can_override,
                                            request.override_reason)
        before = {"starts_at": appointment.starts_at.isoformat(), "therapist_id": appointment.therapist_id}
        appointment.starts_at, appointment.ends_at = plan.start, plan.end
        appointment.therapist_id, appointment.therapist_name = plan.therapist.id, plan.therapist.name
        appointment.patient_id = plan.patient.id if plan.patient else None
        appointment.service_name = plan.appointment_type.name
        detail = appointment.detail
        detail.type_id, detail.location_id, detail.notes = plan.appointment_type.id, plan.location.id, request.notes
        _occupy(practice, appointment, plan, resource_ids)
        try:
            db.session.flush()
        except IntegrityError as error:
            _refused(error, practice, plan, requirements, appointment.id)
        _audit("appointment.update", actor, appointment, {
            "before": before, "starts_at": plan.start.isoformat(), "therapist_id": plan.therapist.id,
            **_override_meta(overridden, request.override_reason, plan)})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        lock.__exit__(None, None, None)
    return appointment


def cancel(actor, appointment):
    """Cancel a local appointment: the row stays (status cancelled), what it occupied is freed."""
    if appointment.status == CANCELLED:
        return appointment
    db.session.execute(delete(Occupancy).where(Occupancy.appointment_id == appointment.id))
    appointment.status = CANCELLED
    _audit("appointment.cancel", actor, appointment, {"starts_at": appointment.starts_at.isoformat()})
    db.session.commit()
    return appointment


def set_status(actor, appointment, status):
    """Mark a local appointment completed, no-show or scheduled again, or cancel it; its times stay as they are."""
    if status not in STATUS_CHANGES:
        raise resolve.SchedulingError(_("Unknown status."), "status")
    if status == CANCELLED:
        return cancel(actor, appointment)
    if appointment.status == CANCELLED:
        raise resolve.SchedulingError(_("A cancelled appointment cannot be changed; book a new one."), "status")
    appointment.status = status
    _audit("appointment.update", actor, appointment, {"status": status})
    db.session.commit()
    return appointment
