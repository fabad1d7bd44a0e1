"""No double booking across processes: gunicorn with two workers (threads each) on the test database (a SQLite
file, or PostgreSQL from TEST_DATABASE_URL), 32 concurrent POSTs to ``/api/appointments/`` with an API token for
overlapping times of one therapist, and exactly one answers 201; every other one is a clean 409 conflict."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.hub_support import file_database
from tests.unit.scheduling.setup import build

ROOT = Path(__file__).resolve().parents[3]
GUNICORN = Path(sys.executable).with_name("gunicorn")
REQUESTS = 32
STARTUP_SECONDS = 60


@pytest.fixture
def app_overrides(tmp_path):
    """A SQLite file the server's workers open too, or TEST_DATABASE_URL (PostgreSQL) as it is."""
    return file_database(tmp_path)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(app, tmp_path):
    """gunicorn serving the app with 2 workers of 16 threads on the test's database; its base URL."""
    port = _free_port()
    env = {**os.environ, "APP_ENV": "test", "TEST_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]}
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(  # noqa: S603 (our own gunicorn, fixed arguments)
        [str(GUNICORN), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "16",
         "--worker-class", "gthread", "--timeout", "60", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/health", timeout=2).close()  # noqa: S310 (loopback)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text()[-2000:])
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _post(url, token, body, barrier):
    """POST ``body`` as JSON once every thread is ready; the status code."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    barrier.wait()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


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
