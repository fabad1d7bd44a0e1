"""The worker's scheduler: on every tick it queues the syncs and health probes that are due and prunes old
metrics. Due work is found by the indexed ``next_sync_at`` / ``next_probe_at`` of the integration configs; each is
claimed with a conditional update of that column before it is queued, so two workers ticking at once never queue
the same sync or probe twice (and a sync already queued or running is never queued again, see
app.integrations.sync.request_sync). Paused integrations are skipped until an admin resumes them."""

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from app.integrations import metrics
from app.integrations import sync as sync_service
from app.integrations.models import PAUSED, SCHEDULE, IntegrationConfig, ProviderHealth
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db

logger = logging.getLogger(__name__)


def _not_paused():
    """SQL: the config's provider health is not paused (or was never recorded)."""
    paused = select(ProviderHealth.id).where(
        ProviderHealth.practice_id == IntegrationConfig.practice_id,
        ProviderHealth.provider == IntegrationConfig.provider, ProviderHealth.state == PAUSED)
    return ~paused.exists()


def _claim(config_id, column, seen, new_value):
    """Move ``column`` of the config from ``seen`` to ``new_value`` unless another worker did first; True when
    this worker won and should queue the work."""
    result = db.session.execute(
        update(IntegrationConfig)
        .where(IntegrationConfig.id == config_id,
               column.is_(None) if seen is None else column == seen)
        .values({column.key: new_value})
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def queue_due_syncs(now):
    """Queue a scheduled sync for every active, keyed, unpaused integration with automatic sync on whose
    ``next_sync_at`` has come; returns how many were queued."""
    due = db.session.execute(
        select(IntegrationConfig.id, IntegrationConfig.practice_id, IntegrationConfig.provider,
               IntegrationConfig.next_sync_at, IntegrationConfig.sync_interval_minutes)
        .where(IntegrationConfig.sync_enabled, IntegrationConfig.active, IntegrationConfig.api_key.is_not(None),
               or_(IntegrationConfig.next_sync_at.is_(None), IntegrationConfig.next_sync_at <= now), _not_paused())
    ).all()
    db.session.commit()
    queued = 0
    for config_id, practice_id, provider, seen, interval in due:
        if not _claim(config_id, IntegrationConfig.next_sync_at, seen, now + timedelta(minutes=interval)):
            continue
        try:
            _run, created = sync_service.request_sync(practice_id, provider, SCHEDULE)
        except ServiceError as error:
            logger.warning("scheduled sync of %s for practice %s not queued: %s", provider, practice_id, error)
            continue
        queued += int(created)
    return queued


def queue_due_probes(now):
    """Queue a health probe for every keyed, unpaused integration whose ``next_probe_at`` has come; returns how
    many were queued."""
    interval = timedelta(seconds=current_app.config["HUB_PROBE_SECONDS"])
    due = db.session.execute(
        select(IntegrationConfig.id, IntegrationConfig.practice_id, IntegrationConfig.provider,
               IntegrationConfig.next_probe_at)
        .where(IntegrationConfig.active, IntegrationConfig.api_key.is_not(None),
               or_(IntegrationConfig.next_probe_at.is_(None), IntegrationConfig.next_probe_at <= now),
               _not_paused())
    ).all()
    db.session.commit()
    queued = 0
    for config_id, practice_id, provider, seen in due:
        if _claim(config_id, IntegrationConfig.next_probe_at, seen, now + interval):
            sync_service.request_probe(practice_id, provider)
            queued += 1
    return queued


def tick(now=None, *, prune=False):
    """One round of the scheduler: due syncs and probes, and with ``prune`` (the worker asks hourly) the
    metrics older than INTEGRATION_METRICS_DAYS. Returns what it did as counts (for the log and tests)."""
    now = now or utcnow()
    done = {"syncs": queue_due_syncs(now), "probes": queue_due_probes(now), "metrics_pruned": 0}
    if prune:
        done["metrics_pruned"] = metrics.prune(current_app.config["INTEGRATION_METRICS_DAYS"], now=now)
        db.session.commit()
    return done


