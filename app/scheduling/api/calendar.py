"""``/api/resource-calendar/``: what the rooms and devices are booked for over a period, as PraxiApp lists it:
each booking of a resource (buffers included) paged, and ``/api/resource-calendar/resources/`` with the bookings
grouped under each resource. One indexed range read per request; ``start`` and ``end`` are required and at most
31 days apart, so a calendar page never reads a year."""

from datetime import timedelta

from flask import request
from flask_babel import gettext as _
from sqlalchemy import select

from app.api.blueprint import bp
from app.api.helpers import page_args, paged_json
from app.platform.extensions import db
from app.platform.pagination import paginate
from app.platform.security.guard import permission_required, session_allowed
from app.scheduling.api.common import api_user, int_arg, invalid, iso, range_arg
from app.scheduling.models import MAX_OCCUPANCY_MINUTES, Occupancy, Resource
from app.scheduling.resolve import SchedulingError

MAX_SPAN = timedelta(days=31)


def _period(practice):
    """(start, end) of the request, both required, end after start, at most MAX_SPAN apart."""
    start, end = range_arg("start", practice), range_arg("end", practice, end=True)
    if start is None or end is None:
        raise SchedulingError(_("start and end are required."), "start" if start is None else "end")
    if end <= start:
        raise SchedulingError(_("The end must be after the start."), "end")
    if end - start > MAX_SPAN:
        raise SchedulingError(_("Ask for at most %(days)d days at once.", days=MAX_SPAN.days), "end")
    return start, end


def _bookings(practice, start, end):
    """A select of the practice's resource bookings overlapping ``[start, end)``, filtered by ``?resource=`` and
    ``?location=``, by start."""
    query = select(Occupancy).join(Resource, Resource.id == Occupancy.resource_id).where(
        Occupancy.practice_id == practice.id, Occupancy.starts_at >= start - timedelta(minutes=MAX_OCCUPANCY_MINUTES),
        Occupancy.starts_at < end, Occupancy.ends_at > start)
    if int_arg("resource") is not None:
        query = query.where(Occupancy.resource_id == int_arg("resource"))
    if int_arg("location") is not None:
        query = query.where(Resource.location_id == int_arg("location"))
    return query


def _booking_json(row):
    """One booking of a resource."""
    return {"resource": row.resource_id, "appointment_id": row.appointment_id, "start_time": iso(row.starts_at),
            "end_time": iso(row.ends_at)}


@bp.get("/resource-calendar/")
@permission_required("appointments.read")
@session_allowed
def scheduling_resource_calendar():
    """JSON: ``{count, next, previous, results}`` of resource bookings between ``start`` and ``end``."""
    practice = api_user().practice
    page, per_page, error = page_args(100)
    if error:
        return error
    try:
        start, end = _period(practice)
        query = _bookings(practice, start, end)
    except SchedulingError as problem:
        return invalid(problem)
    result = paginate(query, per_page, Occupancy.id, order_by=(Occupancy.starts_at, Occupancy.id))
    return paged_json(page, result, _booking_json)


@bp.get("/resource-calendar/resources/")
@permission_required("appointments.read")
@session_allowed
def scheduling_resource_calendar_resources():
    """JSON: ``{count, next, previous, results}``: each active resource (``?location=`` filters) with its bookings
    between ``start`` and ``end``."""
    practice = api_user().practice
    page, per_page, error = page_args(50)
    if error:
        return error
    try:
        start, end = _period(practice)
        bookings = db.session.scalars(_bookings(practice, start, end).order_by(Occupancy.starts_at)).all()
    except SchedulingError as problem:
        return invalid(problem)
    by_resource = {}
    for row in bookings:
        by_resource.setdefault(row.resource_id, []).append(_booking_json(row))
    query = select(Resource).where(Resource.practice_id == practice.id, Resource.active.is_(True))
    if request.args.get("location"):
        query = query.where(Resource.location_id == int_arg("location"))
    result = paginate(query, per_page, Resource.id, order_by=(Resource.location_id, Resource.name, Resource.id))
    return paged_json(page, result, lambda resource: {
        "id": resource.id, "name": resource.name, "kind": resource.kind, "location": resource.location_id,
        "capacity": resource.capacity, "bookings": by_resource.get(resource.id, [])})
