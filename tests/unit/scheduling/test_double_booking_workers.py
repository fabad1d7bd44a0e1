"""No double booking across processes: gunicorn with two workers (threads each) on the test database (a SQLite
file, or PostgreSQL from TEST_DATABASE_URL), 32 concurrent POSTs to ``/api/appointments/`` with an API token for
overlapping times of one therapist, and exactly one answers 201; every other one is a clean 409 conflict."""

import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.hub_support import file_database
from tests.served import gunicorn, status_when_all_ready
from tests.unit.scheduling.setup import build

REQUESTS = 32


@pytest.fixture
def app_overrides(tmp_path):
    """A SQLite file the server's workers open too, or TEST_DATABASE_URL (PostgreSQL) as it is."""
    return file_database(tmp_path)


@pytest.fixture
def server(app, tmp_path):
    """gunicorn serving the app with 2 workers of 16 threads on the test's database; its base URL."""
    env = {"APP_ENV": "test", "TEST_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]}
    with gunicorn(tmp_path, env, "--workers", "2", "--threads", "16", "--worker-class", "gthread") as base:
        yield base


def _post(url, token, body, barrier):
    """POST ``body`` as JSON once every thread is ready; the status code."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    return status_when_all_ready(request, barrier)


def test_32_concurrent_posts_to_two_workers_book_exactly_one(app, practice, make_user, make_token, server):
    s = build(practice, make_user)
    token = make_token(make_user(role="assistant"))
    starts = [f"2037-05-05T09:{minute:02d}:00+02:00" for minute in (0, 5, 10, 15)]
    bodies = [{"type": s.kg.id, "doctor": s.anna.id, "location": s.location.id,
               "start_time": starts[index % len(starts)]} for index in range(REQUESTS)]
    barrier = threading.Barrier(REQUESTS)
    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        codes = list(pool.map(lambda body: _post(f"{server}/api/appointments/", token, body, barrier), bodies))
    assert codes.count(201) == 1, codes
    assert codes.count(409) == REQUESTS - 1, codes
