"""The receiver's rate limit across worker processes: gunicorn with two sync workers (each serves one connection
at a time, so concurrent requests are spread over both), the limiter on Redis as production runs it, and exactly
WEBHOOK_RATE_LIMIT requests of an endpoint get through per minute, whichever worker counted them."""

import os
import threading
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.platform.security.actor import Actor
from app.webhooks import endpoints as webhook_endpoints
from tests.hub_support import file_database
from tests.served import gunicorn, status_when_all_ready

LIMIT, REQUESTS = 20, 48
STORAGE = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")

pytestmark = pytest.mark.skipif(
    not STORAGE.startswith("redis"),
    reason="limits are shared by several workers only in Redis (memory:// counts per process; README)")


@pytest.fixture
def app_overrides(tmp_path):
    """A SQLite file the server's workers open too, or TEST_DATABASE_URL (PostgreSQL) as it is."""
    return file_database(tmp_path)


def _post(url, barrier):
    """POST an (unsigned) event once every thread is ready; the status code."""
    request = urllib.request.Request(url, data=b"{}", method="POST", headers={"Content-Type": "application/json"})
    return status_when_all_ready(request, barrier)


def test_the_limit_is_exact_across_two_workers(app, practice, tmp_path):
    """48 requests at once to two workers: exactly 20 are let through (and refused 401 as unsigned, which counts
    against the limit like any delivery), 28 are answered 429."""
    endpoint = webhook_endpoints.create_endpoint(Actor(practice_id=practice.id), "booking")[0]
    env = {"APP_ENV": "production", "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "SECRET_KEY": app.config["SECRET_KEY"], "APP_ENCRYPTION_KEYS": app.config["APP_ENCRYPTION_KEYS"],
           "RATELIMIT_ENABLED": "true", "RATELIMIT_STORAGE_URI": STORAGE,
           "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}", "WEBHOOK_RATE_LIMIT": f"{LIMIT} per minute"}
    with gunicorn(tmp_path, env, "--workers", "2", "--worker-class", "sync") as base:
        url = f"{base}/api/webhooks/booking/{endpoint.public_id}"
        barrier = threading.Barrier(REQUESTS)
        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            codes = list(pool.map(lambda _: _post(url, barrier), range(REQUESTS)))
    assert codes.count(401) == LIMIT, codes
    assert codes.count(429) == REQUESTS - LIMIT, codes
