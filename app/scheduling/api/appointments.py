"""``/api/appointments/`` in PraxiApp's shape: every appointment of the practice (local ones and those the booking
tool or Cal.com sent), booking, moving, cancelling (DELETE keeps the row) and ``/api/appointments/suggest/``. A
therapist sees and changes only their own; billing reads. A conflict answers 409 with its reasons."""

from flask import request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.api.blueprint import bp
from app.api.helpers import json_body, page_args, paged_json
from app.appointments.models import Appointment
from app.platform.errors import json_error
from app.platform.extensions import db
from app.platform.pagination import paginate
from app.platform.security.guard import permission_required, session_allowed
from app.platform.security.permissions import has_permission
from app.scheduling.api.common import (
    actor,
    api_user,
    conflict_response,
    int_arg,
    integer,
    invalid,
    iso,
    moment,
    not_found,
    own_only,
    range_arg,
    text,
    unknown_fields,
)
from app.scheduling.booking import (
    LOCAL,
    BookingRequest,
    ConflictError,
    book,
    cancel,
    change,
    occupied_resource_ids,
    set_status,
)
from app.scheduling.finder import SlotSearch, find_slots
from app.scheduling.models import AppointmentDetail, Occupancy
from app.scheduling.resolve import SchedulingError

FIELDS = {"id", "patient_id", "doctor", "type", "location", "start_time", "end_time", "resource_ids", "status",
          "source", "notes", "override_reason"}
MOVING = {"patient_id", "doctor", "type", "location", "start_time", "end_time", "resource_ids"}


def appointment_json(appointment, resource_ids=None):
    """The PraxiApp form of an appointment; ``resource_ids`` given for a page (read in one query)."""
    detail = appointment.detail
    if resource_ids is None:
        resource_ids = occupied_resource_ids(appointment) if appointment.source == LOCAL else []
    return {
        "id": appointment.id, "patient_id": appointment.patient_id, "doctor": appointment.therapist_id,
        "type": detail.type_id if detail else None, "location": detail.location_id if detail else None,
        "start_time": iso(appointment.starts_at), "end_time": iso(appointment.ends_at),
        "resource_ids": resource_ids, "status": appointment.status, "source": appointment.source,
        "notes": detail.notes if detail else "",
    }


def _scoped():
    """The appointments the user may read: the practice's, a therapist's own only."""
    user = api_user()
    query = select(Appointment).where(Appointment.practice_id == user.practice_id)
    return query.where(Appointment.therapist_id == user.id) if own_only("appointments.read") else query


def _filtered(query, practice):
    """The list's filters: start/end (dates or times), doctor, patient_id, resource, location, status, source."""
    start, end = range_arg("start", practice), range_arg("end", practice, end=True)
    if start:
        query = query.where(Appointment.ends_at > start)
    if end:
        query = query.where(Appointment.starts_at < end)
    for arg, column in (("doctor", Appointment.therapist_id), ("patient_id", Appointment.patient_id)):
        if int_arg(arg) is not None:
            query = query.where(column == int_arg(arg))
    if int_arg("resource") is not None:
        query = query.where(Appointment.id.in_(select(Occupancy.appointment_id).where(
            Occupancy.resource_id == int_arg("resource"))))
    if int_arg("location") is not None:
        query = query.where(Appointment.id.in_(select(AppointmentDetail.appointment_id).where(
            AppointmentDetail.location_id == int_arg("location"))))
    for arg, column in (("status", Appointment.status), ("source", Appointment.source)):
        if request.args.get(arg):
            query = query.where(column == request.args[arg])
    return query


@bp.get("/appointments/")
@permission_required("appointments.read")
@session_allowed
def scheduling_appointments_index():
    """JSON: ``{count, next, previous, results}`` of appointments by start, filtered by the query arguments."""
    page, per_page, error = page_args(50)
    if error:
        return error
    try:
        query = _filtered(_scoped(), api_user().practice)
    except SchedulingError as problem:
        return invalid(problem)
    result = paginate(query, per_page, Appointment.id, order_by=(Appointment.starts_at, Appointment.id),
                      options=(selectinload(Appointment.detail),))
    ids = [appointment.id for appointment in result.items]
    resources = {}
    for appointment_id, resource_id in db.session.execute(select(Occupancy.appointment_id, Occupancy.resource_id)
                                                          .where(Occupancy.appointment_id.in_(ids),
                                                                 Occupancy.resource_id.is_not(None))
                                                          .order_by(Occupancy.resource_id)):
        resources.setdefault(appointment_id, []).append(resource_id)
    return paged_json(page, result, lambda item: appointment_json(item, resources.get(item.id, [])))


def _appointment(appointment_id):
    """The appointment ``appointment_id`` if the user may read it, else None."""
    return db.session.scalar(_scoped().where(Appointment.id == appointment_id))


@bp.get("/appointments/<int:row_id>/")
@permission_required("appointments.read")
@session_allowed
def scheduling_appointments_detail(row_id):
    """JSON: one appointment; 404 outside the practice or the therapist's own."""
    appointment = _appointment(row_id)
    return appointment_json(appointment) if appointment is not None else not_found()


def _booking_request(body, practice):
    """A BookingRequest from an (merged) API body."""
    unknown_fields(body, FIELDS)
    resource_ids = body.get("resource_ids")
    if resource_ids is not None and (not isinstance(resource_ids, list) or not all(
            isinstance(rid, int) and not isinstance(rid, bool) for rid in resource_ids)):
        raise SchedulingError(_("resource_ids must be a list of resource ids."), "resource_ids")
    for name in ("type", "location"):
        integer(body, name, required=True)
    return BookingRequest(
        type_id=body["type"], therapist_id=integer(body, "doctor", required=True), location_id=body["location"],
        start=moment(body, "start_time", practice), end=moment(body, "end_time", practice, required=False),
        patient_id=integer(body, "patient_id"), resource_ids=resource_ids,
        notes=text(body, "notes", max_length=2000), override_reason=text(body, "override_reason", max_length=500))


def _forbidden_doctor(doctor):
    """A therapist books only for themselves."""
    if own_only("appointments.read") and doctor != api_user().id:
        return json_error(403, "forbidden", _("You can only book your own appointments."))
    return None


@bp.post("/appointments/")
@permission_required("appointments.book")
def scheduling_appointments_create():
    """JSON: book a local appointment; 201, 422 on bad input, 409 with the conflicts."""
    body, error = json_body(dict)
    if error:
        return error
    user = api_user()
    if own_only("appointments.read") and body.get("doctor") is None:
        body["doctor"] = user.id
    try:
        booking = _booking_request(body, user.practice)
        if (refused := _forbidden_doctor(booking.therapist_id)) is not None:
            return refused
        appointment = book(actor(), user.practice, booking, can_override=has_permission(user,
                                                                                       "appointments.override"))
    except ConflictError as conflict:
        return conflict_response(conflict)
    except SchedulingError as problem:
        return invalid(problem)
    location = url_for("api.scheduling_appointments_detail", row_id=appointment.id)
    return appointment_json(appointment), 201, {"Location": location}


@bp.patch("/appointments/<int:row_id>/")
@permission_required("appointments.book")
def scheduling_appointments_update(row_id):
    """JSON: move or change a local appointment, or set its status; 409 with the conflicts."""
    appointment = _appointment(row_id)
    if appointment is None:
        return not_found()
    if appointment.source != LOCAL:
        return json_error(422, "read_only", _("This appointment comes from another system; change it there."))
    body, error = json_body(dict)
    if error:
        return error
    user = api_user()
    try:
        unknown_fields(body, FIELDS)
        if MOVING & set(body):
            merged = {**appointment_json(appointment), **body}
            booking = _booking_request(merged, user.practice)
            if "end_time" not in body:  # a move keeps the length; another type brings its own
                booking.end = None if "type" in body else booking.start + (appointment.ends_at - appointment.starts_at)
            if (refused := _forbidden_doctor(booking.therapist_id)) is not None:
                return refused
            change(actor(), user.practice, appointment, booking,
                   can_override=has_permission(user, "appointments.override"))
        elif "notes" in body:
            appointment.detail.notes = text(body, "notes", max_length=2000)
            db.session.commit()
        if "status" in body:
            set_status(actor(), appointment, body["status"])
    except ConflictError as conflict:
        return conflict_response(conflict)
    except SchedulingError as problem:
        db.session.rollback()
        return invalid(problem)
    return appointment_json(appointment)


@bp.delete("/appointments/<int:row_id>/")
@permission_required("appointments.book")
def scheduling_appointments_delete(row_id):
    """Cancel a local appointment (the row stays, status cancelled); 204."""
    appointment = _appointment(row_id)
    if appointment is None:
        return not_found()
    if appointment.source != LOCAL:
        return json_error(422, "read_only", _("This appointment comes from another system; cancel it there."))
    cancel(actor(), appointment)
    return "", 204


@bp.get("/appointments/suggest/")
@permission_required("appointments.read")
@session_allowed
def scheduling_appointments_suggest():
    """JSON: ``{count, next, previous, results, reasons}``: the next free slots for ``type`` (with ``doctor``,
    ``resource``, ``location``, ``start``, ``end``, ``limit``, ``part_of_day``, ``patient_id``), each
    ``{start_time, end_time, doctor, resource_ids, location}``; ``reasons`` say why when there are none."""
    user = api_user()
    try:
        search = SlotSearch(
            type_id=int_arg("type"), therapist_id=int_arg("doctor"), resource_id=int_arg("resource"),
            location_id=int_arg("location"), start=range_arg("start", user.practice),
            end=range_arg("end", user.practice, end=True), part_of_day=request.args.get("part_of_day") or None,
            limit=int_arg("limit") or 10, patient_id=int_arg("patient_id"))
        if search.type_id is None:
            raise SchedulingError(_("type is required."), "type")
        if own_only("appointments.read"):
            search.therapist_id = user.id
        slots, reasons = find_slots(user.practice, search)
    except SchedulingError as problem:
        return invalid(problem)
    results = [{"start_time": iso(slot.start), "end_time": iso(slot.end), "doctor": slot.therapist_id,
                "resource_ids": list(slot.resource_ids), "location": slot.location_id} for slot in slots]
    return {"count": len(results), "next": None, "previous": None, "results": results, "reasons": reasons}
