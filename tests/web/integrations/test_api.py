"""The Integration Hub's JSON API: /api/health/<provider> (cached state), /detailed, /metrics, POST /check, and
the outbound proxy /api/proxy/<provider>/<operation>, with API tokens and (for the proxy only) the browser
session; permissions per role and practice."""

from datetime import timedelta

import pytest

from app.integrations import metrics as integration_metrics
from app.integrations.models import IntegrationMetric
from app.platform.database import utcnow
from app.platform.extensions import db as _db
from tests.fakes.calcom import CalcomFake
from tests.fakes.calcom import demo_seed as calcom_seed
from tests.fakes.retell import RetellFake
from tests.fakes.retell import demo_seed as retell_seed
from tests.helpers import bearer
from tests.hub_support import connect, health_of, hub_overrides

VIEW_URLS = ("/api/health/calcom", "/api/health/calcom/detailed", "/api/health/calcom/metrics",
             "/api/proxy/calcom/event-types")
CHECK_URL = "/api/health/calcom/check"


@pytest.fixture(scope="module")
def calcom_server():
    """One Cal.com fake with the demo practice's event types."""
    with CalcomFake(**calcom_seed()) as server:
        yield server


@pytest.fixture(scope="module")
def retell_server():
    """One Retell fake with the demo practice's agents."""
    with RetellFake(**retell_seed()) as server:
        yield server


@pytest.fixture
def calcom(calcom_server):
    """The Cal.com fake answering normally, with an empty request log."""
    calcom_server.reset()
    return calcom_server


@pytest.fixture
def app_overrides(calcom_server, retell_server):
    """The hub talks to the fakes."""
    return hub_overrides(calcom_server, retell_server)


pytestmark = pytest.mark.usefixtures("english_messages")


@pytest.fixture
def connected(calcom, make_user):
    """Cal.com connected for the practice by its admin (returned); the fake's log starts empty afterwards."""
    admin = make_user(role="admin")
    connect(admin, "calcom")
    calcom.reset()
    return admin


def _metrics(practice, rows, provider="calcom"):
    """Insert metric rows: (action, success, created_at[, duration_ms])."""
    for action, success, created_at, *duration in rows:
        _db.session.add(IntegrationMetric(practice_id=practice.id, provider=provider, action=action, success=success,
                                          duration_ms=duration[0] if duration else 100, created_at=created_at))
    _db.session.commit()


@pytest.mark.parametrize(("role", "can_view", "can_check"), [
    ("admin", True, True),
    ("assistant", True, False),
    ("therapist", False, False),
    ("billing", False, False),
])
def test_permissions_per_role(client, calcom, connected, make_user, make_token, role, can_view, can_check):
    """Admins use every endpoint; assistants read health, metrics and the proxy but cannot trigger a check;
    therapists and billing get 403 everywhere, and their requests never reach the provider."""
    token = make_token(make_user(role=role))
    for url in VIEW_URLS:
        assert client.get(url, headers=bearer(token)).status_code == (200 if can_view else 403), url
    assert client.post(CHECK_URL, headers=bearer(token)).status_code == (200 if can_check else 403)
    assert calcom.request_count() == (0 if not can_view else 1 + 2 * can_check)


def test_the_proxy_works_with_the_browser_session_but_a_check_does_not(client, auth, calcom, connected):
    """The hub's pages use the proxy with the signed-in session (GET only); a probe (POST) and the other JSON
    endpoints still need a token, so a forged cross-site POST cannot trigger provider calls."""
    auth.login(role="assistant")

    proxied = client.get("/api/proxy/calcom/event-types")
    assert proxied.status_code == 200
    assert [item["id"] for item in proxied.get_json()["data"]] == [101, 102, 103]
    assert proxied.get_json()["cached"] is False

    auth.logout()
    auth.login(role="admin")
    assert client.post(CHECK_URL).status_code == 401
    assert client.get("/api/health/calcom").status_code == 401
    assert calcom.request_count() == 1


def test_the_proxy_with_the_session_of_a_therapist_is_403(client, auth, calcom, connected):
    """A therapist's session does not open the proxy."""
    auth.login(role="therapist")
    assert client.get("/api/proxy/calcom/event-types").status_code == 403
    assert calcom.request_count() == 0


def test_anonymous_requests_are_401(client, calcom, connected):
    """Without a token or a session every endpoint answers 401 in JSON."""
    for url in VIEW_URLS:
        response = client.get(url)
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    assert client.post(CHECK_URL).status_code == 401
    assert calcom.request_count() == 0


def test_proxy_answers_through_the_api(client, calcom, connected, make_token):
    """The proxy's JSON carries the data and whether it came from the cache; bad parameters are 400 and an
    operation outside the allow-list 404, both with a JSON error."""
    token = bearer(make_token(connected))
    first = client.get("/api/proxy/calcom/event-types", headers=token).get_json()
    second = client.get("/api/proxy/calcom/event-types", headers=token).get_json()
    assert first["cached"] is False and second == {**first, "cached": True}

    bad = client.get("/api/proxy/calcom/slots?event_type_id=x&start=2030-01-07&end=2030-01-08", headers=token)
    assert bad.status_code == 400 and "event_type_id" in bad.get_json()["error"]["message"]
    missing = client.get("/api/proxy/calcom/bookings", headers=token)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "proxy_error"
    assert calcom.request_count() == 1


def test_each_practice_sees_only_its_own_integrations(client, calcom, practice, other_practice, make_user,
                                                      make_token):
    """Another practice's connection, health and metrics never show in this practice's answers, and this
    practice's proxy does not use the other practice's key."""
    connect(make_user(role="admin", practice=other_practice), "calcom")
    _metrics(other_practice, [("me", False, utcnow())] * 3)
    token = bearer(make_token(make_user(role="admin")))

    assert client.get("/api/health/calcom", headers=token).get_json()["state"] == "unconfigured"
    metrics = client.get("/api/health/calcom/metrics", headers=token).get_json()
    assert metrics["calls"] == 0 and metrics["actions"] == []
    detailed = client.get("/api/health/calcom/detailed", headers=token).get_json()
    assert detailed["state"] == "unconfigured"
    assert {check["name"]: check for check in detailed["checks"]}["error_rate"]["calls"] == 0
    proxied = client.get("/api/proxy/calcom/event-types", headers=token)
    assert proxied.status_code == 409
    calls = calcom.request_count()
    checked = client.post(CHECK_URL, headers=token).get_json()
    assert checked["state"] == "unconfigured" and calcom.request_count() == calls
    assert health_of(other_practice, "calcom").state == "ok"


@pytest.mark.parametrize(("method", "url"), [
    ("GET", "/api/health/stripe"), ("GET", "/api/health/stripe/detailed"), ("GET", "/api/health/stripe/metrics"),
    ("POST", "/api/health/stripe/check"), ("GET", "/api/proxy/stripe/event-types"),
])
def test_an_unknown_provider_is_404(client, make_user, make_token, method, url):
    """A provider the hub does not know answers 404 with a JSON error on every endpoint."""
    response = client.open(url, method=method, headers=bearer(make_token(make_user(role="admin"))))
    assert response.status_code == 404 and "stripe" in response.get_json()["error"]["message"]


def test_the_quick_health_answer_never_calls_the_provider(client, calcom, connected, make_token):
    """GET /api/health/<provider> answers from the stored health (the state, the facts of the last check) and
    never calls the provider, however often it is polled; so does /detailed."""
    token = bearer(make_token(connected))
    for _poll in range(3):
        body = client.get("/api/health/calcom", headers=token).get_json()
        client.get("/api/health/calcom/detailed", headers=token)
    assert calcom.request_count() == 0
    assert body["provider"] == "calcom" and body["state"] == "ok" and body["consecutive_failures"] == 0
    assert body["last_ok_at"] is not None and body["last_sync"] == {"at": None, "status": None, "records": None}
    retell = client.get("/api/health/retell", headers=token).get_json()
    assert retell == {"provider": "retell", "state": "unconfigured", "checked_at": None, "consecutive_failures": 0}


@pytest.mark.parametrize(("failures", "level"), [(4, "ok"), (5, "warning"), (14, "warning"), (15, "critical")])
def test_detailed_error_rate_thresholds(client, practice, connected, make_token, failures, level):
    """The error-rate check is a warning from 5 % failed calls in 24 hours and critical from 15 %; failed key
    checks (a mistyped key) and calls older than a day do not count."""
    now = utcnow()
    _metrics(practice, [("bookings.list", index >= failures, now - timedelta(minutes=index)) for index in range(100)])
    _metrics(practice, [("check:me", False, now)] * 20 + [("me", False, now - timedelta(hours=25))] * 20)

    body = client.get("/api/health/calcom/detailed", headers=bearer(make_token(connected))).get_json()

    checks = {check["name"]: check for check in body["checks"]}
    assert checks["error_rate"]["status"] == level
    assert checks["error_rate"]["calls"] == 100 and checks["error_rate"]["failures"] == failures
    assert checks["error_rate"]["rate"] == failures / 100
    assert (body["status"] == "critical") == (level == "critical")


def test_detailed_report_lists_every_check(client, connected, make_token):
    """The detailed report has every check with a status and a sentence, and the worst status overall."""
    body = client.get("/api/health/calcom/detailed", headers=bearer(make_token(connected))).get_json()
    checks = {check["name"]: check for check in body["checks"]}
    assert set(checks) == {"connectivity", "authentication", "sync_freshness", "booking_activity",
                           "webhook_failure_rate", "error_rate", "response_time", "unmatched_records"}
    assert all(check["status"] in ("ok", "warning", "critical") and check["message"] for check in checks.values())
    assert checks["connectivity"]["status"] == "ok" and checks["authentication"]["status"] == "ok"
    assert checks["booking_activity"]["status"] == "warning" and body["status"] == "warning"


def test_metrics_shape_and_hourly_buckets(client, practice, connected, make_token):
    """/metrics has the 24-hour summary, the figures per action and 24 hourly buckets, oldest first, each
    counting the calls of its hour (calls in the same hour at different seconds land in one bucket)."""
    now = utcnow()
    hour = now.replace(minute=0, second=0, microsecond=0)
    _metrics(practice, [
        ("bookings.list", True, hour, 100), ("bookings.list", False, hour + timedelta(seconds=1), 300),
        ("me", True, hour + timedelta(seconds=2), 200),
        ("me", True, hour - timedelta(hours=3) + timedelta(seconds=10), 50),
        ("me", False, hour - timedelta(hours=3) + timedelta(minutes=40), 150),
        ("me", True, now - timedelta(hours=30), 999),
    ])

    body = client.get("/api/health/calcom/metrics", headers=bearer(make_token(connected))).get_json()

    assert body["provider"] == "calcom" and body["window_hours"] == 24
    assert (body["calls"], body["failures"], body["error_rate"]) == (5, 2, 0.4)
    assert body["error_level"] == "critical" and body["mean_ms"] == 160.0
    assert body["actions"] == [
        {"action": "bookings.list", "calls": 2, "failures": 1, "mean_ms": 200.0, "records": 0},
        {"action": "check:me", "calls": 1, "failures": 0, "mean_ms": body["actions"][1]["mean_ms"], "records": 1},
        {"action": "me", "calls": 3, "failures": 1, "mean_ms": 133.3, "records": 0},
    ]
    hourly = body["hourly"]
    assert len(hourly) == 24 and hourly[-1]["start"] == hour.isoformat()
    assert hourly[0]["start"] == (hour - timedelta(hours=23)).isoformat()
    assert (hourly[-1]["calls"], hourly[-1]["failures"], hourly[-1]["mean_ms"]) == (3, 1, 200.0)
    assert (hourly[-4]["calls"], hourly[-4]["failures"], hourly[-4]["mean_ms"]) == (2, 1, 100.0)
    assert sum(bucket["calls"] for bucket in hourly) == 5


def test_metrics_hourly_buckets_in_the_service(app, practice):
    """The hourly series counts a busy hour completely (many calls at different seconds)."""
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    _metrics(practice, [("me", True, hour + timedelta(seconds=seconds)) for seconds in range(0, 50, 7)])
    buckets = integration_metrics.hourly(practice.id, "calcom")
    assert buckets[-1].calls == 8 and sum(bucket.calls for bucket in buckets) == 8


def test_check_probes_the_provider_and_answers_with_the_new_state(client, calcom, practice, connected,
                                                                  make_token):
    """POST /check calls the provider now (key and event types) and answers with the stored health; when the key
    is refused afterwards, the next check says so."""
    token = bearer(make_token(connected))

    body = client.post(CHECK_URL, headers=token).get_json()

    assert calcom.request_count() == 2
    assert calcom.request_count("/v2/me") == 1 and calcom.request_count("/v2/event-types") == 1
    assert body["state"] == "ok" and body["event_type_count"] == 4 and body["latency_ms"] is not None
    calcom.set_scenario("401")

    refused = client.post(CHECK_URL, headers=token).get_json()

    assert calcom.request_count() == 3
    assert refused["state"] == "auth_failed" and "refused the API key" in refused["reason"]
    assert refused["consecutive_failures"] == 1
    assert client.get("/api/health/calcom", headers=token).get_json() == refused
