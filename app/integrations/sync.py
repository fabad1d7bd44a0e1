"""Syncs and probes of the integrations, run by the worker.

A sync run is queued (by the schedule, "sync now" or a webhook) as a ``sync_runs`` row plus a job of kind
``integration_sync``; at most one run per practice and provider is queued or running at a time (a partial unique
index decides races). The worker pulls the provider's data (app.providers.<name>.integration.sync), applies each
record to the appointment cache or call log, and records the run (records, error), a metric and the health.

A failed sync is retried by the schedule after SYNC_BACKOFF_BASE_SECONDS, doubling with each failure up to
SYNC_BACKOFF_MAX_SECONDS; after SYNC_PAUSE_AFTER_FAILURES failures in a row the integration pauses itself, with
the reason on its card, until an admin resumes it ("sync now").

A probe (job ``integration_probe``, queued every HUB_PROBE_SECONDS; run at once by ``POST
/api/health/<provider>/check``, then within the request's budget) checks connectivity, the key and the provider
facts the card shows.

Neither holds a database transaction while the provider is called (see app.integrations.clients.ProviderCall):
what a sync or probe needs is read first, the provider is called with no transaction open, and the outcome is
written afterwards in transactions of its own."""

import time
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.appointments.service import Ignored, apply_appointment, apply_call
from app.integrations import health, mappings, metrics
from app.integrations.clients import get_config, label, provider_call, provider_module
from app.integrations.models import (
    MANUAL,
    PAUSED,
    SYNC_FAILED,
    SYNC_QUEUED,
    SYNC_RUNNING,
    SYNC_SUCCEEDED,
    SYNC_TRIGGERS,
    SyncRun,
)
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.jobs.models import Job
from app.platform.jobs.queue import enqueue
from app.platform.security.actor import Actor
from app.providers.base import ProviderError
from app.providers.events import AppointmentRecord
from app.tenancy.models import Practice
from app.webhooks.endpoints import endpoint_url, practice_endpoints

SYNC_JOB = "integration_sync"
PROBE_JOB = "integration_probe"


def pending_run(practice_id, provider):
    """The run of ``provider`` that is queued or running for the practice, or None."""
    return db.session.scalar(select(SyncRun).where(
        SyncRun.practice_id == practice_id, SyncRun.provider == provider,
        SyncRun.status.in_((SYNC_QUEUED, SYNC_RUNNING))))


def request_sync(practice_id, provider, trigger, *, user_id=None):
    """Queue a sync of ``provider`` unless one is already queued or running; commits. Returns (run, created):
    the new run, or the one already waiting. A "sync now" (manual) of a paused integration resumes it.
    ServiceError when the integration has no key."""
    if trigger not in SYNC_TRIGGERS:
        raise ValueError(f"unknown sync trigger {trigger!r}")
    config = get_config(practice_id, provider)
    if config is None or not config.api_key:
        raise ServiceError(_("Connect %(provider)s with an API key before syncing.", provider=label(provider)),
                           code="unconfigured")
    existing = pending_run(practice_id, provider)
    if existing is not None and _abandoned(existing):
        existing = None
    if existing is not None:
        return existing, False
    if trigger == MANUAL:
        health.resume(practice_id, provider)
    try:
        with db.session.begin_nested():
            run = SyncRun(practice_id=practice_id, provider=provider, trigger=trigger, status=SYNC_QUEUED,
                          queued_at=utcnow(), requested_by_id=user_id, details={})
            db.session.add(run)
            db.session.flush()
            job = enqueue(SYNC_JOB, {"run_id": run.id}, practice_id=practice_id)
            run.job_id = job.id
    except IntegrityError:
        db.session.commit()  # keep the resume; the concurrent request's run is the one waiting
        return pending_run(practice_id, provider), False
    db.session.commit()
    return run, True


def _abandoned(run):
    """Close a pending run whose job has ended without recording the run's outcome (its workers died, or the
    recording itself failed), so it no longer blocks new syncs; True when it was closed (the caller commits)."""
    job = db.session.get(Job, run.job_id) if run.job_id else None
    if job is None or not job.finished:
        return False
    run.status = SYNC_FAILED
    run.finished_at = job.finished_at or utcnow()
    run.error = _("The worker running this sync stopped before it finished: %(error)s", error=job.error or "?")
    db.session.flush()
    return True


def recent_runs(practice_id, provider, limit=10):
    """The provider's last runs, newest first (for the tab's table)."""
    return db.session.scalars(
        select(SyncRun).where(SyncRun.practice_id == practice_id, SyncRun.provider == provider)
        .order_by(SyncRun.queued_at.desc(), SyncRun.id.desc()).limit(limit)
    ).all()


def get_run(practice_id, run_id):
    """The practice's run with ``run_id``, or None (another practice's run is never found)."""
    return db.session.scalar(select(SyncRun).where(SyncRun.practice_id == practice_id, SyncRun.id == run_id))


def run_sync_job(job, progress):
    """Job handler of ``integration_sync``: run the sync its run names and record the outcome. A provider failure
    is recorded on the run (failed, with the error) and backs off; it does not fail the job, which did its work of
    running and recording the sync."""
    run = db.session.get(SyncRun, job.payload["run_id"])
    if run is None or run.status not in (SYNC_QUEUED, SYNC_RUNNING):
        return
    now = utcnow()
    run.status = SYNC_RUNNING
    run.started_at = now
    run.claimed_by = job.claimed_by
    db.session.commit()
    started = time.monotonic()
    try:
        batch = _pull(run, now)
        counts = _apply(run, batch)
    except Exception as error:
        db.session.rollback()
        _record_failure(run, error, started)
        if not isinstance(error, (ProviderError, ServiceError)):
            raise
        return
    finished = utcnow()
    records = len(batch.items)
    run.status = SYNC_SUCCEEDED
    run.finished_at = finished
    run.records = records
    run.details = counts
    config = get_config(run.practice_id, run.provider)
    config.last_sync_at = finished
    config.last_error = None
    config.next_sync_at = finished + timedelta(minutes=config.sync_interval_minutes)
    duration_ms = int((time.monotonic() - started) * 1000)
    metrics.record(run.practice_id, run.provider, metrics.SYNC, success=True, duration_ms=duration_ms, records=records)
    facts = {fact: counts[name] for name, fact in provider_module(run.provider).SYNC_FACTS.items() if name in counts}
    health.record_ok(run.practice_id, run.provider, facts=facts, now=finished)
    health.record_sync(run.practice_id, run.provider, status=SYNC_SUCCEEDED, records=records, now=finished)
    db.session.commit()


def _pull(run, now):
    """The provider's data for the run, as a SyncBatch. The config is read first and the transaction ended before
    the provider is paged through (which may take minutes with retries); the calls' metrics are committed after
    them. Settings the practice did not choose come from the app config (the provider's SYNC_CONFIG)."""
    config = get_config(run.practice_id, run.provider)
    if config is None or not config.api_key:
        raise ServiceError(_("The integration has no API key any more."))
    module = provider_module(run.provider)
    settings = dict(config.settings or {})
    for name, config_key in module.SYNC_CONFIG.items():
        settings.setdefault(name, current_app.config[config_key])
    since = config.last_sync_at
    with provider_call(config) as client:
        return module.sync(client, settings, now, since)


def _apply(run, batch):
    """Apply the pulled records to the appointment cache or call log; returns the counts by kind. Runs in one
    transaction (the caller commits): a sync that fails half-way leaves the cache as it was."""
    practice = db.session.get(Practice, run.practice_id)
    resolved = mappings.resolve(run.practice_id, run.provider, batch.seen)
    actor = Actor(practice_id=run.practice_id)
    applied = 0
    for item in batch.items:
        try:
            if isinstance(item.record, AppointmentRecord):
                record, therapist_id = mappings.apply(item.record, item.mappings, resolved)
                apply_appointment(actor, practice, record, therapist_id=therapist_id)
            else:
                apply_call(practice, item.record)
        except Ignored:
            continue
        applied += 1
    counts = dict(batch.counts)
    counts["applied"] = applied
    return counts


def _record_failure(run, error, started):
    """Record a failed run: the run's error, a metric, the health (pausing after too many failures in a row) and
    the backoff before the schedule tries again; commits."""
    app_config = current_app.config
    message = error.message if isinstance(error, (ProviderError, ServiceError)) else f"{type(error).__name__}"
    now = utcnow()
    db.session.execute(update(SyncRun).where(SyncRun.id == run.id).values(
        status=SYNC_FAILED, finished_at=now, error=message[:2000]))
    metrics.record(run.practice_id, run.provider, metrics.SYNC, success=False,
                   duration_ms=int((time.monotonic() - started) * 1000),
                   status_code=getattr(error, "status_code", None), error=message)
    failures = failed_syncs_in_a_row(run.practice_id, run.provider, app_config["SYNC_PAUSE_AFTER_FAILURES"])
    state = health.record_failure(run.practice_id, run.provider, error, now=now,
                                  paused_after=failures if failures >= app_config["SYNC_PAUSE_AFTER_FAILURES"]
                                  else None)
    health.record_sync(run.practice_id, run.provider, status=SYNC_FAILED, records=None, now=now)
    config = get_config(run.practice_id, run.provider)
    if config is not None:
        delay = min(app_config["SYNC_BACKOFF_BASE_SECONDS"] * 2 ** max(0, failures - 1),
                    app_config["SYNC_BACKOFF_MAX_SECONDS"])
        config.last_error = message
        config.next_sync_at = None if state == PAUSED else now + timedelta(seconds=delay)
    db.session.commit()


def failed_syncs_in_a_row(practice_id, provider, limit):
    """How many of the provider's latest runs failed in a row (at most ``limit``), counting back to the last run
    that succeeded or the last "sync now" (an admin pressing it starts the count afresh). Failed probes do not
    count: backoff and pause are about syncs. One query of at most ``limit`` rows."""
    rows = db.session.execute(
        select(SyncRun.status, SyncRun.trigger)
        .where(SyncRun.practice_id == practice_id, SyncRun.provider == provider,
               SyncRun.status.in_((SYNC_SUCCEEDED, SYNC_FAILED)))
        .order_by(SyncRun.queued_at.desc(), SyncRun.id.desc()).limit(limit)
    ).all()
    count = 0
    for status, trigger in rows:
        if status != SYNC_FAILED:
            break
        count += 1
        if trigger == MANUAL:
            break
    return count


def request_probe(practice_id, provider):
    """Queue a probe job for ``provider``; commits. Returns the job."""
    job = enqueue(PROBE_JOB, {"practice_id": practice_id, "provider": provider}, practice_id=practice_id)
    db.session.commit()
    return job


def probe(practice_id, provider):
    """Check the provider now (connectivity, key, card facts, our webhook registration) and store the health;
    commits and returns the health row. An integration without a key is marked unconfigured without a call."""
    config = get_config(practice_id, provider)
    if config is None or not config.api_key:
        row = health.mark_unconfigured(practice_id, provider)
        db.session.commit()
        return row
    module = provider_module(provider)
    endpoint = practice_endpoints(practice_id).get(module.WEBHOOK_SOURCE)
    settings = dict(config.settings or {})
    webhook_url = endpoint_url(endpoint, settings.get("webhook_base_url")) if endpoint is not None else None
    call = provider_call(config)
    started = time.monotonic()
    try:
        with call as client:
            result = module.probe(client, settings, webhook_url)
    except ProviderError as error:
        health.record_failure(practice_id, provider, error)
    else:
        latency_ms = int((time.monotonic() - started) * 1000)
        problems = [*result.problems, *health.recent_failure_problems(practice_id, provider)]
        health.record_ok(practice_id, provider, facts=result.facts, problems=tuple(problems), latency_ms=latency_ms)
    row = health.get(practice_id, provider)
    db.session.commit()
    return row


def run_probe_job(job, progress):
    """Job handler of ``integration_probe``."""
    probe(job.payload["practice_id"], job.payload["provider"])

