"""The job queue service: enqueue, claim (row locks, crash recovery), progress, outcome, retries with backoff."""

import logging
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite

from app.platform.database import utcnow
from app.platform.extensions import db as _db
from app.platform.jobs import queue as jobs
from app.platform.jobs.models import Job
from app.platform.jobs.queue import JobLost, claim_next, complete, enqueue, report_progress, run_job
from app.platform.jobs.registry import register_job_kind
from app.tenancy.models import Practice

STALE = 120  # TestConfig's WORKER_STALE_SECONDS (the default)


def count_to_three(job, progress):
    """Test handler: reports progress 1..3 of 3 and remembers what another connection saw after the first report."""
    progress(1, 3)
    with _db.engine.connect() as connection:
        SEEN["after_first_report"] = connection.execute(
            select(Job.progress_done, Job.progress_total).where(Job.id == job.id)
        ).one()
    progress(2, 3)
    progress(3, 3)


def explode(job, progress):
    """Test handler: adds a practice, reports progress, then fails."""
    progress(0, 2)
    _db.session.add(Practice(name="Sollte weg sein", slug="rolled-back", settings={}))
    raise ValueError(f"boom in {job.payload['label']}")


def clean_up_on_error(job, progress):
    """Test handler: reports progress inside an ``except Exception`` clean-up, as real handlers do."""
    try:
        progress(1, 1)
    except Exception:
        SEEN["cleaned_up"] = True
        raise


SEEN = {}


@pytest.fixture(autouse=True)
def test_handlers(app):
    """Register this module's handlers under test kinds (each test has an app of its own)."""
    SEEN.clear()
    register_job_kind(app, "count", count_to_three)
    register_job_kind(app, "explode", explode)
    register_job_kind(app, "clean_up", clean_up_on_error)


def reload(db, job_id):
    """The job as stored now (not as this session last saw it)."""
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_enqueue_adds_to_the_callers_transaction(db, practice):
    """enqueue flushes (the job has an id) but leaves the commit to the caller: a rollback discards it."""
    job = enqueue("count", {"n": 1}, practice_id=practice.id, max_attempts=3, retry_delays=[10, 60])
    assert job.id is not None and job.status == "queued" and job.attempts == 0
    assert job.retry_delays == [10, 60] and abs(job.run_after - utcnow()) < timedelta(seconds=5)
    db.session.rollback()
    assert db.session.scalar(select(Job)) is None
    with pytest.raises(ValueError):
        enqueue("count", {}, max_attempts=0)
    with pytest.raises(ValueError):
        enqueue("count", {}, retry_delays=[-1])


def test_claim_run_succeed_with_progress(db, practice):
    """A due job is claimed, run, and ends succeeded with its progress; each report is committed at once."""
    job_id = enqueue("count", {}, practice_id=practice.id).id
    db.session.commit()
    job = claim_next("worker-a")
    assert job.id == job_id and job.status == "running" and job.attempts == 1 and job.claimed_by == "worker-a"
    assert job.claimed_at is not None and job.heartbeat_at is not None
    assert claim_next("worker-b") is None  # running with a fresh heartbeat: nobody else takes it
    run_job(job)
    stored = reload(db, job_id)
    assert (stored.status, stored.progress_done, stored.progress_total) == ("succeeded", 3, 3)
    assert stored.finished_at is not None and stored.error is None and stored.finished
    assert tuple(SEEN["after_first_report"]) == (1, 3)
    assert claim_next("worker-a") is None


def test_failing_handler_fails_the_job_and_rolls_its_work_back(db, practice, caplog):
    """A handler that raises: its uncommitted work is rolled back, the job fails naming the error's class and
    place, and the stack is logged, without the error's text (it may quote a patient's data)."""
    job_id = enqueue("explode", {"label": "Datei 7"}).id
    db.session.commit()
    with caplog.at_level(logging.ERROR, logger="app.platform.jobs.queue"):
        run_job(claim_next("worker-a"))
    stored = reload(db, job_id)
    # The class and where it was raised, never the error's text: it may quote a patient's data.
    assert stored.status == "failed" and re.fullmatch(r"ValueError at app/platform/jobs/queue\.py:\d+", stored.error)
    assert stored.finished_at is not None and stored.attempts == 1
    assert db.session.scalar(select(Practice).where(Practice.slug == "rolled-back")) is None
    [record] = [r for r in caplog.records if r.name == "app.platform.jobs.queue"]
    message = record.getMessage()
    assert f"job {job_id}" in message and "ValueError at app/" in message and "explode" in message
    assert "Datei 7" not in message and record.exc_info is None


def test_retry_with_backoff(db):
    """max_attempts 3 with delays [30, 300]: each failure queues the job again after its delay (not claimable
    before), the third failure is final."""
    job_id = enqueue("explode", {"label": "x"}, max_attempts=3, retry_delays=[30, 300]).id
    db.session.commit()
    for attempt, delay in ((1, 30), (2, 300)):
        before = utcnow()
        run_job(claim_next("worker-a"))
        stored = reload(db, job_id)
        assert (stored.status, stored.attempts, stored.finished_at) == ("queued", attempt, None)
        assert stored.error.startswith("ValueError at app/") and "boom" not in stored.error
        assert before + timedelta(seconds=delay) <= stored.run_after <= utcnow() + timedelta(seconds=delay)
        assert claim_next("worker-a") is None
        stored.run_after = utcnow() - timedelta(seconds=1)  # time passes
        db.session.commit()
    run_job(claim_next("worker-a"))
    stored = reload(db, job_id)
    assert (stored.status, stored.attempts) == ("failed", 3) and stored.finished_at is not None


def test_last_retry_delay_repeats(db):
    """Fewer delays than retries: the last delay is used again."""
    job_id = enqueue("explode", {"label": "x"}, max_attempts=4, retry_delays=[5]).id
    db.session.commit()
    for _ in range(2):
        run_job(claim_next("worker-a"))
        stored = reload(db, job_id)
        assert timedelta(seconds=4) < stored.run_after - utcnow() <= timedelta(seconds=5)
        stored.run_after = utcnow() - timedelta(seconds=1)
        db.session.commit()


def fail_fast_on_locks(db):
    """PostgreSQL: make a row-lock wait in the current transaction fail after 2 s, so that a claim that waits for a
    lock fails the test instead of hanging it (SQLite has no row locks)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL lock_timeout = '2s'"))


def make_stale(db, job_id, seconds):
    """Pretend the job's worker last sent a heartbeat ``seconds`` ago."""
    db.session.expire_all()
    db.session.get(Job, job_id).heartbeat_at = utcnow() - timedelta(seconds=seconds)
    db.session.commit()


def test_job_of_a_dead_worker_is_taken_over(app, db):
    """A running job whose heartbeat is older than WORKER_STALE_SECONDS is claimed by another worker as a new
    attempt and runs to the end; the old worker can no longer write to it."""
    job_id = enqueue("count", {}).id
    db.session.commit()
    with app.app_context():
        old_lease = claim_next("worker-dead").lease
    make_stale(db, job_id, STALE + 1)
    job = claim_next("worker-b")
    assert job is not None and job.id == job_id
    assert (job.claimed_by, job.attempts) == ("worker-b", 2)
    run_job(job)
    assert reload(db, job_id).status == "succeeded"

    with app.app_context():  # the "dead" worker wakes up and tries to record its outcome
        zombie = db.session.get(Job, job_id)
        zombie.lease = old_lease
        with pytest.raises(JobLost):
            complete(zombie)
        with pytest.raises(JobLost):
            report_progress(zombie, 1, 1)
    stored = reload(db, job_id)
    assert (stored.status, stored.claimed_by, stored.progress_done) == ("succeeded", "worker-b", 3)


def test_frozen_worker_stops_at_its_next_progress_report(app, db, caplog):
    """A worker that was frozen past the stale limit while another took its job over: its handler's next progress
    report raises JobLost, which the handler's ``except Exception`` clean-up does not catch, and nothing of the old
    attempt is written."""
    job_id = enqueue("clean_up", {}).id
    db.session.commit()
    frozen = claim_next("worker-frozen")
    make_stale(db, job_id, STALE + 1)
    with app.app_context():
        assert claim_next("worker-b").id == job_id
    with caplog.at_level(logging.WARNING, logger="app.platform.jobs.queue"):
        run_job(frozen)
    assert "cleaned_up" not in SEEN
    assert "no longer holds it" in caplog.text
    stored = reload(db, job_id)
    assert (stored.status, stored.claimed_by, stored.attempts, stored.progress_done) == ("running", "worker-b", 2, 0)


def test_running_job_with_a_fresh_heartbeat_is_not_taken(db):
    """A heartbeat younger than WORKER_STALE_SECONDS means the worker is alive: nobody else claims the job."""
    job_id = enqueue("count", {}).id
    db.session.commit()
    claim_next("worker-a")
    make_stale(db, job_id, STALE - 10)
    assert claim_next("worker-b") is None
    stored = reload(db, job_id)
    assert (stored.claimed_by, stored.attempts) == ("worker-a", 1)


def test_job_that_keeps_killing_its_workers_is_given_up(db):
    """After MAX_STALE_RECLAIMS take-overs beyond max_attempts, a stale job is failed instead of run again."""
    job_id = enqueue("count", {}).id
    db.session.commit()
    for attempt in range(1, 1 + 1 + jobs.MAX_STALE_RECLAIMS):
        assert claim_next(f"worker-{attempt}").attempts == attempt
        make_stale(db, job_id, STALE + 1)
    assert claim_next("worker-last") is None
    stored = reload(db, job_id)
    assert stored.status == "failed" and "stopped sending heartbeats" in stored.error


def test_unknown_kind_fails_with_a_clear_error(db):
    """A kind without a registered handler (say, of a feature since removed) fails the job and says why."""
    unknown = enqueue("no_such_kind", {}).id
    db.session.commit()
    run_job(claim_next("worker-a"))
    assert reload(db, unknown).status == "failed"
    assert reload(db, unknown).error == "JobHandlerError: no handler is registered for job kind 'no_such_kind'"


def test_every_job_kind_the_app_enqueues_is_registered(app):
    """The kinds the domains enqueue resolve to a callable handler in a built app, as the worker builds it."""
    from app.platform.jobs.registry import job_kinds

    kinds = job_kinds(app)
    assert {"patient_import", "webhook_retry", "integration_sync", "integration_probe"} <= set(kinds)
    assert all(callable(handler) for handler in kinds.values())


def test_claim_is_conditional_when_another_worker_wins_the_race(app, db, monkeypatch):
    """Between reading a candidate and taking it, another worker claims it: the first worker takes the next job
    instead. (SQLite has no row locks, so this conditional claim is what keeps two workers apart; on PostgreSQL
    the row lock already makes the other worker skip to the next job.)"""
    first, second = (enqueue("count", {"n": n}).id for n in (1, 2))
    db.session.commit()
    original = jobs._take
    rival = {}

    def take_after_rival(candidate, lease, now):
        """Let a rival worker, in its own session, claim before this worker's conditional update runs."""
        if not rival:
            rival["job"] = None  # the rival's own claim goes straight through
            with app.app_context():
                fail_fast_on_locks(db)
                rival["job"] = claim_next("worker-rival").id
        return original(candidate, lease, now)

    monkeypatch.setattr(jobs, "_take", take_after_rival)
    mine = claim_next("worker-a")
    assert {mine.id, rival["job"]} == {first, second}
    assert reload(db, mine.id).claimed_by == "worker-a"
    assert reload(db, rival["job"]).claimed_by == "worker-rival"


def test_concurrent_workers_never_share_a_job(app, db):
    """PostgreSQL: two workers claiming at the same time, each on its own connection, take every one of 20 jobs
    exactly once. SQLite (documented: one worker, as SQLite has no row locks): one worker claims each of the 20
    jobs exactly once, oldest first."""
    ids = [enqueue("count", {"n": n}).id for n in range(20)]
    db.session.commit()
    claims = {"w1": [], "w2": []}

    def work(name, start=None):
        """Claim until nothing is left, on this thread's own session and connection."""
        with app.app_context():
            if start is not None:
                start.wait()
            while True:
                fail_fast_on_locks(db)
                job = claim_next(name)
                if job is None:
                    break
                claims[name].append(job.id)

    if db.engine.dialect.name == "postgresql":
        start = threading.Barrier(2)
        threads = [threading.Thread(target=work, args=(name, start), daemon=True) for name in claims]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=15)
        assert sorted(claims["w1"] + claims["w2"]) == ids
    else:
        work("w1")
        assert claims["w1"] == ids
    assert db.session.scalar(select(Job).where(Job.status == "queued")) is None
    assert all(job.attempts == 1 for job in db.session.scalars(select(Job)))


def test_locked_job_is_skipped_not_waited_for(app, db):
    """PostgreSQL: while another transaction holds the oldest job's row lock, a claim skips to the next job at
    once (SKIP LOCKED) instead of waiting. SQLite has no row locks: the claim query asks for none there, and
    FOR UPDATE SKIP LOCKED only on PostgreSQL."""
    now = utcnow()
    pg_sql = str(jobs.claim_query("postgresql", now, now).compile(dialect=postgresql.dialect()))
    assert pg_sql.rstrip().endswith("FOR UPDATE SKIP LOCKED")
    first, second = (enqueue("count", {"n": n}).id for n in (1, 2))
    db.session.commit()
    if db.engine.dialect.name != "postgresql":
        sqlite_sql = str(jobs.claim_query("sqlite", now, now).compile(dialect=sqlite.dialect()))
        assert "FOR UPDATE" not in sqlite_sql
        assert claim_next("worker-a").id == first
        return
    with db.engine.connect() as holder:
        holder.execute(select(Job.id).where(Job.id == first).with_for_update())
        fail_fast_on_locks(db)
        assert claim_next("worker-a").id == second
        holder.rollback()
    assert claim_next("worker-b").id == first
