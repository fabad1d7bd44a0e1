"""JSON API for a patient's cached appointments: the same scoping as the record's Termine tab (a therapist's token
sees only own patients' appointments; anything else is 404), with the cache's freshness."""

from flask import g, request
from flask_babel import gettext as _

from app.api.blueprint import bp
from app.api.helpers import page_args
from app.appointments.reading import appointment_page
from app.patients.service import get_patient
from app.platform.database import utcnow
from app.platform.errors import json_error
from app.platform.security.guard import permission_required


def _iso(value):
    """ISO 8601 or None."""
    return value.isoformat() if value is not None else None


def appointment_json(appointment):
    """The API representation of a cached appointment (times in UTC)."""
    return {
        "id": appointment.id,
        "source": appointment.source,
        "external_id": appointment.external_id,
        "starts_at": _iso(appointment.starts_at),
        "ends_at": _iso(appointment.ends_at),
        "status": appointment.status,
        "therapist_name": appointment.therapist.name if appointment.therapist else appointment.therapist_name,
        "therapist_id": appointment.therapist_id,
        "service_name": appointment.service_name,
    }


@bp.get("/patients/<int:patient_id>/appointments")
@permission_required("appointments.read")
def patient_appointments(patient_id):
    """JSON: ``{"patient_id", "synced_at", "stale", "sources", "page", "has_more", "results"}``: upcoming
    appointments ascending, or with ``past=1`` earlier ones descending; ``page`` and ``per_page`` (at most 100)
    page through them. ``synced_at`` is the oldest of the sources' last contact (the cache is at least that fresh),
    ``stale`` whether any source is out of date. 404 outside the token user's scope."""
    patient = get_patient(g.api_user, patient_id)
    if patient is None:
        return json_error(404, "not_found", _("This page or record does not exist."))
    page, per_page, error = page_args(50)
    if error:
        return error
    result = appointment_page(patient, utcnow(), past=request.args.get("past") in ("1", "true"), page=page,
                              page_size=per_page)
    return {
        "patient_id": patient.id,
        "synced_at": _iso(result.synced_at),
        "stale": result.stale,
        "sources": [{"source": sync.source, "synced_at": _iso(sync.synced_at), "stale": sync.stale,
                     "provider_state": sync.provider_state}
                    for sync in result.syncs],
        "page": result.page,
        "has_more": result.has_more,
        "results": [appointment_json(appointment) for appointment in result.appointments],
    }
