"""Webhook rows inserted directly (as the receiver stores them), for the log, admin and API tests."""

import json

from app.platform.database import utcnow
from app.platform.extensions import db
from app.platform.security.crypto import encrypt_secret
from app.webhooks.models import WebhookEndpoint, WebhookEvent, WebhookEventAttempt

BOOKING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def make_endpoint(practice, source="booking", secret=BOOKING_SECRET, **fields):
    """A stored endpoint of ``practice`` for ``source``."""
    endpoint = WebhookEndpoint(practice_id=practice.id, source=source, public_id=f"{source}-{practice.slug}",
                               secret=encrypt_secret(secret), secret_version=fields.pop("secret_version", 1),
                               **fields)
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def make_event(endpoint, *, attempts=(), payload=None, outcome="accepted", received_at=None, **fields):
    """A stored event of ``endpoint`` (received now unless ``received_at`` is given), with its payload encrypted and
    one attempt per ``attempts`` item (a dict of WebhookEventAttempt fields, numbered in order)."""
    if payload is None and outcome == "accepted":
        payload = {"id": "evt", "type": "patient.created", "occurred_at": "2025-03-01T10:00:00+01:00",
                   "data": {"patient_id": f"B-{endpoint.practice_id}", "first_name": "Erika",
                            "last_name": "Mustermann", "email": "erika@example.test", "phone": "+4930123456",
                            "birth_date": "1980-04-02"}}
    fields.setdefault("event_type", "patient.created")
    fields.setdefault("preview", '{"data": {"first_name": "E."}}')
    fields.setdefault("secret_version", 1 if outcome != "rejected" else None)
    event = WebhookEvent(practice_id=endpoint.practice_id, endpoint_id=endpoint.id, source=endpoint.source,
                         outcome=outcome, received_at=received_at or utcnow(),
                         payload=encrypt_secret(json.dumps(payload)) if payload is not None else None, **fields)
    db.session.add(event)
    db.session.flush()
    for number, attempt in enumerate(attempts, start=1):
        attempt = {"outcome": "processed", "triggered_by": "receipt" if number == 1 else "retry", **attempt}
        db.session.add(WebhookEventAttempt(event_id=event.id, number=number, **attempt))
    db.session.commit()
    return event
