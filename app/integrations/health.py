"""The cached health of each provider: written by probes, syncs and saves, read by the status cards and the
health API. The state follows the last outcome:

- ``ok``: the last call succeeded and nothing needs attention;
- ``degraded``: the provider answers, but something is wrong (our webhook registration at it went missing, a
  malformed answer, the error rate of the calls in the last FAILURE_WINDOW_HOURS is critical);
- ``auth_failed``: the provider refused the key (401/403);
- ``unreachable``: no answer (connection refused, timeout, 5xx after retries);
- ``rate_limited``: the provider answered 429 (too many requests) after the retries; it is there and will be
  asked again at the next probe or sync (the card says when);
- ``paused``: SYNC_PAUSE_AFTER_FAILURES failed syncs in a row; the scheduler leaves it alone until an admin
  resumes it;
- ``unconfigured``: no key saved.

``consecutive_failures`` counts failed probes and syncs in a row (shown on the card); the pause and the backoff
count failed sync runs only (app.integrations.sync.failed_syncs_in_a_row)."""

from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.integrations import metrics
from app.integrations.models import (
    AUTH_FAILED,
    DEGRADED,
    OK,
    PAUSED,
    RATE_LIMITED,
    UNCONFIGURED,
    UNREACHABLE,
    ProviderHealth,
)
from app.platform.database import utcnow
from app.platform.extensions import db
from app.providers.base import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderUnreachable,
)

# Card facts a probe or sync may report.
FACT_COLUMNS = ("event_type_count", "agent_count", "webhook_registered")
# The recent calls whose error rate a successful probe weighs: long enough to hold several probes
# (HUB_PROBE_SECONDS) and syncs, short enough that a provider that has recovered is ``ok`` again once its failures
# have left the window, not for the 24 hours the hub's figures cover.
FAILURE_WINDOW_HOURS = 1


def get(practice_id, provider):
    """The provider's health row, created (state unconfigured) when the practice has none yet. The row is added
    to the current transaction; a concurrent creator is tolerated (the row it made is used)."""
    row = db.session.scalar(select(ProviderHealth).where(
        ProviderHealth.practice_id == practice_id, ProviderHealth.provider == provider))
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            row = ProviderHealth(practice_id=practice_id, provider=provider, state=UNCONFIGURED,
                                 consecutive_failures=0)
            db.session.add(row)
    except IntegrityError:
        row = db.session.scalar(select(ProviderHealth).where(
            ProviderHealth.practice_id == practice_id, ProviderHealth.provider == provider))
    return row


def read(practice_id, provider):
    """The provider's health row without creating one (None when never checked); one indexed read."""
    return db.session.scalar(select(ProviderHealth).where(
        ProviderHealth.practice_id == practice_id, ProviderHealth.provider == provider))


def state_for(error):
    """The state a failed call leaves: auth_failed, rate_limited, unreachable or degraded (ProviderBadResponse and
    the like)."""
    if isinstance(error, ProviderAuthError):
        return AUTH_FAILED
    if isinstance(error, ProviderRateLimited):
        return RATE_LIMITED
    if isinstance(error, ProviderUnreachable):
        return UNREACHABLE
    return DEGRADED  # it answered, but not as expected (a malformed answer, a refused request)


def update_facts(practice_id, provider, facts):
    """Store card facts (event type and agent counts, webhook registration) reported by a call."""
    row = get(practice_id, provider)
    for name in FACT_COLUMNS:
        if name in facts:
            setattr(row, name, facts[name])
    return row


def recent_failure_problems(practice_id, provider, now=None):
    """The problem a probe that got through still reports about the provider's recent calls: a sentence when the
    error rate of the calls in the last FAILURE_WINDOW_HOURS is critical, else none. Once the failures of an
    outage have left the window, the next successful probe finds the provider ``ok`` again."""
    if metrics.summary(practice_id, provider, hours=FAILURE_WINDOW_HOURS, now=now).error_level != "critical":
        return ()
    return (ngettext("More than %(percent)d percent of the calls in the last hour failed.",
                     "More than %(percent)d percent of the calls in the last %(num)d hours failed.",
                     FAILURE_WINDOW_HOURS, percent=round(metrics.ERROR_RATE_CRITICAL * 100)),)


def next_attempt(config):
    """When the worker calls the provider of ``config`` (an IntegrationConfig or None) again on its own: the
    earlier of its next probe and, with automatic sync on, its next sync; None when neither is scheduled (no
    config, no key, inactive, or due at the scheduler's next tick). What a rate-limited card names as the next
    attempt."""
    if config is None or not config.active or not config.api_key:
        return None
    planned = (config.next_probe_at, config.next_sync_at if config.sync_enabled else None)
    return min((moment for moment in planned if moment is not None), default=None)


def record_ok(practice_id, provider, *, facts=None, problems=(), latency_ms=None, now=None):
    """A successful probe, key check or sync: failures reset, facts stored; ``problems`` (sentences) make the
    state degraded with the first one as the reason. A paused integration stays paused (only resume lifts it).
    Returns the new state."""
    now = now or utcnow()
    row = update_facts(practice_id, provider, facts or {})
    row.consecutive_failures = 0
    row.last_ok_at = now
    row.checked_at = now
    if latency_ms is not None:
        row.latency_ms = latency_ms
    if row.state != PAUSED:
        row.state = DEGRADED if problems else OK
        row.reason = "; ".join(problems) if problems else None
    return row.state


def record_failure(practice_id, provider, error, *, now=None, paused_after=None):
    """A failed probe, key check or sync: the state the error means, its message as reason and last error, one
    more consecutive failure. ``paused_after`` (a sync that found that many failed syncs in a row) pauses the
    integration with the reason shown. Returns the new state."""
    now = now or utcnow()
    row = get(practice_id, provider)
    message = error.message if isinstance(error, ProviderError) else str(error)
    row.consecutive_failures = (row.consecutive_failures or 0) + 1
    row.last_error = message
    row.last_error_at = now
    row.checked_at = now
    if row.state == PAUSED:
        return row.state
    if paused_after:
        row.state = PAUSED
        row.reason = ngettext("Paused after %(num)d failed sync. Last error: %(error)s",
                              "Paused after %(num)d failed syncs in a row. Last error: %(error)s",
                              paused_after, error=message)
    else:
        row.state = state_for(error)
        row.reason = message
    return row.state


def record_sync(practice_id, provider, *, status, records, now):
    """The last sync's outcome for the card."""
    row = get(practice_id, provider)
    row.last_sync_at = now
    row.last_sync_status = status
    row.last_sync_records = records


def resume(practice_id, provider):
    """Lift a pause: failures reset, the state waits for the next check (unconfigured until a call answers)."""
    row = get(practice_id, provider)
    if row.state == PAUSED:
        row.state = UNCONFIGURED if row.last_ok_at is None else OK
        row.reason = None
        row.consecutive_failures = 0
    return row


def mark_unconfigured(practice_id, provider):
    """No key any more: the card says so."""
    row = get(practice_id, provider)
    row.state = UNCONFIGURED
    row.reason = None
    return row


def as_json(row, provider):
    """The quick health answer (``GET /api/health/<provider>``): the cached row, never a provider call."""
    if row is None:
        return {"provider": provider, "state": UNCONFIGURED, "checked_at": None, "consecutive_failures": 0}
    return {
        "provider": provider,
        "state": row.state,
        "reason": row.reason,
        "checked_at": _iso(row.checked_at),
        "last_ok_at": _iso(row.last_ok_at),
        "last_error": row.last_error,
        "last_error_at": _iso(row.last_error_at),
        "consecutive_failures": row.consecutive_failures,
        "latency_ms": row.latency_ms,
        "event_type_count": row.event_type_count,
        "agent_count": row.agent_count,
        "webhook_registered": row.webhook_registered,
        "last_sync": {"at": _iso(row.last_sync_at), "status": row.last_sync_status,
                      "records": row.last_sync_records},
    }


def _iso(value):
    """ISO 8601 or None."""
    return value.isoformat() if value else None
