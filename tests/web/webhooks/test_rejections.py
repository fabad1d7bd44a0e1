"""Refused requests are counted, not stored one by one: one row per endpoint, reason and minute, incremented by an
upsert that the database keeps exact under concurrency; old counts go; the log shows them in German."""

import os
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.platform.security.actor import Actor
from app.webhooks import endpoints as webhook_endpoints
from app.webhooks.models import WebhookEvent, WebhookRejection
from app.webhooks.rejections import SIGNATURE_LABELS, count_rejection
from tests.signers import compact, sign_calcom

PROVIDERS = Path(__file__).resolve().parents[3] / "app" / "providers"


@pytest.fixture
def app_overrides(tmp_path):
    """Threads need a database that several connections share: a file on SQLite (PostgreSQL when configured)."""
    if os.environ.get("TEST_DATABASE_URL"):
        return {}
    return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'rejections.sqlite3'}"}


@pytest.fixture
def endpoints(db, practice):
    """The practice's Cal.com and booking endpoints with their secrets: {source: (endpoint, secret)}."""
    actor = Actor(practice_id=practice.id)
    return {source: webhook_endpoints.create_endpoint(actor, source) for source in ("calcom", "booking")}


def _url(endpoint):
    return f"/api/webhooks/{endpoint.source}/{endpoint.public_id}"


def _rows(db):
    return db.session.scalars(select(WebhookRejection).order_by(WebhookRejection.id)).all()


def _away_from_a_minute_boundary():
    """Requests of one test land in the same minute: wait when the minute is about to turn."""
    if datetime.now(UTC).second >= 55:
        time.sleep(61 - datetime.now(UTC).second)


def test_refused_requests_are_counted_per_endpoint_reason_and_minute(db, client, endpoints):
    calcom, secret = endpoints["calcom"]
    booking, _secret = endpoints["booking"]
    body = compact({"triggerEvent": "PING"})
    _away_from_a_minute_boundary()

    answers = [client.post(_url(calcom), data=body, headers=sign_calcom("wrong", body)).status_code
               for _ in range(5)]
    answers.append(client.post(_url(calcom), data=body, headers={"Content-Type": "text/plain"}).status_code)
    answers.append(client.post(_url(booking), data=body, headers={"Content-Type": "application/json"}).status_code)

    assert answers == [401] * 5 + [415, 401]
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
    rows = _rows(db)
    assert [(row.endpoint_id, row.reason, row.count) for row in rows] == [
        (calcom.id, "invalid signature: no matching signature", 5),
        (calcom.id, "the body must be JSON (Content-Type: application/json)", 1),
        (booking.id, "invalid signature: missing signature headers", 1),
    ]
    minute = rows[0].minute
    assert (minute.second, minute.microsecond) == (0, 0) and rows[0].last_at >= minute
    assert rows[0].last_remote_addr == "127.0.0.1" and rows[0].source == "calcom"


@pytest.mark.parametrize("threads", [2, 16])
def test_concurrent_refusals_in_one_minute_end_as_one_row_with_their_count(app, db, endpoints, threads):
    url = _url(endpoints["calcom"][0])
    body = compact({"triggerEvent": "PING"})
    headers = sign_calcom("wrong", body)
    barrier = threading.Barrier(threads)
    answers = []
    _away_from_a_minute_boundary()

    def refuse():
        client = app.test_client()
        barrier.wait()
        answers.append(client.post(url, data=body, headers=headers).status_code)

    workers = [threading.Thread(target=refuse) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert answers == [401] * threads
    db.session.expire_all()
    assert [(row.reason, row.count) for row in _rows(db)] == [("invalid signature: no matching signature",
                                                               threads)]


def test_a_new_minute_removes_the_endpoints_counts_past_the_keeping_time(app, db, endpoints):
    calcom, _secret = endpoints["calcom"]
    booking, _secret = endpoints["booking"]
    keep = timedelta(days=app.config["WEBHOOK_REJECTIONS_KEEP_DAYS"])
    now = datetime(2030, 5, 4, 9, 30, 15, tzinfo=UTC)
    count_rejection(calcom, "old", None, now - keep - timedelta(minutes=1))
    count_rejection(calcom, "kept", None, now - keep + timedelta(minutes=1))
    count_rejection(booking, "old elsewhere", None, now - keep - timedelta(minutes=1))

    count_rejection(calcom, "new", "203.0.113.7", now)
    count_rejection(calcom, "new", "203.0.113.8", now + timedelta(seconds=30))

    assert [(row.reason, row.count) for row in _rows(db)] == [("kept", 1), ("old elsewhere", 1), ("new", 2)]
    newest = _rows(db)[-1]
    assert (newest.minute, newest.last_at, newest.last_remote_addr) == (
        now.replace(second=0), now + timedelta(seconds=30), "203.0.113.8")


def test_every_signature_reason_of_the_sources_has_a_german_label():
    """A reason a source gives must be in SIGNATURE_LABELS, or the log would show it in English."""
    reasons = set()
    for module in PROVIDERS.glob("*/webhooks.py"):
        reasons |= set(re.findall(r'SignatureError\("([^"]+)"\)', module.read_text(encoding="utf-8")))
    reasons |= set(re.findall(r'SignatureError\("([^"]+)"\)', (PROVIDERS / "fields.py").read_text()))
    assert len(reasons) >= 7
    assert reasons <= set(SIGNATURE_LABELS), reasons - set(SIGNATURE_LABELS)


def test_the_log_shows_refused_requests_with_count_reason_and_time_in_german(db, client, auth, endpoints,
                                                                            make_user):
    calcom, _secret = endpoints["calcom"]
    body = compact({"triggerEvent": "PING"})
    _away_from_a_minute_boundary()
    for _ in range(3):
        client.post(_url(calcom), data=body, headers=sign_calcom("wrong", body))
    client.post(_url(calcom), data=b"x" * (client.application.config["WEBHOOK_MAX_BYTES"] + 1),
                headers={"Content-Type": "application/json"})
    row = _rows(db)[0]
    auth.login("admin")

    events = client.get("/webhooks/events").get_data(as_text=True)
    page = client.get("/webhooks/rejections").get_data(as_text=True)
    fragment = client.get("/webhooks/rejections?source=booking", headers={
        "HX-Request": "true", "HX-Target": "webhook-rejections-table"}).get_data(as_text=True)

    assert "4 Anfragen wurden in den letzten 24 Stunden abgewiesen" in events
    assert 'id="tab-rejections"' in events
    assert f'id="webhook-rejection-{row.id}"' in page and 'data-count="3"' in page
    assert "ungültige Signatur: passt zu keinem Secret des Endpunkts" in page
    assert "größer als 262144 Bytes" in page
    assert f'datetime="{row.minute.isoformat()}"' in page and "Cal.com" in page
    assert fragment.lstrip().startswith('<div id="webhook-rejections-table">') and "<html" not in fragment
    assert "Keine abgewiesenen Anfragen" in fragment
    assert client.get("/webhooks/rejections?date_from=2030-01-02&date_to=2030-01-01").status_code == 422

    auth.logout()
    auth.login("assistant")
    assert client.get("/webhooks/rejections").status_code == 403
