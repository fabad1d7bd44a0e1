"""``/api/practice-hours/``, ``/api/doctor-hours/``, ``/api/doctor-breaks/``, ``/api/doctor-absences/`` and
``/api/closures/`` ("doctor" is PraxiApp's word for the treating therapist). Opening hours and closures are changed
by admins; working hours, breaks and absences also by the front desk, and by a therapist for themselves.
Overlapping hours of one therapist or location are refused; every change (create, update, delete) answers with
``collisions``, the future appointments that now collide with the rules."""

from flask import request
from flask_babel import gettext as _
from sqlalchemy import or_, select

from app.platform.extensions import db
from app.scheduling.api.common import day, integer, iso, moment, range_arg, text, unknown_fields, wall_time
from app.scheduling.api.crud import Collection, register
from app.scheduling.collisions import scope_of
from app.scheduling.hours import ABSENCE_REASONS, Absence, Break, Closure, OpeningHours, WorkingHours
from app.scheduling.resolve import SchedulingError, get_location, get_resource, get_therapist

WEEKDAYS = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")


def _weekday(body, required=True):
    """Field weekday, 0 (Monday) to 6."""
    value = integer(body, "weekday", required=required)
    if value is not None and not 0 <= value <= 6:
        raise SchedulingError(_("weekday is 0 (Monday) to 6 (Sunday)."), "weekday")
    return value


def _interval(body):
    """start_time and end_time as wall-clock times, the end after the start."""
    start, end = wall_time(body, "start_time"), wall_time(body, "end_time")
    if end <= start:
        raise SchedulingError(_("The end must be after the start."), "end_time")
    return start, end


def _validity(body):
    """valid_from (required) and valid_to (optional, not before valid_from)."""
    valid_from, valid_to = day(body, "valid_from"), day(body, "valid_to", required=False)
    if valid_to is not None and valid_to < valid_from:
        raise SchedulingError(_("valid_to must not lie before valid_from."), "valid_to")
    return valid_from, valid_to


def _refuse_overlap(model, owner_column, owner_id, values, row):
    """Refuse hours overlapping another row of the same owner on the same weekday within overlapping validity."""
    query = select(model).where(getattr(model, owner_column) == owner_id, model.weekday == values["weekday"],
                                model.start_time < values["end_time"], model.end_time > values["start_time"],
                                or_(model.valid_to.is_(None), model.valid_to >= values["valid_from"]))
    if values["valid_to"] is not None:
        query = query.where(model.valid_from <= values["valid_to"])
    if row is not None:
        query = query.where(model.id != row.id)
    other = db.session.scalars(query.limit(1)).first()
    if other is not None:
        raise SchedulingError(_("These hours overlap %(day)s %(start)s–%(end)s (valid from %(from)s).",
                                day=WEEKDAYS[other.weekday], start=other.start_time.strftime("%H:%M"),
                                end=other.end_time.strftime("%H:%M"), **{"from": other.valid_from.strftime(
                                    "%d.%m.%Y")}), "start_time")


def opening_json(row):
    """The API form of a row of opening data."""
    return {"id": row.id, "location": row.location_id, "weekday": row.weekday, "start_time": iso(row.start_time),
            "end_time": iso(row.end_time), "valid_from": iso(row.valid_from), "valid_to": iso(row.valid_to)}


def opening_values(practice, body, row):
    """Checked columns of opening hours."""
    unknown_fields(body, {"id", "location", "weekday", "start_time", "end_time", "valid_from", "valid_to"})
    location = get_location(practice, body.get("location"))
    start, end = _interval(body)
    valid_from, valid_to = _validity(body)
    values = {"location_id": location.id, "weekday": _weekday(body), "start_time": start, "end_time": end,
              "valid_from": valid_from, "valid_to": valid_to}
    _refuse_overlap(OpeningHours, "location_id", location.id, values, row)
    return values


def working_json(row):
    """The API form of a row of working data."""
    return {"id": row.id, "doctor": row.therapist_id, "location": row.location_id, "weekday": row.weekday,
            "start_time": iso(row.start_time), "end_time": iso(row.end_time), "valid_from": iso(row.valid_from),
            "valid_to": iso(row.valid_to)}


def working_values(practice, body, row):
    """Checked columns of working hours."""
    unknown_fields(body, {"id", "doctor", "location", "weekday", "start_time", "end_time", "valid_from",
                          "valid_to"})
    therapist = get_therapist(practice, body.get("doctor"))
    location = get_location(practice, body.get("location"))
    start, end = _interval(body)
    valid_from, valid_to = _validity(body)
    values = {"therapist_id": therapist.id, "location_id": location.id, "weekday": _weekday(body),
              "start_time": start, "end_time": end, "valid_from": valid_from, "valid_to": valid_to}
    _refuse_overlap(WorkingHours, "therapist_id", therapist.id, values, row)
    return values


def break_json(row):
    """The API form of a row of break data."""
    return {"id": row.id, "doctor": row.therapist_id, "weekday": row.weekday, "date": iso(row.day),
            "start_time": iso(row.start_time), "end_time": iso(row.end_time)}


def break_values(practice, body, row):
    """Checked columns of a break."""
    unknown_fields(body, {"id", "doctor", "weekday", "date", "start_time", "end_time"})
    therapist = get_therapist(practice, body.get("doctor"))
    weekday, on = _weekday(body, required=False), day(body, "date", required=False)
    if (weekday is None) == (on is None):
        raise SchedulingError(_("A break is either weekly (weekday) or on one date (date)."), "weekday")
    start, end = _interval(body)
    return {"therapist_id": therapist.id, "weekday": weekday, "day": on, "start_time": start, "end_time": end}


def _range(body, practice):
    """start_time and end_time as UTC instants, both required (an absence without end is refused)."""
    start = moment(body, "start_time", practice)
    end = moment(body, "end_time", practice)
    if end <= start:
        raise SchedulingError(_("The end must be after the start."), "end_time")
    return start, end


def absence_json(row):
    """The API form of a row of absence data."""
    return {"id": row.id, "doctor": row.therapist_id, "start_time": iso(row.starts_at),
            "end_time": iso(row.ends_at), "reason": row.reason, "substitute": row.substitute_id, "note": row.note}


def absence_values(practice, body, row):
    """Checked columns of an absence."""
    unknown_fields(body, {"id", "doctor", "start_time", "end_time", "reason", "substitute", "note"})
    therapist = get_therapist(practice, body.get("doctor"))
    start, end = _range(body, practice)
    reason = body.get("reason")
    if reason not in ABSENCE_REASONS:
        raise SchedulingError(_("reason is one of: vacation, sickness, training."), "reason")
    substitute = body.get("substitute")
    if substitute is not None:
        substitute = get_therapist(practice, substitute, "substitute").id
        if substitute == therapist.id:
            raise SchedulingError(_("Nobody can stand in for themselves."), "substitute")
    return {"therapist_id": therapist.id, "starts_at": start, "ends_at": end, "reason": reason,
            "substitute_id": substitute, "note": text(body, "note", max_length=500)}


def closure_json(row):
    """The API form of a row of closure data."""
    return {"id": row.id, "location": row.location_id, "resource": row.resource_id,
            "start_time": iso(row.starts_at), "end_time": iso(row.ends_at), "note": row.note}


def closure_values(practice, body, row):
    """Checked columns of a closure."""
    unknown_fields(body, {"id", "location", "resource", "start_time", "end_time", "note"})
    if body.get("location") is not None and body.get("resource") is not None:
        raise SchedulingError(_("A closure is of the practice, one location or one resource."), "resource")
    location = get_location(practice, body["location"]) if body.get("location") is not None else None
    resource = get_resource(practice, body["resource"]) if body.get("resource") is not None else None
    start, end = _range(body, practice)
    return {"location_id": location.id if location else None, "resource_id": resource.id if resource else None,
            "starts_at": start, "ends_at": end, "note": text(body, "note", max_length=500)}


def _by_doctor(model):
    """List filters ``?doctor=`` (where the rows have a therapist) and, for ranges, ``?start=``/``?end=``."""

    def filters(query, practice):
        """The query narrowed by the request's arguments."""
        if request.args.get("doctor") and hasattr(model, "therapist_id"):
            query = query.where(model.therapist_id == request.args.get("doctor", type=int))
        if hasattr(model, "starts_at"):
            start, end = range_arg("start", practice), range_arg("end", practice, end=True)
            query = query.where(model.ends_at > start) if start else query
            query = query.where(model.starts_at < end) if end else query
        return query

    return filters


def _location_filter(query, practice):
    """``?location=`` for opening hours."""
    if request.args.get("location"):
        query = query.where(OpeningHours.location_id == request.args.get("location", type=int))
    return query


register(Collection(
    name="practice_hours", path="practice-hours", model=OpeningHours, audit="opening_hours", to_json=opening_json,
    values=opening_values, read_permission="appointments.read", write_permission="scheduling.manage",
    filters=_location_filter, order_by=(OpeningHours.location_id, OpeningHours.weekday, OpeningHours.start_time),
    affects=scope_of))
register(Collection(
    name="doctor_hours", path="doctor-hours", model=WorkingHours, audit="working_hours", to_json=working_json,
    values=working_values, read_permission="appointments.read", write_permission="scheduling.hours",
    owner="therapist_id", filters=_by_doctor(WorkingHours),
    order_by=(WorkingHours.therapist_id, WorkingHours.weekday, WorkingHours.start_time),
    affects=scope_of))
register(Collection(
    name="doctor_breaks", path="doctor-breaks", model=Break, audit="break", to_json=break_json,
    values=break_values, read_permission="appointments.read", write_permission="scheduling.hours",
    owner="therapist_id", filters=_by_doctor(Break), order_by=(Break.therapist_id, Break.start_time, Break.id),
    affects=scope_of))
register(Collection(
    name="doctor_absences", path="doctor-absences", model=Absence, audit="absence", to_json=absence_json,
    values=absence_values, read_permission="appointments.read", write_permission="scheduling.hours",
    owner="therapist_id", filters=_by_doctor(Absence), order_by=(Absence.starts_at, Absence.id),
    affects=scope_of))
register(Collection(
    name="closures", path="closures", model=Closure, audit="closure", to_json=closure_json,
    values=closure_values, read_permission="appointments.read", write_permission="scheduling.manage",
    filters=_by_doctor(Closure), order_by=(Closure.starts_at, Closure.id),
    affects=scope_of))
