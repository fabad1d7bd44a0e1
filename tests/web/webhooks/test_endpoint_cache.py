"""The receiver decrypts an endpoint's secrets once per process and secret version (app.webhooks.endpoints
.receiving_secrets): a rotation, the end of the grace period and a disabled endpoint still take effect with the very
next request."""

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.patients.models import Patient
from app.platform.database import utcnow
from app.platform.security.actor import Actor
from app.webhooks import endpoints as webhook_endpoints
from app.webhooks.models import WebhookEndpoint, WebhookEvent
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
            "email": f"anna{number}@example.test", "phone": "0170 1234567",
            "birth_date": f"1980-01-{number % 28 + 1:02d}"}  # another person each time, never a likely duplicate
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


def test_a_changed_practice_setting_applies_to_the_next_event(client, db, practice, booking, make_user):
    """The receiver keeps the practice with the endpoint; the fence on config_version makes a new default therapist
    count from the very next event."""
    endpoint, secret = booking
    first, second = make_user(role="therapist"), make_user(role="therapist")
    practice.settings = {"default_therapist_id": first.id}
    db.session.commit()
    before = _send(client, endpoint, secret)
    assert before.status_code == 200, before.json

    practice.settings = {"default_therapist_id": second.id}
    db.session.commit()
    after = _send(client, endpoint, secret)
    assert after.status_code == 200, after.json

    therapists = db.session.execute(select(Patient.therapist_id).order_by(Patient.id)).scalars().all()
    assert therapists == [first.id, second.id]


def test_a_practice_counts_its_changes(db, practice):
    version = practice.config_version
    practice.settings = {"default_therapist_id": None}
    db.session.commit()
    assert practice.config_version == version + 1
    db.session.add(practice)  # marked dirty without a change: no new version
    db.session.commit()
    assert practice.config_version == version + 1


def test_the_next_event_reads_no_endpoint(client, db, booking, sql_statements):
    """With this process's copy, an event costs its writes only: no read of the endpoint or its practice."""
    endpoint, secret = booking
    assert _send(client, endpoint, secret).status_code == 200
    with sql_statements() as sent:
        assert _send(client, endpoint, secret).status_code == 200
    assert not [statement for statement in sent if "FROM webhook_endpoints JOIN practices" in statement]
    # The event is inserted once: on its own, or within a fast path's one statement (WITH ev AS (INSERT ...)).
    assert sum("INSERT INTO WEBHOOK_EVENTS" in statement.upper() for statement in sent) == 1


def test_a_stale_copy_stores_nothing_for_an_endpoint_disabled_behind_its_back(client, db, booking):
    """The fence reads the endpoint as stored: disabled by a plain UPDATE (no hook of the app involved), the copy
    stores nothing and the sender gets 404."""
    endpoint, secret = booking
    assert _send(client, endpoint, secret).status_code == 200
    db.session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id).values(active=False))
    db.session.commit()
    count = db.session.scalar(select(func.count()).select_from(WebhookEvent))
    assert _send(client, endpoint, secret).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == count
