"""The worker process: `flask hub worker`, its loop, the heartbeat thread and graceful stop on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.platform.database import utcnow
from app.platform.extensions import db as _db
from app.platform.jobs.models import Job
from app.platform.jobs.queue import enqueue
from app.platform.jobs.registry import register_job_kind
from app.platform.jobs.worker import run_worker
from app.tenancy.models import Practice
from config import BASE_DIR, TestConfig

DONE = []


def record(job, progress):
    """Test handler: remembers which job ran, reports one unit of progress."""
    DONE.append(job.payload["n"])
    progress(1, 1)


def break_the_session(job, progress):
    """Test handler: leaves the session unusable (a duplicate slug) until it is rolled back."""
    _db.session.add(Practice(name="Doppelt", slug=job.payload["slug"], settings={}))
    _db.session.flush()


def wait_for_heartbeat(job, progress):
    """Test handler: reports no progress, and returns once another connection sees a newer heartbeat than the
    claim's; fails after 5 s."""
    claimed = job.heartbeat_at
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with _db.engine.connect() as connection:
            beat = connection.execute(select(Job.heartbeat_at).where(Job.id == job.id)).scalar_one()
        if beat > claimed:
            return
        time.sleep(0.02)
    raise AssertionError("the heartbeat was not refreshed while the handler ran")


def wait_for_release(job, progress):
    """Test handler: runs until the file named in the payload exists (at most 10 s)."""
    release = Path(job.payload["release"])
    deadline = time.monotonic() + 10
    while not release.exists():
        if time.monotonic() > deadline:
            raise AssertionError("never released")
        time.sleep(0.01)


@pytest.fixture
def app_overrides(tmp_path, request):
    """On SQLite, a database file instead of the shared in-memory one, so that threads and processes get their
    own connections as in production; plus any settings a test passes with indirect parametrization."""
    overrides = dict(getattr(request, "param", {}))
    if TestConfig.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
        overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/worker.sqlite3"
    return overrides


@pytest.fixture(autouse=True)
def test_handlers(app):
    """Register this module's handlers under test kinds."""
    DONE.clear()
    for kind, function in (("record", "record"), ("break", "break_the_session"),
                           ("heartbeat", "wait_for_heartbeat"), ("slow", "wait_for_release")):
        register_job_kind(app, kind, globals()[function])


def statuses(db, ids):
    """The stored status of each job, in order."""
    db.session.expire_all()
    return [db.session.get(Job, job_id).status for job_id in ids]


def test_worker_once_runs_due_jobs_and_survives_a_failing_one(runner, db, practice):
    """`flask hub worker --once` runs every due job in order, goes on after a handler breaks its session, leaves
    jobs that are not due yet alone, and exits."""
    ids = [
        enqueue("record", {"n": 1}, run_after=utcnow() - timedelta(minutes=3)).id,
        enqueue("break", {"slug": practice.slug}, run_after=utcnow() - timedelta(minutes=2)).id,
        enqueue("record", {"n": 2}, run_after=utcnow() - timedelta(minutes=1)).id,
        enqueue("record", {"n": 3}, run_after=utcnow() + timedelta(hours=1)).id,
    ]
    db.session.commit()
    result = runner.invoke(args=["hub", "worker", "--once", "--worker-id", "test-worker"])
    assert result.exit_code == 0, result.output
    assert "Worker test-worker ran 3 jobs." in result.output
    assert statuses(db, ids) == ["succeeded", "failed", "succeeded", "queued"]
    assert DONE == [1, 2]
    broken = db.session.get(Job, ids[1])
    assert broken.error.startswith("IntegrityError") and broken.claimed_by == "test-worker"
    assert db.session.get(Job, ids[0]).progress_done == 1


def test_worker_id_defaults_to_host_and_pid(runner, db):
    """Without --worker-id the worker names itself hostname:pid on the jobs it claims."""
    job_id = enqueue("record", {"n": 1}).id
    db.session.commit()
    assert runner.invoke(args=["hub", "worker", "--once"]).exit_code == 0
    db.session.expire_all()
    assert db.session.get(Job, job_id).claimed_by == f"{socket.gethostname()}:{os.getpid()}"


@pytest.mark.parametrize("app_overrides", [{"WORKER_HEARTBEAT_SECONDS": 0.05}], indirect=True)
def test_heartbeat_stays_fresh_while_a_silent_handler_runs(app, db):
    """A handler that reports no progress still gets its heartbeat refreshed by the worker's heartbeat thread."""
    job_id = enqueue("heartbeat", {}).id
    db.session.commit()
    assert run_worker(app, "worker-a", once=True) == 1
    assert statuses(db, [job_id]) == ["succeeded"]


def test_stop_event_ends_an_idle_worker_promptly(app):
    """An idle worker sleeping for its poll interval wakes up and returns as soon as it is asked to stop."""
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(app, "worker-a"), kwargs={"poll_seconds": 60, "stop": stop})
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive() and time.monotonic() - started < 2


WORKER_SCRIPT = """
import sys
from app import create_app
from app.platform.jobs.registry import register_job_kind
from app.platform.jobs.worker import run_worker
from config import TestConfig
from tests.unit.platform.test_worker import wait_for_release

app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=sys.argv[1], WORKER_POLL_SECONDS=60)
register_job_kind(app, "slow", wait_for_release)
print("ran", run_worker(app, "worker-sub"), flush=True)
"""


def test_sigterm_finishes_the_current_job_then_exits(app, db, tmp_path):
    """SIGTERM while a job runs: the worker finishes that job, starts no other, and exits cleanly."""
    release = tmp_path / "release"
    slow = enqueue("slow", {"release": str(release)}, run_after=utcnow() - timedelta(minutes=2)).id
    waiting = enqueue("record", {"n": 1}, run_after=utcnow() - timedelta(minutes=1)).id
    db.session.commit()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    worker = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, url], cwd=BASE_DIR, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while statuses(db, [slow]) != ["running"]:
            if worker.poll() is not None or time.monotonic() > deadline:
                worker.kill()
                pytest.fail(f"the worker never started the job: {worker.communicate()[1]}")
            time.sleep(0.02)
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        assert worker.poll() is None  # still finishing the job
        release.touch()
        out, err = worker.communicate(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, err
    assert out.strip() == "ran 1"
    assert statuses(db, [slow, waiting]) == ["succeeded", "queued"]


def test_schedule_ticks_at_most_once_per_interval_and_prunes_hourly(app, monkeypatch):
    """The worker runs the registered periodic tasks between jobs, but not more often than
    WORKER_SCHEDULE_SECONDS, and asks them to prune old data only on the first tick of each hour."""
    from app.platform.jobs.registry import periodic_tasks, register_periodic
    from app.platform.jobs.worker import Schedule

    assert "integrations" in periodic_tasks(app)
    calls = []
    register_periodic(app, "integrations", lambda prune=False: calls.append(prune) or {"syncs": 0, "probes": 0})
    clock = iter([100.0, 101.0, 116.0, 3700.0]).__next__
    monkeypatch.setattr("app.platform.jobs.worker.time.monotonic", clock)
    app.config["WORKER_SCHEDULE_SECONDS"] = 15
    schedule = Schedule(app)
    for _ in range(4):
        schedule.maybe_tick()
    assert calls == [True, False, True]
