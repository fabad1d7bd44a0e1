"""A web request never waits minutes for a provider (issue 15, item 2): inside a request the provider calls share
PROVIDER_REQUEST_BUDGET_SECONDS with one try each and answer "Anbieter antwortet nicht" at once, while the worker
keeps its retries with backoff. The client base's deadline is checked against a scripted session and the Cal.com
fake; the hub's paths (the proxy, saving the settings) against the fake stalled far past the budget. No assertion
is on wall time: the tests count the attempts the fake saw and read the answers."""

import json
import time
from datetime import date, timedelta

import pytest
import requests
from flask import g
from sqlalchemy import select

from app.integrations.clients import ProviderCall
from app.integrations.models import IntegrationMetric
from app.integrations.proxy import _cache_key
from app.platform.extensions import cache, db
from app.providers.base import ProviderClient, ProviderNotAnswering, ProviderUnreachable
from app.providers.calcom.client import CalcomClient
from tests.fakes.calcom import CalcomFake
from tests.fakes.calcom import demo_seed as calcom_seed
from tests.helpers import htmx
from tests.hub_support import CALCOM_KEY, config_of, connect, health_of

STALL_SECONDS = 30
# The budget of these tests (the default is 5 s); the worker's timeout and retries stay those of production.
BUDGET = 1.0


class Answers:
    """Stands in for requests.Session: answers every request with ``status`` and records the keyword arguments."""

    def __init__(self, status=500):
        self.status = status
        self.calls = []

    def request(self, method, url, **kwargs):
        """Record the call; answer with an empty JSON body of ``status``."""
        self.calls.append(kwargs)
        response = requests.Response()
        response.status_code = self.status
        response._content = b"{}"
        response.headers["Content-Type"] = "application/json"
        return response


class Example(ProviderClient):
    """A provider for the base's own behaviour."""

    provider = "example"
    label = "Example"


def _clock(monkeypatch, start=1000.0):
    """Freeze ``time.monotonic`` as the base sees it; returns a list whose first item is the current time."""
    now = [start]
    monkeypatch.setattr("app.providers.base.time.monotonic", lambda: now[0])
    return now


def test_a_deadline_caps_each_attempts_timeouts(monkeypatch):
    """With 2.5 s left of the budget, the connect and read timeouts sent are at most 2.5 s."""
    now = _clock(monkeypatch)
    session = Answers(200)
    client = Example("https://api.example.test", "key", timeout=(3.05, 10.0), session=session, deadline=now[0] + 2.5)

    client.request("GET", "/things", action="things.list")

    assert session.calls[0]["timeout"] == (2.5, 2.5)


def test_no_attempt_starts_after_the_deadline(monkeypatch):
    """When the budget is used up, nothing is sent: ProviderNotAnswering (not ambiguous: nothing went out), and
    no metric, since there was no attempt."""
    now = _clock(monkeypatch)
    session, metrics = Answers(200), []
    client = Example("https://api.example.test", "key", session=session, on_call=metrics.append,
                     deadline=now[0] + 0.05)

    with pytest.raises(ProviderNotAnswering) as error:
        client.request("GET", "/things", action="things.list")

    assert session.calls == [] and metrics == [] and error.value.ambiguous is False


def test_no_retry_whose_wait_would_end_past_the_deadline(monkeypatch):
    """A 5xx with retries left is not retried when the backoff would outlast the budget: the 5xx is the answer."""
    now = _clock(monkeypatch)
    session, sleeps = Answers(503), []
    client = Example("https://api.example.test", "key", session=session, max_retries=3, backoff_seconds=10,
                     sleep=sleeps.append, deadline=now[0] + 2)

    with pytest.raises(ProviderUnreachable) as error:
        client.request("GET", "/things", action="things.list")

    assert len(session.calls) == 1 and sleeps == [] and error.value.status_code == 503


def test_a_stalled_provider_is_not_answering_after_one_try(app):
    """Against the stalled fake, a client with a budget makes one attempt (its retries are not used) and reports
    that the provider is not answering (in German, the default); the read may have reached the provider, so it is
    ambiguous."""
    with CalcomFake(slow_seconds=STALL_SECONDS) as fake:
        fake.set_scenario("slow")
        metrics = []
        client = CalcomClient(fake.url, CALCOM_KEY, timeout=(3.05, 10.0), max_retries=3, on_call=metrics.append,
                              deadline=time.monotonic() + 0.5)
        with pytest.raises(ProviderNotAnswering) as error:
            client.me()
        assert fake.request_count("/v2/me") == 1
    assert error.value.ambiguous is True and error.value.message.startswith("Anbieter antwortet nicht")
    assert [metric.error for metric in metrics] == ["ProviderNotAnswering"]


# The hub's paths.

@pytest.fixture
def calcom():
    """A Cal.com fake with the demo data (this module's alone: its stall must not outlive a test)."""
    with CalcomFake(valid_keys={CALCOM_KEY}, slow_seconds=STALL_SECONDS, **calcom_seed()) as fake:
        yield fake


@pytest.fixture
def app_overrides(calcom, retell_server):
    """The production timeout (10 s) and retries (3) of the worker, and a budget of BUDGET for requests."""
    return {"CALCOM_API_URL": calcom.url, "RETELL_API_URL": retell_server.url, "PROVIDER_TIMEOUT_SECONDS": 10,
            "PROVIDER_MAX_RETRIES": 3, "PROVIDER_REQUEST_BUDGET_SECONDS": BUDGET}


@pytest.fixture
def admin(make_user, calcom):
    """The practice's admin, with Cal.com connected (by the worker's rules: outside a request)."""
    user = make_user(role="admin")
    connect(user, "calcom")
    calcom.requests.clear()
    return user


def test_a_request_client_gets_one_try_and_shares_the_budget(app, admin, practice):
    """Inside a request, every client gets no retries and the same deadline, BUDGET seconds after the first;
    outside one (the worker), the configured retries and no deadline."""
    with app.test_request_context():
        first = ProviderCall(practice.id, "calcom", CALCOM_KEY).client
        second = ProviderCall(practice.id, "calcom", CALCOM_KEY).client
        assert first.max_retries == second.max_retries == 0
        assert first.deadline == second.deadline == g.provider_deadline
    worker = ProviderCall(practice.id, "calcom", CALCOM_KEY).client
    assert worker.max_retries == 3 and worker.deadline is None


def _slots_query():
    """The query of a proxied slots read for next Monday."""
    monday = date.today() + timedelta(days=7 - date.today().weekday())
    return {"event_type_id": "101", "start": monday.isoformat(), "end": monday.isoformat()}


def test_a_proxied_read_of_a_stalled_provider_answers_504_after_one_try(client, auth, admin, calcom, practice):
    """The issue's figure: Cal.com stalls, an assistant's page reads slots through the proxy. The answer is 504
    "Anbieter antwortet nicht" (German, the default) after ONE attempt, not four tries of 10 s; that attempt is
    measured as a failed call."""
    auth.login(role="assistant")
    calcom.set_scenario("slow")

    response = client.get("/api/proxy/calcom/slots", query_string=_slots_query())

    assert response.status_code == 504
    assert response.json["error"]["message"].startswith("Anbieter antwortet nicht: Cal.com hat nicht rechtzeitig")
    assert calcom.request_count("/v2/slots") == 1
    db.session.expire_all()
    assert db.session.scalars(select(IntegrationMetric.error).where(
        IntegrationMetric.action == "slots.get")).all() == ["ProviderNotAnswering"]


def test_a_waiting_proxy_read_gives_up_with_the_budget(client, auth, admin, calcom, practice):
    """A read that finds the same answer being fetched by another request waits for it only as long as its own
    budget lasts, and then answers 504 without calling the provider itself."""
    auth.login(role="assistant")
    query = _slots_query()
    params = {"event_type_id": 101, "start": date.fromisoformat(query["start"]),
              "end": date.fromisoformat(query["end"])}
    cache.add(_cache_key(practice.id, "calcom", "slots", params, config_of(practice, "calcom")) + ":lock", 1,
              timeout=60)

    response = client.get("/api/proxy/calcom/slots", query_string=query)

    assert response.status_code == 504 and "Anbieter antwortet nicht" in response.json["error"]["message"]
    assert calcom.request_count() == 0


def test_saving_with_a_stalled_provider_saves_at_once_with_a_warning(client, auth, admin, calcom, practice):
    """Saving a new key while Cal.com stalls checks it once within the budget, then saves the settings with the
    warning that Cal.com is not answering, and the card shows it unreachable."""
    auth.login(user=admin)
    calcom.set_scenario("slow")

    response = client.post("/integrations/calcom", data={"api_key": CALCOM_KEY, "sync_interval_minutes": "30"},
                           headers=htmx("hub-settings-calcom"))

    assert response.status_code == 200
    assert "Anbieter antwortet nicht" in json.loads(response.headers["HX-Trigger"])["toast"]["text"]
    assert calcom.request_count("/v2/me") == 1
    assert config_of(practice, "calcom").sync_interval_minutes == 30
    assert health_of(practice, "calcom").state == "unreachable"
