"""The receiver's per-endpoint rate limit: exact under concurrent requests, one storage command per request, and
Flask-Limiter's own check skipped for it alone."""

import os
import threading
import uuid

import pytest
import redis.connection

from app import create_app
from app.platform.extensions import db as _db
from app.platform.extensions import limiter
from app.platform.security.actor import Actor
from app.tenancy.models import Practice
from app.webhooks import endpoints as webhook_endpoints
from config import TestConfig

THREADS, PER_THREAD, LIMIT = 8, 6, 20
STORAGE = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
STORAGE_COMMANDS = ("incr", "get", "get_expiry", "acquire_entry", "get_moving_window", "acquire_sliding_window_entry",
                    "get_sliding_window", "clear")


@pytest.fixture
def limited_app(tmp_path):
    """An app with the limiter on (in RATELIMIT_STORAGE_URI's storage, Redis on CI) and LIMIT per minute, and a
    booking endpoint; yields (app, endpoint)."""
    overrides = {} if os.environ.get("TEST_DATABASE_URL") else {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'limits.sqlite3'}"}
    app = create_app(TestConfig, RATELIMIT_ENABLED=True, WEBHOOK_RATE_LIMIT=f"{LIMIT} per minute",
                     RATELIMIT_STORAGE_URI=STORAGE,
                     RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}", **overrides)
    with app.app_context():
        _db.drop_all()
        _db.create_all()
        practice = Practice(name="Limits", slug="limits", settings={})
        _db.session.add(practice)
        _db.session.commit()
        endpoint = webhook_endpoints.create_endpoint(Actor(practice_id=practice.id), "booking")[0]
        yield app, endpoint
        _db.session.remove()
        _db.drop_all()


def test_the_limit_is_exact_under_concurrent_requests(limited_app):
    """THREADS threads send PER_THREAD requests each at once: exactly LIMIT get through, the rest get 429."""
    app, endpoint = limited_app
    url = f"/api/webhooks/{endpoint.source}/{endpoint.public_id}"
    barrier, statuses, lock = threading.Barrier(THREADS), [], threading.Lock()

    def sender():
        client = app.test_client()
        barrier.wait()
        mine = [client.post(url, data="{}", headers={"Content-Type": "application/json"}).status_code
                for _ in range(PER_THREAD)]
        with lock:
            statuses.extend(mine)

    threads = [threading.Thread(target=sender) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(statuses) == THREADS * PER_THREAD
    assert statuses.count(429) == THREADS * PER_THREAD - LIMIT
    assert statuses.count(401) == LIMIT  # unsigned: counted as rejections, but through the limit


def _count_storage_calls(storage, monkeypatch):
    """The list every call of ``storage``'s methods is named in from now on (outermost calls only: memory://
    calls get inside incr)."""
    calls, depth = [], [0]

    def counted(name, original):
        def command(*args, **kwargs):
            if not depth[0]:
                calls.append(name)
            depth[0] += 1
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1
        return command

    for name in STORAGE_COMMANDS:
        if hasattr(storage, name):
            monkeypatch.setattr(storage, name, counted(name, getattr(storage, name)))
    return calls


def _count_redis_commands(monkeypatch):
    """The list every command redis-py sends from now on is named in, whichever client or connection sends it."""
    calls, send = [], redis.connection.AbstractConnection.send_command

    def counted(connection, *args, **kwargs):
        calls.append(str(args[0]).lower())
        return send(connection, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_command", counted)
    return calls


def test_a_request_costs_one_storage_command(limited_app, monkeypatch):
    """Within the limit a request makes one call to the rate-limit storage (on Redis one command, the script that
    counts it: one round trip); the refused one reads its window once more for Retry-After. The first request opens
    the thread's Redis connection and is not counted."""
    app, endpoint = limited_app
    client = app.test_client()
    url = f"/api/webhooks/{endpoint.source}/{endpoint.public_id}"
    assert client.post(url, data="{}", headers={"Content-Type": "application/json"}).status_code == 401
    on_redis = STORAGE.startswith("redis")
    calls = _count_redis_commands(monkeypatch) if on_redis else _count_storage_calls(limiter.storage, monkeypatch)
    for _ in range(LIMIT - 1):
        calls.clear()
        assert client.post(url, data="{}", headers={"Content-Type": "application/json"}).status_code == 401
        assert calls == (["evalsha"] if on_redis else ["incr"])
    refused = client.post(url, data="{}", headers={"Content-Type": "application/json"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.json["error"]["code"] == "rate_limited"


def test_flask_limiter_is_not_consulted_for_the_receiver_only(limited_app, monkeypatch):
    """The receiver counts its requests itself, so Flask-Limiter's before_request leaves it alone: it neither
    resolves limits nor looks up exemptions (a request filter skipped only the first); every other route is still
    checked (the login's limit)."""
    app, endpoint = limited_app
    consulted = []
    for name in ("resolve_limits", "exemption_scope"):
        original = getattr(limiter.limit_manager, name)
        monkeypatch.setattr(limiter.limit_manager, name, lambda *args, _name=name, _original=original, **kwargs:
                            consulted.append((_name, args[1])) or _original(*args, **kwargs))
    client = app.test_client()
    url = f"/api/webhooks/{endpoint.source}/{endpoint.public_id}"
    assert client.post(url, data="{}", headers={"Content-Type": "application/json"}).status_code == 401
    assert consulted == []
    client.post("/auth/login", data={"email": "niemand@example.test", "password": "falsch"})
    assert {name for name, _ in consulted} == {"resolve_limits", "exemption_scope"}
    assert {endpoint for _, endpoint in consulted} == {"auth.login"}
