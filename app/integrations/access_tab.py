"""The hub's tab of an access provider (app.providers.registry.ACCESS_PROVIDERS): a status card read from the
provider's rows in integration_metrics (the door check-ins record every provider call there), the same 24-hour
chart as Cal.com and Retell, and the locations where the provider is enabled.

The hub sits below the access domain, so it does not read the access tables itself: the access domain installs a
reader of its locations with ``use_location_reader``; without one the tab lists no locations. Nothing here calls a
provider: the card is the record of the calls the check-ins made."""

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from app.integrations import metrics
from app.integrations.models import AUTH_FAILED, DEGRADED, OK, UNCONFIGURED, UNREACHABLE, IntegrationMetric
from app.platform.database import utcnow
from app.platform.extensions import db
from app.providers.registry import ACCESS_PROVIDERS, access_provider

LOCATION_READER = "praxis.hub_access_locations"
# A failed call answered with one of these statuses means the provider refused our credentials.
AUTH_STATUSES = (401, 403)

REASONS = {
    UNCONFIGURED: _l("Not enabled at any location yet."),
    AUTH_FAILED: _l("The provider refused the credentials at the last check-in."),
    UNREACHABLE: _l("The last check-in could not reach the provider."),
    DEGRADED: _l("Many provider calls failed in the last 24 hours."),
}


@dataclass(frozen=True)
class AccessLocation:
    """One location where the provider is set up, as the access domain's reader describes it: enabled or paused,
    its timeout and re-entry window (already worded), whether staff confirm every grant, and its check-ins of the
    last 24 hours (how many, how many let in) and the time of its latest check-in."""

    location_id: int
    name: str
    active: bool
    timeout_ms: int
    reentry: str
    staff_must_confirm: bool
    checkins_24h: int
    granted_24h: int
    last_checkin_at: object = None


@dataclass(frozen=True)
class AccessCard:
    """An access provider's status for the hub: ``state`` in the hub's state vocabulary, the last 24 hours of calls
    (count, failures, mean duration), the last call and the last error, the failures since the last success, and
    the locations."""

    provider: str
    label: str
    state: str
    calls: int
    failures: int
    mean_ms: float | None
    last_call_at: object
    last_error: str | None
    last_error_at: object
    consecutive_failures: int
    locations: list = field(default_factory=list)

    @property
    def reason(self):
        """Why the state is not OK, for people (None when it is)."""
        return REASONS.get(self.state)

    @property
    def success_rate(self):
        """The share of the last 24 hours' calls that succeeded (0..1), None without calls."""
        return (self.calls - self.failures) / self.calls if self.calls else None

    @property
    def enabled_count(self):
        """How many locations have the provider enabled."""
        return sum(1 for location in self.locations if location.active)


def use_location_reader(app, read):
    """Install ``read(practice_id, provider, since) -> [AccessLocation]``, the access domain's locations of a
    provider with their check-ins since ``since``."""
    app.extensions[LOCATION_READER] = read


def access_tabs():
    """The access providers with a tab in the hub, in registry order."""
    return tuple(ACCESS_PROVIDERS)


def access_label(name):
    """The name people see for access provider ``name``."""
    module = access_provider(name)
    return module.LABEL if module else name


def _last_calls(practice_id, provider):
    """(the last call row, the last failed call row, failures since the last success) of the provider: three small
    queries over the (practice, provider, created_at) index."""
    mine = (IntegrationMetric.practice_id == practice_id, IntegrationMetric.provider == provider,
            ~IntegrationMetric.action.startswith(metrics.KEY_CHECK))
    columns = (IntegrationMetric.success, IntegrationMetric.status_code, IntegrationMetric.error,
               IntegrationMetric.created_at)
    latest = db.session.execute(select(*columns).where(*mine).order_by(IntegrationMetric.created_at.desc())
                                .limit(1)).first()
    failed = db.session.execute(select(*columns).where(*mine, IntegrationMetric.success.is_(False))
                                .order_by(IntegrationMetric.created_at.desc()).limit(1)).first()
    last_success = (select(func.max(IntegrationMetric.created_at))
                    .where(*mine, IntegrationMetric.success.is_(True)).scalar_subquery())
    streak = db.session.scalar(select(func.count()).where(
        *mine, IntegrationMetric.success.is_(False),
        or_(last_success.is_(None), IntegrationMetric.created_at > last_success)))
    return latest, failed, int(streak or 0)


def _state(locations, latest, summary):
    """The card's state: unconfigured without an enabled location; otherwise how the last call ended and how
    many of the last 24 hours' calls failed."""
    if not any(location.active for location in locations):
        return UNCONFIGURED
    if latest is not None and not latest.success:
        return AUTH_FAILED if latest.status_code in AUTH_STATUSES else UNREACHABLE
    return DEGRADED if summary.error_level != "ok" else OK


def access_card(practice_id, provider, now=None):
    """The AccessCard of ``provider`` for the practice (read from stored rows only)."""
    now = now or utcnow()
    read = current_app.extensions.get(LOCATION_READER)
    locations = read(practice_id, provider, now - timedelta(hours=24)) if read else []
    summary = metrics.summary(practice_id, provider, now=now)
    latest, failed, streak = _last_calls(practice_id, provider)
    return AccessCard(
        provider=provider, label=access_label(provider), state=_state(locations, latest, summary),
        calls=summary.calls, failures=summary.failures, mean_ms=summary.mean_ms,
        last_call_at=latest.created_at if latest else None,
        last_error=(failed.error or str(failed.status_code or "")) if failed else None,
        last_error_at=failed.created_at if failed else None, consecutive_failures=streak, locations=locations)
