"""The background job queue: enqueue work, claim it from a worker, run its handler, record progress and outcome.

Transactions. ``enqueue`` only adds the job to the caller's transaction and flushes: the caller commits, so a job
and the change that asks for it (say, an import marked as queued) are stored together or not at all. Everything a
worker does to a job (``claim_next``, ``report_progress``, ``complete``, ``fail``) commits at once, because other
processes (the UI polling a status, other workers) must see it.

Claiming. On PostgreSQL the claim locks the candidate row with ``SELECT ... FOR UPDATE SKIP LOCKED``, so any number
of workers on any number of hosts take disjoint jobs without waiting for each other. SQLite has no row locks and
one write lock for the whole database: run ONE worker on SQLite (``make run`` starts exactly one). The claim is also
a conditional update (status and attempt count must still be what was read), so even a second SQLite worker could
not take the same attempt twice; it would only contend for SQLite's write lock.

Crash recovery. A running job whose heartbeat is older than WORKER_STALE_SECONDS belongs to a worker that died;
``claim_next`` hands it to the next worker as a new attempt. Every write of an attempt is conditional on its
``Lease`` (worker and attempt number), so a worker that was only frozen, not dead, gets ``JobLost`` instead of
overwriting the new attempt's progress or outcome. A job that keeps taking its workers down is failed after
MAX_STALE_RECLAIMS re-claims beyond its ``max_attempts``.

Timestamps come from the workers' clocks (UTC); keep the hosts' clocks in sync (NTP) when running several."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from app.platform.database import utcnow
from app.platform.errors import loggable_error, loggable_traceback
from app.platform.extensions import db
from app.platform.jobs.models import FAILED, QUEUED, RUNNING, SUCCEEDED, Job
from app.platform.jobs.registry import JobHandlerError, resolve_handler

logger = logging.getLogger(__name__)

# How often a job may be taken over from a dead worker beyond its max_attempts before it is failed for good.
MAX_STALE_RECLAIMS = 2
# Candidates claim_next tries before giving up for this round (another worker may win each race on SQLite).
CLAIM_TRIES = 5


@dataclass(frozen=True)
class Lease:
    """The right of one worker to write to one attempt of a running job."""

    job_id: int
    worker_id: str
    attempt: int


class JobLost(BaseException):
    """The attempt no longer holds its job: another worker took it over after this worker's heartbeat went stale.
    Whatever this attempt still had to write is dropped. A BaseException, like KeyboardInterrupt, so that a
    handler's ``except Exception`` clean-up (say, marking its import failed) does not run for a job that lives on
    in another worker; ``finally`` blocks still run."""


def enqueue(kind, payload, *, practice_id=None, run_after=None, max_attempts=1, retry_delays=None):
    """Add a queued job of ``kind`` (see app.platform.jobs.registry) to the current transaction and flush it so it
    has an id; the caller commits. ``run_after`` delays the first attempt; a failed attempt n is retried after
    ``retry_delays[n - 1]`` seconds (the last delay repeats, none means at once) while attempts < ``max_attempts``."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    delays = [int(delay) for delay in retry_delays or ()]
    if any(delay < 0 for delay in delays):
        raise ValueError("retry delays must not be negative")
    job = Job(
        kind=kind, payload=payload or {}, practice_id=practice_id, status=QUEUED, attempts=0,
        max_attempts=max_attempts, retry_delays=delays, run_after=run_after or utcnow(),
        progress_done=0, progress_total=0,
    )
    db.session.add(job)
    db.session.flush()
    return job


def claim_query(dialect_name, now, stale_before):
    """The select of the next job to claim: the oldest due queued job, or a running job whose worker stopped sending
    heartbeats before ``stale_before``; on PostgreSQL the row is locked, skipping rows other workers have locked."""
    due = or_(
        and_(Job.status == QUEUED, Job.run_after <= now),
        and_(Job.status == RUNNING, or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < stale_before)),
    )
    query = (
        select(Job.id, Job.kind, Job.status, Job.attempts, Job.max_attempts, Job.claimed_by)
        .where(due)
        .order_by(Job.run_after, Job.id)
        .limit(1)
    )
    if dialect_name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return query


def claim_next(worker_id):
    """Claim the next due job for ``worker_id`` and commit: it becomes running with a fresh heartbeat and one more
    attempt, and carries its ``Lease`` in ``job.lease``. Returns None when nothing is due."""
    now = utcnow()
    stale_before = now - timedelta(seconds=current_app.config["WORKER_STALE_SECONDS"])
    query = claim_query(db.engine.dialect.name, now, stale_before)
    for _ in range(CLAIM_TRIES):
        candidate = db.session.execute(query).first()
        if candidate is None:
            db.session.commit()  # end the read transaction: an idle worker holds no snapshot
            return None
        if candidate.status == RUNNING and candidate.attempts >= candidate.max_attempts + MAX_STALE_RECLAIMS:
            _abandon(candidate, now)
            continue
        lease = Lease(candidate.id, worker_id, candidate.attempts + 1)
        if _take(candidate, lease, now):
            if candidate.status == RUNNING:
                logger.warning("job %s (%s): worker %s stopped sending heartbeats; %s takes it over as attempt %s",
                               candidate.id, candidate.kind, candidate.claimed_by, worker_id, lease.attempt)
            job = db.session.get(Job, candidate.id)
            job.lease = lease
            return job
    return None


def _take(candidate, lease, now):
    """Make ``candidate`` running under ``lease`` if nobody changed it since it was read; commits, True on success."""
    result = db.session.execute(
        update(Job)
        .where(Job.id == candidate.id, Job.status == candidate.status, Job.attempts == candidate.attempts)
        .values(status=RUNNING, attempts=lease.attempt, claimed_by=lease.worker_id, claimed_at=now,
                heartbeat_at=now, progress_done=0, progress_total=0, finished_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _abandon(candidate, now):
    """Fail a job whose workers keep dying while running it, instead of handing it to the next victim; commits."""
    message = f"given up after {candidate.attempts} attempts: its worker stopped sending heartbeats each time"
    result = db.session.execute(
        update(Job)
        .where(Job.id == candidate.id, Job.status == RUNNING, Job.attempts == candidate.attempts)
        .values(status=FAILED, finished_at=now, error=message)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount:
        logger.error("job %s (%s): %s", candidate.id, candidate.kind, message)


def lease_of(job):
    """The lease under which this process holds ``job``: the one claim_next gave it, else the one its row shows."""
    return job.lease or Lease(job.id, job.claimed_by, job.attempts)


def _write(lease, **values):
    """Update the job's row with ``values`` only while ``lease`` still holds it, and commit together with whatever
    the handler has pending; when the lease is lost, roll everything back and raise JobLost."""
    result = db.session.execute(
        update(Job)
        .where(_held_by(lease))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise JobLost(f"job {lease.job_id}: attempt {lease.attempt} by {lease.worker_id} no longer holds it")
    db.session.commit()


def _held_by(lease):
    """SQL condition: the job is running under ``lease``."""
    return and_(Job.id == lease.job_id, Job.status == RUNNING, Job.claimed_by == lease.worker_id,
                Job.attempts == lease.attempt)


def heartbeat(connection, lease):
    """Refresh the heartbeat of the job held under ``lease`` on ``connection`` (the worker's heartbeat thread uses
    a connection of its own); False when the lease no longer holds the job."""
    result = connection.execute(update(Job).where(_held_by(lease)).values(heartbeat_at=utcnow()))
    return result.rowcount == 1


def report_progress(job, done, total):
    """Record that ``done`` of ``total`` units are finished and refresh the heartbeat. Commits the session, so a
    handler calls it after each batch of work it wants kept. Raises JobLost when another worker took the job over."""
    _write(lease_of(job), progress_done=done, progress_total=total, heartbeat_at=utcnow())


def complete(job):
    """Mark the running job succeeded and commit. Raises JobLost when another worker took the job over."""
    now = utcnow()
    _write(lease_of(job), status=SUCCEEDED, finished_at=now, heartbeat_at=now, error=None)


def fail(job, error):
    """Record a failed attempt with ``error`` and commit: queued again after its retry delay while attempts are
    left, failed for good otherwise. Raises JobLost when another worker took the job over."""
    lease = lease_of(job)
    max_attempts, delays = db.session.execute(
        select(Job.max_attempts, Job.retry_delays).where(Job.id == lease.job_id)
    ).one()
    now = utcnow()
    if lease.attempt < max_attempts:
        delay = delays[min(lease.attempt, len(delays)) - 1] if delays else 0
        _write(lease, status=QUEUED, run_after=now + timedelta(seconds=delay), heartbeat_at=None, error=error)
    else:
        _write(lease, status=FAILED, finished_at=now, error=error)


def run_job(job):
    """Run a claimed job's handler as ``handler(job, progress)`` and record the outcome; returns the job. A handler
    that raises (or a kind without a usable handler) fails the attempt: its work is rolled back and the error is
    logged with its traceback, never raised, so the worker goes on with the next job."""
    lease = lease_of(job)
    kind = job.kind

    def progress(done, total):
        """Let the handler report progress (commits its work so far and refreshes the heartbeat)."""
        report_progress(job, done, total)

    try:
        try:
            handler = resolve_handler(kind)
            handler(job, progress)
        except JobLost:
            raise
        except JobHandlerError as error:
            db.session.rollback()
            logger.error("job %s (%s) attempt %s failed: %s", lease.job_id, kind, lease.attempt, error)
            fail(job, f"{type(error).__name__}: {error}")
        except Exception as error:
            # Only the class, the place and the stack: an error's text may quote patients' data (a database error
            # quotes the statement's parameters), and the log and jobs.error must hold none.
            db.session.rollback()
            logger.error("job %s (%s) attempt %s failed: %s\n%s", lease.job_id, kind, lease.attempt,
                         loggable_error(error), loggable_traceback(error))
            fail(job, loggable_error(error))
        else:
            complete(job)
            logger.info("job %s (%s) attempt %s succeeded", lease.job_id, kind, lease.attempt)
    except JobLost as lost:
        logger.warning("%s; dropping this attempt's outcome", lost)
    return job
