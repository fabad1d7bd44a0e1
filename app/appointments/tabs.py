"""The Termine and Anrufe tabs of the patient record (registered with the patients domain, app.patients.tabs):
what each shows, read from the request's paging arguments and the signed-in user's permissions."""

from flask import abort, request
from flask_login import current_user

from app.appointments.reading import appointment_page, patient_calls, practice_zone
from app.patients.links import patient_links
from app.platform.database import utcnow
from app.platform.security.permissions import has_permission
from app.tenancy.settings import booking_url, booking_url_template


def appointments_context(patient):
    """What the Termine tab shows: a page of appointments (``?past=1`` for earlier ones, ``?page=``), the booking
    page URL and the patient's "Meine Termine" links. Reading appointments needs appointments.read."""
    if not has_permission(current_user, "appointments.read"):
        abort(403)
    try:
        page = max(int(request.args.get("page", 1)), 1)
    except ValueError:
        page = 1
    now = utcnow()
    can_book = has_permission(current_user, "appointments.book")
    return {
        "appointments": appointment_page(patient, now, past=request.args.get("past") == "1", page=page),
        "booking_url": booking_url(booking_url_template(patient.practice), patient) if can_book else None,
        "access_links": patient_links(patient) if can_book else [],
        "now": now,
    }


def calls_context(patient):
    """What the Anrufe tab shows: the patient's voice-agent calls in the practice's time zone."""
    return {"calls": patient_calls(patient), "zone": practice_zone(patient.practice)}
