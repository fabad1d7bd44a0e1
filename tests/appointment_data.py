"""Test data for the appointment cache, inserted directly as the webhook pipeline would leave it: appointments, and
webhook events with their attempts (append-only tables: rows are only ever inserted). Shared by the web, unit and
browser tests; the caller's app context and session are used, and every function commits."""

import itertools
import secrets
from datetime import timedelta

from sqlalchemy import select

from app.appointments.models import Appointment, Call
from app.platform.database import utcnow
from app.platform.extensions import db
from app.platform.security.crypto import encrypt_secret
from app.webhooks.models import WebhookEndpoint, WebhookEvent, WebhookEventAttempt

_numbers = itertools.count(1)


def add_appointment(practice, patient, starts_at, minutes=45, **fields):
    """An appointment of ``patient`` (None: unmatched) starting at ``starts_at``, synced at ``synced_at`` (default
    now)."""
    number = next(_numbers)
    fields.setdefault("source", "booking")
    fields.setdefault("external_id", f"T-{number}")
    fields.setdefault("service_name", "Physiotherapie")
    fields.setdefault("therapist_name", "Extern Therapeutin")
    fields.setdefault("synced_at", utcnow())
    appointment = Appointment(practice_id=practice.id, patient_id=patient.id if patient else None,
                              starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes), **fields)
    db.session.add(appointment)
    db.session.commit()
    return appointment


def endpoint_for(practice, source):
    """The practice's webhook endpoint for ``source``, created when missing."""
    endpoint = db.session.scalar(select(WebhookEndpoint).where(
        WebhookEndpoint.practice_id == practice.id, WebhookEndpoint.source == source))
    if endpoint is None:
        endpoint = WebhookEndpoint(practice_id=practice.id, source=source, public_id=secrets.token_hex(16),
                                   secret=encrypt_secret("whsec_test"))
        db.session.add(endpoint)
        db.session.flush()
    return endpoint


def add_event(practice, received_at, source="booking", outcome="accepted", attempt="processed"):
    """A webhook event of ``source`` received at ``received_at``, with one attempt of outcome ``attempt`` (None:
    no attempt)."""
    number = next(_numbers)
    event = WebhookEvent(practice_id=practice.id, endpoint_id=endpoint_for(practice, source).id, source=source,
                         delivery_id=f"evt-{number}", event_type="appointment.updated", received_at=received_at,
                         outcome=outcome)
    db.session.add(event)
    db.session.flush()
    if attempt is not None:
        db.session.add(WebhookEventAttempt(event_id=event.id, number=1, started_at=received_at,
                                           finished_at=received_at, outcome=attempt, triggered_by="receipt"))
    db.session.commit()
    return event


def add_call(practice, patient, started_at, **fields):
    """A voice-agent call of ``patient`` started at ``started_at``."""
    number = next(_numbers)
    fields.setdefault("external_id", f"call-{number}")
    call = Call(practice_id=practice.id, patient_id=patient.id, started_at=started_at, **fields)
    db.session.add(call)
    db.session.commit()
    return call
