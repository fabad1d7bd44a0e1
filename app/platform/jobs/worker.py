"""The background worker behind ``flask hub worker``: claims due jobs one at a time, runs them, and sleeps when
there is nothing to do. SIGTERM and SIGINT stop it gracefully: the job in hand is finished, then it exits. While a
job runs, a heartbeat thread keeps the job's ``heartbeat_at`` fresh, so a long handler that reports no progress is
not mistaken for the job of a dead worker (app.platform.jobs.queue explains claims, leases and crash recovery)."""

import logging
import os
import signal
import socket
import threading
import time

from app.platform.extensions import db
from app.platform.jobs.queue import claim_next, heartbeat, run_job
from app.platform.jobs.registry import periodic_tasks

logger = logging.getLogger(__name__)


def default_worker_id():
    """The name a worker records on the jobs it claims: ``hostname:pid``, unique across hosts and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_worker(app, worker_id, *, once=False, poll_seconds=None, stop=None):
    """Claim and run jobs as ``worker_id`` until ``stop`` is set or SIGTERM/SIGINT arrives, sleeping
    ``poll_seconds`` (default WORKER_POLL_SECONDS) whenever nothing is due. With ``once``, run every job that is
    due and return as soon as none is left. Returns the number of jobs run."""
    stop = stop or threading.Event()
    poll = app.config["WORKER_POLL_SECONDS"] if poll_seconds is None else poll_seconds
    restore_signals = _stop_on_signals(stop)
    logger.info("worker %s started", worker_id)
    if app.config["WORKER_HEARTBEAT_SECONDS"] * 2 > app.config["WORKER_STALE_SECONDS"]:
        logger.warning("WORKER_HEARTBEAT_SECONDS should be well below WORKER_STALE_SECONDS, or jobs of live workers "
                       "are taken over as if their workers had died")
    processed = 0
    schedule = Schedule(app)
    try:
        while not stop.is_set():
            try:
                schedule.maybe_tick()
                ran = _run_next_job(app, worker_id)
            except Exception:
                # The database itself failed (a handler's errors never get here): keep going once it is back.
                if once:
                    raise
                logger.exception("worker %s could not claim or record a job; trying again in %s s", worker_id, poll)
                ran = False
            if ran:
                processed += 1
            elif once:
                break
            else:
                stop.wait(poll)
    finally:
        restore_signals()
    logger.info("worker %s stopped after %s jobs", worker_id, processed)
    return processed


class Schedule:
    """Runs the periodic tasks the domains registered (say, queueing due integration syncs and probes) at most
    every WORKER_SCHEDULE_SECONDS between jobs, and asks them to prune old data once an hour."""

    PRUNE_SECONDS = 3600

    def __init__(self, app):
        """Due at once: a worker that starts queues what became due while none ran."""
        self.app = app
        self.interval = app.config["WORKER_SCHEDULE_SECONDS"]
        self.next_tick = 0.0
        self.next_prune = 0.0

    def maybe_tick(self):
        """Tick if the interval has passed (in a fresh app context): every periodic task once, each returning
        counts of what it did. Errors propagate to the loop's handler."""
        now = time.monotonic()
        if now < self.next_tick:
            return None
        self.next_tick = now + self.interval
        prune = now >= self.next_prune
        if prune:
            self.next_prune = now + self.PRUNE_SECONDS
        done = {}
        with self.app.app_context():
            for name, task in periodic_tasks(self.app).items():
                done[name] = task(prune=prune)
                if any(done[name].values()):
                    logger.info("periodic task %s: %s", name, done[name])
        return done


def _run_next_job(app, worker_id):
    """Claim one due job and run it in a fresh app context (its own database session); False when none is due."""
    with app.app_context():
        job = claim_next(worker_id)
        if job is None:
            return False
        with Heartbeat(app, job.lease):
            run_job(job)
        return True


class Heartbeat:
    """A background thread that refreshes a running job's ``heartbeat_at`` every WORKER_HEARTBEAT_SECONDS on its
    own database connection (the handler's session may be busy in a long transaction). It stops by itself when the
    job was taken over by another worker."""

    def __init__(self, app, lease):
        """Prepare the thread for ``lease``; it starts when the ``with`` block is entered."""
        self.engine = db.engine
        self.lease = lease
        self.interval = app.config["WORKER_HEARTBEAT_SECONDS"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-job-{lease.job_id}", daemon=True)

    def __enter__(self):
        """Start beating."""
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        """Stop beating (the handler has returned) and wait for the thread."""
        self._stop.set()
        self._thread.join()
        return False

    def _beat(self):
        """Refresh the heartbeat until stopped; errors are logged and the next beat tries again."""
        while not self._stop.wait(self.interval):
            try:
                with self.engine.begin() as connection:
                    held = heartbeat(connection, self.lease)
            except Exception:
                logger.exception("job %s: heartbeat failed", self.lease.job_id)
                continue
            if not held:
                logger.warning("job %s: taken over by another worker; heartbeat stopped", self.lease.job_id)
                return


def _stop_on_signals(stop):
    """Set ``stop`` on SIGTERM or SIGINT, so the loop ends after the job in hand; returns a function that restores
    the previous handlers. Only the main thread may install signal handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def request_stop(signum, frame):
        """Signal handler: ask the loop to stop. Event.set() takes the event's lock, which this very (main)
        thread may be holding inside stop.wait() when the signal lands, so another thread sets it."""
        threading.Thread(target=stop.set, daemon=True).start()

    previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGTERM, signal.SIGINT)}

    def restore():
        """Put the previous signal handlers back."""
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore
