"""Meine Termine: the page a patient opens with a personal link, without an account."""

from flask import Blueprint, make_response, render_template

from app.appointments.reading import practice_zone, therapist_label, upcoming_for_patient_page
from app.patients.links import open_link
from app.platform.database import utcnow
from app.platform.extensions import limiter
from app.platform.security.guard import public

bp = Blueprint("portal", __name__, url_prefix="/meine-termine")

# The page shows one patient's data to whoever holds the link: no caching, no referrer to other sites, no index.
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


@bp.get("/<token>")
@limiter.limit("30 per minute")
@public
def show(token):
    """Page: the patient's upcoming appointments; 404 with one message for any link that does not work (forged,
    expired, revoked: the page does not say which)."""
    now = utcnow()
    link = open_link(token, now)
    if link is None:
        body, status = render_template("portal/invalid.html"), 404
    else:
        patient = link.patient
        body = render_template("portal/show.html", patient=patient, practice=patient.practice,
                               appointments=upcoming_for_patient_page(patient, now),
                               zone=practice_zone(patient.practice), therapist_label=therapist_label)
        status = 200
    response = make_response(body, status)
    response.headers.update(PRIVATE_HEADERS)
    return response
