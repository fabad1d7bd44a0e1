"""The detailed health of an integration (``GET /api/health/<provider>/detailed``), computed from what the hub
already stores: the cached probe, the sync runs, the appointment cache, the webhook log and the call metrics. It
never calls the provider (``POST /api/health/<provider>/check`` does). Each check is ``ok``, ``warning`` or
``critical`` with its figure and a sentence; the overall status is the worst of them. Besides the checks every
integration has, a provider asks for the ones that fit the records it keeps (its HEALTH_CHECKS hook)."""

from datetime import timedelta

from sqlalchemy import case, func, select

from app.appointments.models import Appointment, Call
from app.integrations import health, metrics
from app.integrations.clients import get_config, provider_module
from app.integrations.models import AUTH_FAILED, PAUSED, RATE_LIMITED, UNCONFIGURED, UNREACHABLE
from app.platform.database import utcnow
from app.platform.extensions import db
from app.providers.registry import BOOKING_ACTIVITY, UNMATCHED_APPOINTMENTS, UNMATCHED_CALLS
from app.webhooks.models import ERROR, REJECTED, WebhookEvent, WebhookEventAttempt

# A webhook failure rate from this share on is a warning (the "under 10 %").
WEBHOOK_FAILURE_WARNING = 0.10
LEVELS = ("ok", "warning", "critical")
# The cached records a provider's sync and webhooks write, each with the noun its check names them by. Both carry
# the provider's name as their source.
UNMATCHED = {UNMATCHED_APPOINTMENTS: (Appointment, "appointments"), UNMATCHED_CALLS: (Call, "calls")}


def _check(name, level, message, **figures):
    """One check's entry."""
    return {"name": name, "status": level, "message": message, **figures}


def detailed(practice_id, provider, now=None):
    """The detailed report: every check with its status and figures, and the overall status."""
    now = now or utcnow()
    module = provider_module(provider)
    row = health.read(practice_id, provider)
    config = get_config(practice_id, provider)
    state = row.state if row else UNCONFIGURED
    checks = [_connectivity(state, row, health.next_attempt(config)), _authentication(state)]
    if config is not None:
        checks.append(_sync_freshness(config, row, now))
    if BOOKING_ACTIVITY in module.HEALTH_CHECKS:
        checks.append(_booking_activity(practice_id, provider, now))
    checks.append(_webhook_failures(practice_id, module.WEBHOOK_SOURCE, now))
    summary = metrics.summary(practice_id, provider, now=now)
    checks.append(_error_rate(summary))
    checks.append(_response_time(summary))
    checks.extend(_unmatched(practice_id, provider, kind) for kind in UNMATCHED if kind in module.HEALTH_CHECKS)
    overall = max((check["status"] for check in checks), key=LEVELS.index)
    return {"provider": provider, "state": state, "status": overall, "checked_at": now.isoformat(),
            "checks": checks}


def _connectivity(state, row, retry_at):
    """Did the last probe or sync reach the provider? A provider that answered 429 was reached but refused more
    calls for now: a warning naming the worker's next attempt (``retry_at``, None when none is scheduled)."""
    if state == UNCONFIGURED:
        return _check("connectivity", "warning", "not configured")
    if state in (UNREACHABLE, PAUSED):
        return _check("connectivity", "critical", row.reason or state, last_ok_at=_iso(row.last_ok_at))
    if state == RATE_LIMITED:
        message = f"rate-limited, retrying at {_iso(retry_at) or 'the next check'}"
        return _check("connectivity", "warning", message, last_ok_at=_iso(row.last_ok_at), retry_at=_iso(retry_at))
    return _check("connectivity", "ok", "reachable", last_ok_at=_iso(row.last_ok_at),
                  latency_ms=row.latency_ms)


def _authentication(state):
    """Did the provider accept the key?"""
    if state == AUTH_FAILED:
        return _check("authentication", "critical", "the provider refused the API key")
    if state == UNCONFIGURED:
        return _check("authentication", "warning", "no API key saved")
    return _check("authentication", "ok", "key accepted")


def _sync_freshness(config, row, now):
    """Is the last successful sync within two intervals?"""
    last = config.last_sync_at
    if not config.sync_enabled:
        return _check("sync_freshness", "ok", "automatic sync is off", last_sync_at=_iso(last))
    if last is None:
        return _check("sync_freshness", "warning", "never synced", last_sync_at=None)
    age = now - last
    limit = timedelta(minutes=config.sync_interval_minutes * 2)
    level = "ok" if age <= limit else "critical" if age > limit * 4 else "warning"
    return _check("sync_freshness", level, f"last sync {int(age.total_seconds() // 60)} minutes ago",
                  last_sync_at=_iso(last), age_seconds=int(age.total_seconds()))


def _booking_activity(practice_id, provider, now):
    """The provider's bookings created in the cache in the last 24 hours and 7 days (a week without any is unusual
    for a practice, so it is a warning)."""
    day, week = now - timedelta(days=1), now - timedelta(days=7)
    last_day, last_week = db.session.execute(
        select(func.count(case((Appointment.created_at >= day, 1))), func.count())
        .where(Appointment.practice_id == practice_id, Appointment.source == provider,
               Appointment.created_at >= week)
    ).one()
    level = "ok" if last_week else "warning"
    return _check("booking_activity", level, f"{last_day} in 24 h, {last_week} in 7 days",
                  bookings_24h=last_day, bookings_7d=last_week)


def _webhook_failures(practice_id, source, now):
    """Share of the source's webhook requests in the last 24 hours that were rejected or failed to apply."""
    since = now - timedelta(days=1)
    failed_attempt = select(WebhookEventAttempt.id).where(
        WebhookEventAttempt.event_id == WebhookEvent.id, WebhookEventAttempt.outcome == ERROR).exists()
    total, failed = db.session.execute(
        select(func.count(), func.count(case(((WebhookEvent.outcome == REJECTED) | failed_attempt, 1))))
        .where(WebhookEvent.practice_id == practice_id, WebhookEvent.source == source,
               WebhookEvent.received_at >= since)
    ).one()
    rate = failed / total if total else 0.0
    level = "ok" if rate < WEBHOOK_FAILURE_WARNING else "warning"
    return _check("webhook_failure_rate", level, f"{failed} of {total} webhook requests failed in 24 h",
                  rate=round(rate, 4), failed=failed, total=total)


def _error_rate(summary):
    """Share of failed outbound calls in 24 hours: warning from 5 %, critical from 15 %."""
    rate = summary.error_rate or 0.0
    return _check("error_rate", summary.error_level, f"{summary.failures} of {summary.calls} calls failed in 24 h",
                  rate=round(rate, 4), calls=summary.calls, failures=summary.failures)


def _response_time(summary):
    """Mean duration of outbound calls in 24 hours: a warning from SLOW_RESPONSE_MS."""
    mean = summary.mean_ms
    level = "ok" if mean is None or mean < metrics.SLOW_RESPONSE_MS else "warning"
    return _check("response_time", level, "no calls in 24 h" if mean is None else f"mean {mean:.0f} ms",
                  mean_ms=round(mean, 1) if mean is not None else None)


def _unmatched(practice_id, provider, kind):
    """The provider's cached records of ``kind`` (appointments or calls) that match no patient."""
    model, noun = UNMATCHED[kind]
    count = db.session.scalar(select(func.count()).where(
        model.practice_id == practice_id, model.source == provider, model.patient_id.is_(None)))
    return _check("unmatched_records", "ok" if not count else "warning", f"{count} {noun} match no patient",
                  count=count)


def _iso(value):
    """ISO 8601 or None."""
    return value.isoformat() if value else None


