"""``/api/series/``: plan a treatment series (``POST /api/series/propose/``: every unit with its slot, the
conflicts at the preferred time, alternatives and warnings) and book the accepted units in one go
(``POST /api/series/``: all or none, or with ``book_partial`` the ones that fit)."""

from flask_babel import gettext as _

from app.api.blueprint import bp
from app.api.helpers import json_body
from app.platform.errors import json_error
from app.platform.security.guard import permission_required
from app.platform.security.permissions import has_permission
from app.scheduling.api.appointments import appointment_json
from app.scheduling.api.common import (
    actor,
    api_user,
    day,
    integer,
    invalid,
    iso,
    moment,
    own_only,
    text,
    unknown_fields,
    wall_time,
)
from app.scheduling.booking import BookingRequest, SeriesConflict, book_all
from app.scheduling.resolve import SchedulingError
from app.scheduling.series import SeriesRequest, propose

PROPOSE_FIELDS = {"type", "location", "doctor", "patient_id", "units", "per_week", "first_date", "preferred_time",
                  "prescription_date", "valid_until"}
BOOK_FIELDS = {"type", "location", "patient_id", "units", "book_partial", "override_reason", "notes"}


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
        doctor = _doctor(unit)
        requests.append(BookingRequest(
            type_id=integer(body, "type", required=True), therapist_id=doctor,
            location_id=integer(body, "location", required=True), start=moment(unit, "start_time", practice),
            end=moment(unit, "end_time", practice, required=False), patient_id=integer(body, "patient_id"),
            resource_ids=unit.get("resource_ids"), notes=text(body, "notes", max_length=2000),
            override_reason=text(body, "override_reason", max_length=500)))
    return requests


@bp.post("/series/")
@permission_required("appointments.book")
def scheduling_series_book():
    """JSON: book the accepted units; 201 ``{"results", "skipped"}``, or 409 listing each colliding unit."""
    body, error = json_body(dict)
    if error:
        return error
    user = api_user()
    try:
        unknown_fields(body, BOOK_FIELDS)
        partial = body.get("book_partial", False)
        if not isinstance(partial, bool):
            raise SchedulingError(_("%(field)s must be true or false.", field="book_partial"), "book_partial")
        booked, failures = book_all(actor(), user.practice, _unit_requests(body, user.practice),
                                    can_override=has_permission(user, "appointments.override"), partial=partial)
    except SeriesConflict as conflict:
        response, status, headers = json_error(409, "conflict", conflict.message)
        response["error"]["conflicts"] = [c.as_json() for _index, found in conflict.failures for c in found]
        response["error"]["units"] = [{"index": index, "conflicts": [c.as_json() for c in found]}
                                      for index, found in conflict.failures]
        return response, status, headers
    except SchedulingError as problem:
        return invalid(problem)
    return {"results": [appointment_json(appointment) for appointment in booked],
            "skipped": [{"index": index, "conflicts": [c.as_json() for c in found]} for index, found in failures]}, 201
