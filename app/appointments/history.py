"""The appointments and calls of a patient as lines of the record's history (Verlauf, app.platform.audit.history):
what webhooks and syncs brought in, so the history shows "Termin am 07.12.2026, 14:00 abgesagt (Cal.com)" beside
the changes people made. The appointment cache keeps each appointment's current state, so an appointment gives a
line when it arrived and, once it was cancelled, moved or took place, a line when that was heard of."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.appointments.models import Appointment, Call
from app.platform.audit.history import HistoryItem
from app.platform.extensions import db
from app.platform.formatting import datetime_for_people

SOURCE_LABELS = {"booking": _l("booking tool"), "calcom": "Cal.com", "local": "Praxis Hub", "retell": "Retell"}
# The sentence of an appointment's current state, heard of after it arrived.
STATE_LINES = {
    "cancelled": _l("Appointment on %(when)s cancelled"),
    "rescheduled": _l("Appointment on %(when)s moved"),
    "completed": _l("Appointment on %(when)s took place"),
    "no_show": _l("Appointment on %(when)s not attended"),
    "rejected": _l("Appointment request for %(when)s declined"),
}
DIRECTIONS = {"inbound": _l("incoming"), "outbound": _l("outgoing")}


def appointment_history(patient, limit):
    """History lines of the patient's appointments and calls: one query for each, newest first, ``limit`` each."""
    items = []
    appointments = db.session.scalars(
        select(Appointment).where(Appointment.patient_id == patient.id, Appointment.practice_id == patient.practice_id)
        .order_by(Appointment.synced_at.desc()).limit(limit))
    for appointment in appointments:
        when = datetime_for_people(appointment.starts_at)
        source = SOURCE_LABELS.get(appointment.source, appointment.source)
        details = [(str(_l("Service")), appointment.service_name)] if appointment.service_name else []
        if appointment.therapist_name:
            details.append((str(_l("Therapist")), appointment.therapist_name))
        items.append(HistoryItem(appointment.created_at, str(_l("Appointment on %(when)s booked", when=when)),
                                 details=details, origin=str(source)))
        if appointment.status in STATE_LINES and appointment.synced_at > appointment.created_at:
            items.append(HistoryItem(appointment.synced_at, str(STATE_LINES[appointment.status]) % {"when": when},
                                     origin=str(source)))
    calls = db.session.scalars(
        select(Call).where(Call.patient_id == patient.id, Call.practice_id == patient.practice_id)
        .order_by(Call.created_at.desc()).limit(limit))
    for call in calls:
        minutes = round((call.duration_ms or 0) / 60000)
        text = _l("Call with the voice agent (%(direction)s, %(minutes)d min)",
                  direction=DIRECTIONS.get(call.direction, _l("direction unknown")), minutes=minutes)
        items.append(HistoryItem(call.started_at or call.created_at, str(text), origin=str(SOURCE_LABELS["retell"])))
    return items
