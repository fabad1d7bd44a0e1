"""``/api/series/``: plan a treatment series (``POST /api/series/propose/``: every unit with its slot, the
conflicts at the preferred time, alternatives and warnings), book the accepted units in one go and record the
series (``POST /api/series/``: all or none, or with ``book_partial`` the ones that fit), and read the recorded
series (``GET /api/series/`` filtered by ``patient`` and ``doctor``, ``GET /api/series/<id>/``) with their units.
A therapist sees only the series they lead or give a unit of; billing reads."""

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from app.api.blueprint import bp
from app.api.helpers import json_body, page_args, paged_json
from app.platform.errors import json_error
from app.platform.extensions import db
from app.platform.pagination import paginate
from app.platform.security.guard import permission_required, session_allowed
from app.platform.security.permissions import has_permission
from app.providers.events import CANCELLED
from app.scheduling.api.common import (
    actor,
    api_user,
    day,
    int_arg,
    integer,
    invalid,
    iso,
    moment,
    not_found,
    own_only,
    text,
    unknown_fields,
    wall_time,
)
from app.scheduling.booking import BookingRequest, SeriesConflict
from app.scheduling.models import AppointmentDetail, TreatmentSeries
from app.scheduling.prescriptions import Prescription, book_series, readable_series
from app.scheduling.resolve import SchedulingError
from app.scheduling.series import SeriesRequest, propose

PROPOSE_FIELDS = {"type", "location", "doctor", "patient_id", "units", "per_week", "first_date", "preferred_time",
                  "prescription_date", "valid_until"}
BOOK_FIELDS = {"type", "location", "doctor", "patient_id", "units", "units_prescribed", "per_week",
               "prescription_date", "valid_until", "book_partial", "override_reason", "notes"}


def _slot_json(slot):
    """The API form of a slot (as the suggest endpoint answers)."""
    return {"start_time": iso(slot.start), "end_time": iso(slot.end), "doctor": slot.therapist_id,
            "resource_ids": list(slot.resource_ids), "location": slot.location_id}


def _unit_json(proposal):
    """The API form of a proposed unit."""
    return {"index": proposal.index, "slot": _slot_json(proposal.slot) if proposal.slot else None,
            "moved": proposal.moved, "conflicts": [conflict.as_json() for conflict in proposal.conflicts],
            "alternatives": [_slot_json(slot) for slot in proposal.alternatives], "warnings": proposal.warnings}


def _doctor(body):
    """The therapist asked for; a therapist plans only for themselves."""
    doctor = integer(body, "doctor")
    if own_only("appointments.read"):
        if doctor not in (None, api_user().id):
            raise SchedulingError(_("You can only book your own appointments."), "doctor")
        return api_user().id
    return doctor


@bp.post("/series/propose/")
@permission_required("appointments.book")
def scheduling_series_propose():
    """JSON: ``{"units": [{index, slot, moved, conflicts, alternatives, warnings}]}`` for a prescription."""
    body, error = json_body(dict)
    if error:
        return error
    practice = api_user().practice
    try:
        unknown_fields(body, PROPOSE_FIELDS)
        request = SeriesRequest(
            type_id=integer(body, "type", required=True), location_id=integer(body, "location", required=True),
            units=integer(body, "units", required=True), per_week=integer(body, "per_week", default=1),
            first_date=day(body, "first_date"), therapist_id=_doctor(body),
            patient_id=integer(body, "patient_id"),
            preferred_time=wall_time(body, "preferred_time") if body.get("preferred_time") else None,
            prescription_date=day(body, "prescription_date", required=False),
            valid_until=day(body, "valid_until", required=False))
        proposals = propose(practice, request)
    except SchedulingError as problem:
        return invalid(problem)
    return {"units": [_unit_json(proposal) for proposal in proposals]}


def _unit_requests(body, practice):
    """One BookingRequest per accepted unit of the body."""
    units = body.get("units")
    if not isinstance(units, list) or not units:
        raise SchedulingError(_("A series has 1 to %(max)d units.", max=60), "units")
    requests = []
    for index, unit in enumerate(units):
        if not isinstance(unit, dict):
            raise SchedulingError(_("Each unit is an object with start_time and doctor."), f"units[{index}]")
        unknown_fields(unit, {"start_time", "end_time", "doctor", "resource_ids"})
        doctor = _doctor(unit if unit.get("doctor") is not None else body)
        requests.append(BookingRequest(
            type_id=integer(body, "type", required=True), therapist_id=doctor,
            location_id=integer(body, "location", required=True), start=moment(unit, "start_time", practice),
            end=moment(unit, "end_time", practice, required=False), patient_id=integer(body, "patient_id"),
            resource_ids=unit.get("resource_ids"), notes=text(body, "notes", max_length=2000),
            override_reason=text(body, "override_reason", max_length=500)))
    return requests


def series_json(series):
    """The PraxiApp form of a series with its units (``booked`` counts the units not cancelled)."""
    units = [{"id": detail.appointment_id, "unit": detail.unit_number,
              "start_time": iso(detail.appointment.starts_at), "end_time": iso(detail.appointment.ends_at),
              "status": detail.appointment.status} for detail in series.details]
    booked = sum(1 for unit in units if unit["status"] != CANCELLED)
    return {"id": series.id, "patient_id": series.patient_id, "type": series.type_id, "doctor": series.therapist_id,
            "location": series.location_id, "units": series.units, "per_week": series.per_week,
            "prescription_date": iso(series.prescription_date), "valid_until": iso(series.valid_until),
            "notes": series.notes, "appointments": units, "booked": booked,
            "remaining": max(series.units - booked, 0)}


def _prescription(body):
    """The Prescription of a booking body."""
    return Prescription(
        patient_id=integer(body, "patient_id", required=True), type_id=integer(body, "type", required=True),
        location_id=integer(body, "location", required=True), therapist_id=_doctor(body),
        units=integer(body, "units_prescribed"), per_week=integer(body, "per_week", default=1),
        prescription_date=day(body, "prescription_date", required=False),
        valid_until=day(body, "valid_until", required=False), notes=text(body, "notes", max_length=2000))


@bp.post("/series/")
@permission_required("appointments.book")
def scheduling_series_book():
    """JSON: book the accepted units and record the series; 201 with the series (and ``skipped`` units), or 409
    listing each colliding unit (then nothing is saved)."""
    body, error = json_body(dict)
    if error:
        return error
    user = api_user()
    try:
        unknown_fields(body, BOOK_FIELDS)
        partial = body.get("book_partial", False)
        if not isinstance(partial, bool):
            raise SchedulingError(_("%(field)s must be true or false.", field="book_partial"), "book_partial")
        prescription = _prescription(body)
        series, failures = book_series(actor(), user.practice, prescription, _unit_requests(body, user.practice),
                                       can_override=has_permission(user, "appointments.override"),
                                       partial=partial)
    except SeriesConflict as conflict:
        response, status, headers = json_error(409, "conflict", conflict.message)
        response["error"]["conflicts"] = [c.as_json() for _index, found in conflict.failures for c in found]
        response["error"]["units"] = [{"index": index, "conflicts": [c.as_json() for c in found]}
                                      for index, found in conflict.failures]
        return response, status, headers
    except SchedulingError as problem:
        return invalid(problem)
    answer = {**series_json(series),
              "skipped": [{"index": index, "conflicts": [c.as_json() for c in found]} for index, found in failures]}
    return answer, 201, {"Location": url_for("api.scheduling_series_detail", series_id=series.id)}


_LOADED = (selectinload(TreatmentSeries.details).selectinload(AppointmentDetail.appointment),)


@bp.get("/series/")
@permission_required("appointments.read")
@session_allowed
def scheduling_series_index():
    """JSON: ``{count, next, previous, results}`` of series, newest first, filtered by ``patient`` and ``doctor``."""
    page, per_page, error = page_args(50)
    if error:
        return error
    query = readable_series(api_user(), own_only=own_only("appointments.read"))
    try:
        for arg, column in (("patient", TreatmentSeries.patient_id), ("doctor", TreatmentSeries.therapist_id)):
            if int_arg(arg) is not None:
                query = query.where(column == int_arg(arg))
    except SchedulingError as problem:
        return invalid(problem)
    result = paginate(query, per_page, TreatmentSeries.id, order_by=(TreatmentSeries.id.desc(),), options=_LOADED)
    return paged_json(page, result, series_json)


@bp.get("/series/<int:series_id>/")
@permission_required("appointments.read")
@session_allowed
def scheduling_series_detail(series_id):
    """JSON: one series with its units; 404 outside the practice or the therapist's own."""
    query = readable_series(api_user(), own_only=own_only("appointments.read"))
    series = db.session.scalar(query.where(TreatmentSeries.id == series_id).options(*_LOADED))
    return series_json(series) if series is not None else not_found()
