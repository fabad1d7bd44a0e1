"""``/api/appointment-types/`` and ``/api/resources/``: the practice's treatments with their needs, and its rooms
and devices. Admins (scheduling.manage) change them; everyone who reads appointments reads them. Both are
deactivated on DELETE, never deleted, because bookings refer to them."""

from flask import request
from flask_babel import gettext as _
from sqlalchemy import select

from app.platform.extensions import db
from app.scheduling.api.common import integer, text, unknown_fields
from app.scheduling.api.crud import Collection, register
from app.scheduling.models import ALL_OF, ANY_OF, AppointmentType, Resource, TypeRequirement, TypeTherapist
from app.scheduling.resolve import SchedulingError, get_location, get_owned, get_therapist

TYPE_FIELDS = {
    "id", "name", "colour", "duration", "alternative_durations", "buffer_before_room", "buffer_after_room",
    "buffer_before_doctor", "buffer_after_doctor", "slot_step", "min_notice", "horizon_days", "doctors",
    "requirements", "active",
}
BUFFERS = {"buffer_before_room": "room_buffer_before", "buffer_after_room": "room_buffer_after",
           "buffer_before_doctor": "therapist_buffer_before", "buffer_after_doctor": "therapist_buffer_after"}
MAX_MINUTES = 12 * 60


def type_json(row):
    """The API form of an appointment type."""
    return {
        "id": row.id, "name": row.name, "colour": row.colour, "duration": row.duration_minutes,
        "alternative_durations": list(row.alternative_durations or []),
        **{name: getattr(row, column) for name, column in BUFFERS.items()},
        "slot_step": row.slot_step_minutes, "min_notice": row.min_notice_minutes, "horizon_days": row.horizon_days,
        "doctors": row.therapist_ids, "active": row.active,
        "requirements": [{"kind": need.kind, "resource": need.resource_id, "count": need.count, "mode": need.mode}
                         for need in row.requirements],
    }


def _flag(body, name, default=True):
    """Field ``name`` as true/false."""
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise SchedulingError(_("%(field)s must be true or false.", field=name), name)
    return value


def _requirements(practice, items):
    """TypeRequirement rows from the API's list; each names a kind or a resource."""
    if not isinstance(items, list):
        raise SchedulingError(_("requirements must be a list."), "requirements")
    needs = []
    for item in items:
        if not isinstance(item, dict) or (item.get("kind") is None) == (item.get("resource") is None):
            raise SchedulingError(_("Each requirement names either a kind or a resource."), "requirements")
        mode = item.get("mode", ANY_OF)
        if mode not in (ALL_OF, ANY_OF):
            raise SchedulingError(_("A requirement's mode is “all” or “any”."), "requirements")
        count = integer(item, "count", minimum=1, default=1)
        if item.get("resource") is not None:
            resource = get_owned(Resource, practice, item["resource"])
            if resource is None:
                raise SchedulingError(_("Resource %(id)s does not exist.", id=item["resource"]), "requirements")
            needs.append(TypeRequirement(resource_id=resource.id, count=1, mode=ANY_OF))
        else:
            needs.append(TypeRequirement(kind=text(item, "kind", required=True, max_length=32), count=count,
                                         mode=mode))
    return needs


def type_values(practice, body, row):
    """Checked columns of an appointment type."""
    unknown_fields(body, TYPE_FIELDS)
    name = text(body, "name", required=True)
    duplicate = db.session.scalar(select(AppointmentType.id).where(
        AppointmentType.practice_id == practice.id, AppointmentType.name == name))
    if duplicate is not None and (row is None or duplicate != row.id):
        raise SchedulingError(_("An appointment type named “%(name)s” exists already.", name=name), "name")
    colour = text(body, "colour", default="#3b82f6", max_length=7)
    if not (len(colour) == 7 and colour.startswith("#") and all(c in "0123456789abcdefABCDEF" for c in colour[1:])):
        raise SchedulingError(_("colour must be like #3b82f6."), "colour")
    duration = integer(body, "duration", required=True, minimum=1)
    alternatives = body.get("alternative_durations") or []
    if not isinstance(alternatives, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                                                     for d in alternatives):
        raise SchedulingError(_("alternative_durations must be a list of minutes above zero."),
                              "alternative_durations")
    values = {name: integer(body, name, minimum=0, default=0) for name in BUFFERS}
    if max([duration, *alternatives]) + max(values.values()) * 2 > MAX_MINUTES:
        raise SchedulingError(_("An appointment with its buffers may last at most 12 hours."), "duration")
    doctors = body.get("doctors") or []
    if not isinstance(doctors, list):
        raise SchedulingError(_("doctors must be a list of user ids."), "doctors")
    links = [TypeTherapist(therapist_id=get_therapist(practice, doctor, "doctors").id) for doctor in doctors]
    return {
        "name": name, "colour": colour, "duration_minutes": duration,
        "alternative_durations": sorted(set(alternatives) - {duration}),
        **{column: values[name] for name, column in BUFFERS.items()},
        "slot_step_minutes": integer(body, "slot_step", minimum=1, default=15),
        "min_notice_minutes": integer(body, "min_notice", minimum=0, default=0),
        "horizon_days": integer(body, "horizon_days", minimum=1, default=180),
        "active": _flag(body, "active"),
        "therapist_links": links,
        "requirements": _requirements(practice, body.get("requirements") or []),
    }


def type_filters(query, practice):
    """``?active=true|false``."""
    if request.args.get("active") in ("true", "false"):
        query = query.where(AppointmentType.active.is_(request.args["active"] == "true"))
    return query


def resource_json(row):
    """The API form of a room or device."""
    return {"id": row.id, "location": row.location_id, "kind": row.kind, "name": row.name,
            "capacity": row.capacity, "active": row.active}


def resource_values(practice, body, row):
    """Checked columns of a resource."""
    unknown_fields(body, {"id", "location", "kind", "name", "capacity", "active"})
    location = get_location(practice, body.get("location"))
    name = text(body, "name", required=True)
    duplicate = db.session.scalar(select(Resource.id).where(Resource.location_id == location.id,
                                                            Resource.name == name))
    if duplicate is not None and (row is None or duplicate != row.id):
        raise SchedulingError(_("%(location)s already has a resource named “%(name)s”.", location=location.name,
                                name=name), "name")
    return {"location_id": location.id, "kind": text(body, "kind", required=True, max_length=32), "name": name,
            "capacity": integer(body, "capacity", minimum=1, default=1), "active": _flag(body, "active")}


def resource_filters(query, practice):
    """``?location=``, ``?kind=``, ``?active=``."""
    if request.args.get("location"):
        query = query.where(Resource.location_id == request.args.get("location", type=int))
    if request.args.get("kind"):
        query = query.where(Resource.kind == request.args["kind"])
    if request.args.get("active") in ("true", "false"):
        query = query.where(Resource.active.is_(request.args["active"] == "true"))
    return query


register(Collection(
    name="appointment_types", path="appointment-types", model=AppointmentType, audit="appointment_type",
    to_json=type_json, values=type_values, read_permission="appointments.read",
    write_permission="scheduling.manage", deactivate=True, filters=type_filters,
    order_by=(AppointmentType.name, AppointmentType.id)))
register(Collection(
    name="resources", path="resources", model=Resource, audit="resource", to_json=resource_json,
    values=resource_values, read_permission="appointments.read", write_permission="scheduling.manage",
    deactivate=True, filters=resource_filters, order_by=(Resource.location_id, Resource.name, Resource.id)))
