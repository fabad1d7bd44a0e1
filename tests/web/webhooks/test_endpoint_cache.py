"""The receiver decrypts an endpoint's secrets once per process and secret version (app.webhooks.endpoints
.receiving_secrets): a rotation, the end of the grace period and a disabled endpoint still take effect with the very
next request."""

import itertools
from datetime import timedelta

import pytest

from app.platform.database import utcnow
from app.platform.security.actor import Actor
from app.webhooks import endpoints as webhook_endpoints
from app.webhooks.models import WebhookEvent
from tests.signers import booking_event, compact, sign_booking

_numbers = itertools.count(1)


@pytest.fixture
def booking(db, practice):
    """The practice's booking endpoint and its secret."""
    return webhook_endpoints.create_endpoint(Actor(practice_id=practice.id), "booking")


def _send(client, endpoint, secret):
    """POST a new patient.created event signed with ``secret``; returns the response."""
    number = next(_numbers)
    data = {"patient_id": f"BP-{number}", "first_name": "Anna", "last_name": "Muster",
            "email": f"anna{number}@example.test", "phone": "0170 1234567", "birth_date": "1980-01-02"}
    body = compact(booking_event("patient.created", data, event_id=f"evt_cache_{number}"))
    return client.post(f"/api/webhooks/booking/{endpoint.public_id}", data=body,
                       headers=sign_booking(secret, body, msg_id=f"msg_cache_{number}"))


def test_a_rotated_secret_verifies_with_the_next_request(client, db, practice, booking):
    endpoint, old = booking
    actor = Actor(practice_id=practice.id)
    assert _send(client, endpoint, old).status_code == 200  # the old secret is now decrypted and cached

    new = webhook_endpoints.rotate_secret(actor, endpoint)
    answer = _send(client, endpoint, new)
    assert answer.status_code == 200, answer.json
    assert db.session.get(WebhookEvent, answer.json["event_id"]).secret_version == 2
    graced = _send(client, endpoint, old)  # the previous secret stays valid for its grace period
    assert graced.status_code == 200
    assert db.session.get(WebhookEvent, graced.json["event_id"]).secret_version == 1

    endpoint.previous_valid_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert _send(client, endpoint, old).status_code == 401
    newer = webhook_endpoints.rotate_secret(actor, endpoint)
    assert _send(client, endpoint, new).status_code == 200  # now the previous one
    assert _send(client, endpoint, newer).status_code == 200


def test_a_disabled_endpoint_is_refused_with_the_next_request(client, db, practice, booking):
    endpoint, secret = booking
    actor = Actor(practice_id=practice.id)
    assert _send(client, endpoint, secret).status_code == 200
    webhook_endpoints.set_active(actor, endpoint, False)
    assert _send(client, endpoint, secret).status_code == 404
    webhook_endpoints.set_active(actor, endpoint, True)
    assert _send(client, endpoint, secret).status_code == 200
