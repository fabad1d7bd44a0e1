"""Metrics of the integrations: one row per outbound call and per sync (provider, action, success, duration,
records, status), and the figures the hub and ``/api/health/<provider>/metrics`` compute from them: error rate,
mean response time and an hourly series for the last 24 hours. Every figure is one aggregate query over the
(practice, provider, created_at) index, never a loop over rows."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Integer, case, delete, func, insert, select

from app.integrations.models import IntegrationMetric
from app.platform.database import utcnow
from app.platform.extensions import db

# Error-rate thresholds of the detailed health check (share of failed calls).
ERROR_RATE_WARNING = 0.05
ERROR_RATE_CRITICAL = 0.15
# Mean response time above this many milliseconds is a warning.
SLOW_RESPONSE_MS = 1000


def record(practice_id, provider, action, *, success, duration_ms, status_code=None, records=None, error=None):
    """Add one metric row to the current transaction (the caller commits, at once: the row is an insert, and on
    SQLite a pending insert holds the write lock). ``error`` is cut to 255 characters; callers pass provider error
    messages or error class names, which never contain keys or PHI."""
    db.session.execute(insert(IntegrationMetric).values(
        practice_id=practice_id, provider=provider, action=action[:64], success=bool(success),
        duration_ms=max(0, int(duration_ms)), status_code=status_code, records=records,
        error=(error or None) and error[:255], created_at=utcnow(),
    ))


# Prefix of the actions of key checks (a key typed into the form, not yet saved): they are listed per action but
# left out of the error rate and response time, because a mistyped key says nothing about the integration's health.
KEY_CHECK = "check:"
# The action of a whole sync run: listed per action, but not a call (its duration is the sync's, and a failed sync
# already counts through the failed call behind it), so the call figures leave it out unless asked for.
SYNC = "sync"


def _calls_only(action_prefix=None):
    """SQL conditions: the outbound calls (no key checks, no sync rows), or only ``action_prefix`` when given."""
    if action_prefix:
        return (IntegrationMetric.action.startswith(action_prefix),)
    return (~IntegrationMetric.action.startswith(KEY_CHECK), IntegrationMetric.action != SYNC)


def record_call(practice_id, call, *, prefix=""):
    """Add the metric row of ``practice_id`` for one HTTP attempt (a CallMetric), its action prefixed with
    ``prefix`` (KEY_CHECK for key checks), to the current transaction; the caller commits at once
    (app.integrations.clients.ProviderCall does, after every attempt, so no row waits for a retry)."""
    record(practice_id, call.provider, prefix + call.action, success=call.success, duration_ms=call.duration_ms,
           status_code=call.status_code, records=call.records, error=call.error)


@dataclass(frozen=True)
class Summary:
    """Calls in a window: how many, how many failed, the error rate (0..1, None without calls), mean duration."""

    calls: int
    failures: int
    mean_ms: float | None

    @property
    def error_rate(self):
        """Failed share of the calls, or None when there were none."""
        return self.failures / self.calls if self.calls else None

    @property
    def error_level(self):
        """``ok``, ``warning`` (from 5 %) or ``critical`` (from 15 %); ``ok`` without calls."""
        rate = self.error_rate or 0.0
        if rate >= ERROR_RATE_CRITICAL:
            return "critical"
        if rate >= ERROR_RATE_WARNING:
            return "warning"
        return "ok"


def _window(practice_id, provider, since):
    """The conditions selecting one provider's metrics of a practice since ``since``."""
    return (IntegrationMetric.practice_id == practice_id, IntegrationMetric.provider == provider,
            IntegrationMetric.created_at >= since)


def _failed():
    """1 for a failed call, else 0, summable on SQLite and PostgreSQL."""
    return case((IntegrationMetric.success.is_(False), 1), else_=0)


def summary(practice_id, provider, *, hours=24, action_prefix=None, now=None):
    """Outbound calls, failures and mean duration of the last ``hours`` (key checks and sync rows left out);
    ``action_prefix`` selects other actions instead, such as ``sync``."""
    since = (now or utcnow()) - timedelta(hours=hours)
    query = select(func.count(), func.coalesce(func.sum(_failed()), 0), func.avg(IntegrationMetric.duration_ms))
    query = query.where(*_window(practice_id, provider, since), *_calls_only(action_prefix))
    calls, failures, mean = db.session.execute(query).one()
    return Summary(int(calls), int(failures), float(mean) if mean is not None else None)


@dataclass(frozen=True)
class Bucket:
    """One hour of the chart: its start, calls, failures and mean duration."""

    start: object
    calls: int
    failures: int
    mean_ms: float | None

    @property
    def error_rate(self):
        """Failed share of the hour's calls (0 without calls)."""
        return self.failures / self.calls if self.calls else 0.0


def _hour_number():
    """SQL for the whole hours since the epoch of a metric's ``created_at``, on the session's database."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.floor(func.extract("epoch", IntegrationMetric.created_at) / 3600).cast(Integer)
    return func.cast(func.strftime("%s", IntegrationMetric.created_at), Integer) // 3600


def hourly(practice_id, provider, *, hours=24, now=None):
    """The last ``hours`` hours as Buckets, oldest first, empty hours included: one GROUP BY by the hour over the
    (practice, provider, created_at) index."""
    now = now or utcnow()
    current_hour = int(now.timestamp() // 3600)
    first_hour = current_hour - hours + 1
    since = datetime.fromtimestamp(first_hour * 3600, UTC)
    hour = _hour_number().label("hour")
    rows = db.session.execute(
        select(hour, func.count(), func.sum(_failed()).cast(Integer), func.avg(IntegrationMetric.duration_ms))
        .where(*_window(practice_id, provider, since), *_calls_only())
        .group_by(hour)
    )
    found = {int(number): (calls, failures or 0, mean) for number, calls, failures, mean in rows}
    buckets = []
    for number in range(first_hour, current_hour + 1):
        calls, failures, mean = found.get(number, (0, 0, None))
        buckets.append(Bucket(datetime.fromtimestamp(number * 3600, UTC), calls, failures,
                              float(mean) if mean is not None else None))
    return buckets


def by_action(practice_id, provider, *, hours=24, now=None):
    """Per action: calls, failures and mean duration in the last ``hours``, for ``/metrics``; one GROUP BY."""
    since = (now or utcnow()) - timedelta(hours=hours)
    rows = db.session.execute(
        select(IntegrationMetric.action, func.count(), func.sum(_failed()).cast(Integer),
               func.avg(IntegrationMetric.duration_ms), func.coalesce(func.sum(IntegrationMetric.records), 0))
        .where(*_window(practice_id, provider, since))
        .group_by(IntegrationMetric.action)
        .order_by(IntegrationMetric.action)
    )
    return [
        {"action": action, "calls": calls, "failures": failures or 0,
         "mean_ms": round(float(mean), 1) if mean is not None else None, "records": int(records)}
        for action, calls, failures, mean, records in rows
    ]


def prune(older_than_days, now=None):
    """Delete metrics older than ``older_than_days`` (all practices); returns how many. The worker's scheduler
    calls it so the table stays the size of its window."""
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    return db.session.execute(delete(IntegrationMetric).where(IntegrationMetric.created_at < cutoff)).rowcount
