"""The outbound proxy of the Integration Hub (app.integrations.proxy): only allowed reads with valid parameters, the
practice's stored key, answers cached so that many open tabs cost one provider call, and provider failures mapped
to gateway errors.

The cache is the app's: in memory, or Redis when CACHE_REDIS_URL is set. The CI's second run points the rate
limiter at Redis (RATELIMIT_STORAGE_URI); this module then uses the same Redis for the cache too, so the proxy is
tested against both stores."""

import os
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.integrations.models import IntegrationMetric
from app.integrations.proxy import ProxyError, fetch
from app.platform.extensions import cache
from app.platform.extensions import db as _db
from config import TestConfig
from tests.fakes.calcom import CalcomFake
from tests.fakes.calcom import demo_seed as calcom_seed
from tests.fakes.retell import RetellFake
from tests.fakes.retell import demo_seed as retell_seed
from tests.helpers import at_once
from tests.hub_support import connect, file_database, hub_overrides

EVENT_TYPES = "/v2/event-types"


def _cache_settings():
    """The cache settings of this run: Redis when CACHE_REDIS_URL is set, or when the rate limiter uses Redis
    (then the same server), else the app's default memory cache; each test gets its own key prefix."""
    settings = {"CACHE_KEY_PREFIX": f"praxis-hub-test-{uuid.uuid4().hex}:"}
    limiter_storage = os.environ.get("RATELIMIT_STORAGE_URI", "")
    if not TestConfig.CACHE_REDIS_URL and limiter_storage.startswith("redis://"):
        settings.update(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=limiter_storage)
    return settings


@pytest.fixture(scope="module")
def calcom_server():
    """One Cal.com fake with the demo practice's event types (one of four hidden)."""
    with CalcomFake(slow_seconds=2.0, **calcom_seed()) as server:
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
def retell(retell_server):
    """The Retell fake answering normally, with an empty request log."""
    retell_server.reset()
    return retell_server


@pytest.fixture
def app_overrides(calcom_server, retell_server, tmp_path, request):
    """The hub talks to the fakes and uses this run's cache; ``{"file_db": True}`` by indirect parametrization
    gives threads their own SQLite connections."""
    extra = dict(getattr(request, "param", {}))
    if extra.pop("file_db", False):
        extra.update(file_database(tmp_path))
    return hub_overrides(calcom_server, retell_server, **_cache_settings(), **extra)


@pytest.fixture(autouse=True)
def english(english_messages):
    """Messages are asserted in their English source form; the cache is emptied of this test's keys after."""
    yield
    cache.clear()


@pytest.fixture
def admin(make_user):
    """The practice's admin."""
    return make_user(role="admin")


@pytest.fixture
def connected(calcom, retell, admin):
    """Cal.com and Retell connected for the practice; the fakes' request logs start empty afterwards."""
    connect(admin, "calcom")
    connect(admin, "retell")
    calcom.reset()
    retell.reset()
    return admin


def _status(practice, provider, operation, query=None):
    """The HTTP status the proxy would answer with (200 when it answers)."""
    try:
        fetch(practice.id, provider, operation, query or {})
    except ProxyError as error:
        return error.status
    return 200


def test_only_allowed_operations_of_known_providers_are_proxied(app, calcom, retell, practice, connected):
    """An operation the allow-list does not name, or a provider the hub does not know, is 404 without any call;
    the proxy is never a pass-through to arbitrary provider paths."""
    for provider, operation in [("calcom", "bookings"), ("calcom", "me"), ("calcom", "../v2/me"),
                                ("retell", "list-calls"), ("stripe", "event-types"), ("", "agents")]:
        assert _status(practice, provider, operation) == 404, (provider, operation)
    assert calcom.request_count() == 0 and retell.request_count() == 0


@pytest.mark.parametrize(("query", "message"), [
    ({"event_type_id": "101", "start": "2030-01-07"}, "missing parameter: end"),
    ({}, "missing parameter: event_type_id"),
    ({"event_type_id": "abc", "start": "2030-01-07", "end": "2030-01-08"}, "event_type_id:"),
    ({"event_type_id": "-3", "start": "2030-01-07", "end": "2030-01-08"}, "expected a positive integer"),
    ({"event_type_id": "101", "start": "2030-13-07", "end": "2030-01-08"}, "start: expected a date"),
    ({"event_type_id": "101", "start": "2030-01-07", "end": "2030-01-08", "time_zone": "Mars/Olympus"},
     "time_zone: expected an IANA time zone"),
    ({"event_type_id": "101", "start": "2030-01-07", "end": "2030-01-08", "url": "http://evil.example"},
     "unknown parameter: url"),
    ({"event_type_id": "101", "start": "2030-01-08", "end": "2030-01-07"}, "end: must not be before start"),
    ({"event_type_id": "101", "start": "2030-01-01", "end": "2030-03-01"}, "end: at most 31 days"),
])
def test_bad_parameters_are_400_without_a_call(app, calcom, practice, connected, query, message):
    """A missing, malformed or unknown parameter is refused with 400 and a message naming it, before any call."""
    with pytest.raises(ProxyError) as refused:
        fetch(practice.id, "calcom", "slots", query)
    assert refused.value.status == 400 and message in refused.value.message
    assert calcom.request_count() == 0


def test_an_unconnected_provider_is_409(app, calcom, practice):
    """Before a key is saved, the proxy answers 409 with a message saying so, and calls nobody."""
    with pytest.raises(ProxyError) as refused:
        fetch(practice.id, "calcom", "event-types", {})
    assert refused.value.status == 409 and "not connected yet" in refused.value.message
    assert calcom.request_count() == 0


def test_a_second_fetch_is_answered_from_the_cache(app, calcom, retell, practice, connected):
    """The first fetch calls the provider with the stored key, the second is answered from the cache without a
    call; each provider's answers are cached separately."""
    first = fetch(practice.id, "calcom", "event-types", {})
    second = fetch(practice.id, "calcom", "event-types", {})

    assert not first.cached and second.cached and second.data == first.data
    assert [item["title"] for item in first.data] == ["Erstgespräch", "Physiotherapie", "Manuelle Therapie"]
    assert calcom.request_count(EVENT_TYPES) == 1
    agents = fetch(practice.id, "retell", "agents", {})
    assert not agents.cached and {agent["agent_name"] for agent in agents.data} == {"Rezeption Praxis",
                                                                                      "Terminerinnerung"}
    assert fetch(practice.id, "retell", "agents", {}).cached and retell.request_count() == 1


def test_different_parameters_are_cached_separately(app, calcom, practice, connected):
    """Slots of two different days are two answers; asking for the first again is cached."""
    monday = date.today() + timedelta(days=7 - date.today().weekday())
    week = {"event_type_id": "101", "start": monday.isoformat(), "end": (monday + timedelta(days=4)).isoformat(),
            "time_zone": "Europe/Berlin"}
    day = {**week, "end": monday.isoformat()}

    assert not fetch(practice.id, "calcom", "slots", week).cached
    assert not fetch(practice.id, "calcom", "slots", day).cached
    again = fetch(practice.id, "calcom", "slots", dict(reversed(list(week.items()))))
    assert again.cached and monday.isoformat() in again.data
    assert calcom.request_count("/v2/slots") == 2


def test_proxied_calls_are_measured(app, calcom, practice, connected):
    """A call that reaches the provider leaves a metric row; a cached answer none."""
    fetch(practice.id, "calcom", "event-types", {})
    fetch(practice.id, "calcom", "event-types", {})
    _db.session.expire_all()
    actions = _db.session.scalars(select(IntegrationMetric.action).where(
        IntegrationMetric.action == "event_types.list")).all()
    assert actions == ["event_types.list"]


@pytest.mark.parametrize("app_overrides", [{"file_db": True}], indirect=True)
def test_a_hundred_simultaneous_fetches_cost_one_call(app, calcom, practice, connected):
    """A hundred requests for the same answer at the same moment (say, a hundred open tabs refreshing) make one
    provider call; every request gets the answer."""
    practice_id = practice.id
    answers = at_once(app, 100, lambda: fetch(practice_id, "calcom", "event-types", {}).data)

    assert len(answers) == 100 and all(answer == answers[0] for answer in answers) and len(answers[0]) == 3
    assert calcom.request_count(EVENT_TYPES) == 1


def test_a_fetch_that_loses_the_race_uses_the_winners_answer(app, calcom, practice, connected, monkeypatch):
    """A request that found nothing cached, but whose turn comes only after another request fetched and stored the
    answer, uses that answer instead of calling the provider a second time."""
    real_add = cache.add
    other_requests = []

    def add_after_another_request(key, value, timeout=None):
        if not other_requests:  # just before the first request takes the lock, another one does all its work
            other_requests.append(None)
            other_requests[0] = fetch(practice.id, "calcom", "event-types", {})
        return real_add(key, value, timeout=timeout)

    monkeypatch.setattr(cache, "add", add_after_another_request)

    late = fetch(practice.id, "calcom", "event-types", {})

    assert not other_requests[0].cached and late.cached and late.data == other_requests[0].data
    assert calcom.request_count(EVENT_TYPES) == 1


def test_saving_the_settings_again_fetches_afresh(app, calcom, practice, connected):
    """After the integration's settings are saved (a new key, another default), the proxy does not serve an
    answer fetched under the old settings."""
    fetch(practice.id, "calcom", "event-types", {})
    connect(connected, "calcom", api_key="", team_slug="praxis-am-see")

    after = fetch(practice.id, "calcom", "event-types", {})

    assert not after.cached and calcom.request_count(EVENT_TYPES) == 2
    assert fetch(practice.id, "calcom", "event-types", {}).cached


@pytest.mark.parametrize(("scenario", "status", "message"), [
    ("401", 502, "Cal.com refused the stored API key"),
    ("500", 503, "Cal.com cannot be reached"),
    ("down", 503, "Cal.com cannot be reached"),
    ("html", 502, "Cal.com answered with an error"),
    ("slow", 504, "did not answer in time"),
])
def test_provider_failures_are_gateway_errors_and_not_cached(app, calcom, practice, connected, scenario, status,
                                                             message):
    """A refused key is 502, an unreachable provider 503, one that does not answer in time 504; the failure is
    not cached, so the next fetch after the provider recovers gets the answer."""
    calcom.set_scenario(scenario, times=1)

    with pytest.raises(ProxyError) as failed:
        fetch(practice.id, "calcom", "event-types", {})

    assert failed.value.status == status and message in failed.value.message
    recovered = fetch(practice.id, "calcom", "event-types", {})
    assert not recovered.cached and len(recovered.data) == 3
    assert calcom.request_count(EVENT_TYPES) == 2
