"""The receiver under load: concurrent deliveries of one event, and the per-endpoint rate limit."""

import os
import threading
import uuid

import pytest
from sqlalchemy import func, select

from app.appointments.models import Appointment
from app.platform.security.actor import Actor
from app.webhooks import endpoints as webhook_endpoints
from app.webhooks.models import WebhookEvent, WebhookEventAttempt
from tests.signers import booking_event, compact, sign_booking

CONCURRENT_DELIVERIES = 32


@pytest.fixture
def app_overrides(request, tmp_path):
    """Threads need a database that several connections share: a file on SQLite (PostgreSQL when configured)."""
    if os.environ.get("TEST_DATABASE_URL"):
        return {}
    return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'webhooks.sqlite3'}"}


@pytest.fixture
def booking(db, practice):
    """The practice's booking endpoint and its secret."""
    return webhook_endpoints.create_endpoint(Actor(practice_id=practice.id), "booking")


def _count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_concurrent_deliveries_of_one_event_apply_it_exactly_once(app, db, booking):
    endpoint, secret = booking
    data = {"appointment_id": "A-1", "patient_id": "B-1", "start": "2030-05-04T09:30:00+02:00",
            "duration_minutes": 30, "therapist_name": "", "service_name": "Massage", "status": "scheduled",
            "updated_at": "2030-05-01T08:00:00+02:00"}
    body = compact(booking_event("appointment.created", data, event_id="msg_once"))
    headers = sign_booking(secret, body, msg_id="msg_once")
    url = f"/api/webhooks/booking/{endpoint.public_id}"
    barrier = threading.Barrier(CONCURRENT_DELIVERIES)
    answers = []

    def deliver():
        client = app.test_client()
        barrier.wait()
        response = client.post(url, data=body, headers=headers)
        answers.append((response.status_code, response.json["status"]))

    threads = [threading.Thread(target=deliver) for _ in range(CONCURRENT_DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [(200, "duplicate")] * (CONCURRENT_DELIVERIES - 1) + [(200, "processed")]
    assert _count(db, WebhookEvent, WebhookEvent.outcome == "accepted") == 1
    assert _count(db, WebhookEvent, WebhookEvent.outcome == "duplicate") == CONCURRENT_DELIVERIES - 1
    assert _count(db, WebhookEventAttempt) == 1
    assert _count(db, Appointment) == 1


def test_the_rate_limit_is_per_endpoint_and_spares_the_ui(tmp_path):
    from app import create_app
    from app.platform.extensions import db as _db
    from app.tenancy.models import Practice
    from config import TestConfig

    overrides = {} if os.environ.get("TEST_DATABASE_URL") else {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'limits.sqlite3'}"}
    app = create_app(TestConfig, RATELIMIT_ENABLED=True, WEBHOOK_RATE_LIMIT="3 per minute",
                     RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
                     RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}", **overrides)
    with app.app_context():
        _db.drop_all()
        _db.create_all()
        practice = Practice(name="Limits", slug="limits", settings={})
        _db.session.add(practice)
        _db.session.commit()
        actor = Actor(practice_id=practice.id)
        first = webhook_endpoints.create_endpoint(actor, "booking")[0]
        second = webhook_endpoints.create_endpoint(actor, "calcom")[0]
        client = app.test_client()

        def post(endpoint):
            return client.post(f"/api/webhooks/{endpoint.source}/{endpoint.public_id}", data="{}",
                               headers={"Content-Type": "application/json"})

        assert [post(first).status_code for _ in range(4)] == [401, 401, 401, 429]
        limited = post(first)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        assert limited.json["error"]["code"] == "rate_limited"
        assert post(second).status_code == 401
        assert client.get("/auth/login").status_code == 200
        assert client.get("/api/health").status_code == 200
        _db.session.remove()
        _db.drop_all()
