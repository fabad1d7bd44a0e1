"""The cached health of an integration: a 429 is "rate-limited" with the worker's next attempt, not
"unreachable"; a provider that has recovered is "ok" again once its failures have left the failure window, not
for the 24 hours the hub's figures cover; and the detailed report says the same."""

from datetime import timedelta

import pytest
from sqlalchemy import insert

from app.integrations import health, health_report
from app.integrations import sync as sync_service
from app.integrations.models import (
    DEGRADED,
    OK,
    RATE_LIMITED,
    UNREACHABLE,
    IntegrationConfig,
    IntegrationMetric,
)
from app.platform.database import utcnow
from app.platform.extensions import db as _db
from app.providers.base import ProviderRateLimited, ProviderTimeout, ProviderUnreachable
from tests.hub_support import config_of, connect, hub_overrides

WINDOW_PROBLEM = "More than 15 percent of the calls in the last hour failed."


@pytest.fixture
def calcom(calcom_server):
    """The Cal.com fake, answering normally."""
    calcom_server.seed()
    calcom_server.reset()
    return calcom_server


@pytest.fixture
def app_overrides(calcom_server, retell_server):
    """The hub talks to the fakes."""
    return hub_overrides(calcom_server, retell_server)


@pytest.fixture
def admin(make_user):
    """The practice's admin, who connects Cal.com."""
    return make_user(role="admin")


pytestmark = pytest.mark.usefixtures("english_messages")


def _failed_calls(practice_id, count, at):
    """``count`` failed Cal.com calls recorded at ``at`` (as an outage leaves them in the metrics)."""
    _db.session.execute(insert(IntegrationMetric), [
        {"practice_id": practice_id, "provider": "calcom", "action": "event_types.list", "success": False,
         "duration_ms": 1000, "status_code": None, "error": "ProviderUnreachable", "created_at": at}
        for _ in range(count)])
    _db.session.commit()


@pytest.mark.parametrize(("error", "state"), [
    (ProviderRateLimited("slow down", retry_after=30), RATE_LIMITED),
    (ProviderUnreachable("down"), UNREACHABLE),
    (ProviderTimeout("late"), UNREACHABLE),
])
def test_a_429_is_its_own_state(error, state):
    """Too many requests is not "unreachable": the provider answered, and will be asked again."""
    assert health.state_for(error) == state


def test_a_probe_answered_with_429_leaves_the_provider_rate_limited(app, calcom, practice, admin):
    """Cal.com answering 429 (no Retry-After, only its reset header) makes the card rate-limited with the
    provider's message, one more failure counted. The next probe that gets through lifts it: degraded while the
    refused call is still a large share of the last hour's few calls, ok once it has left that window."""
    connect(admin, "calcom")
    calcom.set_scenario("429")

    row = sync_service.probe(practice.id, "calcom")

    assert row.state == RATE_LIMITED and "limiting the number of requests" in row.reason
    assert row.consecutive_failures == 1
    calcom.set_scenario("ok")
    row = sync_service.probe(practice.id, "calcom")
    assert (row.state, row.reason, row.consecutive_failures) == (DEGRADED, WINDOW_PROBLEM, 0)
    assert health.recent_failure_problems(practice.id, "calcom", now=utcnow() + timedelta(minutes=61)) == ()


def test_a_recovered_provider_is_ok_once_its_failures_left_the_window(app, calcom, practice, admin):
    """An outage two hours ago (40 failed calls, far over 15 % of the day's calls) no longer makes a successful
    probe find the provider degraded; the same failures ten minutes ago do, until they leave the one-hour
    window."""
    connect(admin, "calcom")
    now = utcnow()
    _failed_calls(practice.id, 40, now - timedelta(hours=2))

    row = sync_service.probe(practice.id, "calcom")
    assert row.state == OK, row.reason

    _failed_calls(practice.id, 40, now - timedelta(minutes=10))
    row = sync_service.probe(practice.id, "calcom")
    assert row.state == DEGRADED and row.reason == WINDOW_PROBLEM
    assert health.recent_failure_problems(practice.id, "calcom", now=now + timedelta(minutes=40)) == (
        WINDOW_PROBLEM,)
    assert health.recent_failure_problems(practice.id, "calcom", now=now + timedelta(minutes=51)) == ()


def test_the_next_attempt_is_the_earlier_of_probe_and_sync():
    """What a rate-limited card names: the next probe or, with automatic sync on, an earlier sync; nothing when
    the worker has nothing planned for the integration."""
    now = utcnow()
    probe_at, sync_at = now + timedelta(minutes=5), now + timedelta(minutes=2)

    def config(**fields):
        """An active, keyed config with the given schedule."""
        return IntegrationConfig(**{"active": True, "api_key": "secret", "sync_enabled": True,
                                    "next_probe_at": probe_at, "next_sync_at": sync_at, **fields})

    assert health.next_attempt(config()) == sync_at
    assert health.next_attempt(config(sync_enabled=False)) == probe_at
    assert health.next_attempt(config(next_sync_at=None)) == probe_at
    assert health.next_attempt(config(next_probe_at=None, sync_enabled=False)) is None
    assert health.next_attempt(config(active=False)) is None
    assert health.next_attempt(config(api_key=None)) is None
    assert health.next_attempt(None) is None


def test_the_detailed_report_calls_a_rate_limit_a_warning_with_the_next_attempt(app, calcom, practice, admin):
    """``/api/health/<provider>/detailed``: rate-limited is reachable but refusing for now, a warning (not the
    critical of an unreachable provider) that names the next attempt."""
    connect(admin, "calcom")
    calcom.set_scenario("429")
    sync_service.probe(practice.id, "calcom")
    next_probe = config_of(practice, "calcom").next_probe_at

    report = health_report.detailed(practice.id, "calcom")

    connectivity = next(check for check in report["checks"] if check["name"] == "connectivity")
    assert report["state"] == RATE_LIMITED and connectivity["status"] == "warning"
    assert connectivity["retry_at"] == next_probe.isoformat()
    assert connectivity["message"] == f"rate-limited, retrying at {next_probe.isoformat()}"
