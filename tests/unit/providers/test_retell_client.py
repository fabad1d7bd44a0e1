"""The Retell REST client (app.providers.retell.client) against the Retell fake (tests.fakes.retell), a real HTTP
server on 127.0.0.1: both generations of the list endpoints and their pagination, calls mapped exactly as the webhook
maps them, every failure scenario mapped to its ProviderError, and the API key never in a message. A few strict
shape checks use canned answers instead, since the fake only speaks the documented shapes. The last test runs the
fakes' command-line runner (``python -m tests.fakes``) as the sandbox demo does."""

import json
import os
import select
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from app.providers.base import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderTimeout,
    ProviderUnreachable,
)
from app.providers.retell import webhooks
from app.providers.retell.client import Agent, RetellClient
from tests.fakes.retell import DEFAULT_API_KEY, SANDBOX_API_KEY, SCENARIOS, RetellFake, demo_seed

ROOT = Path(__file__).parents[3]
CONTRACTS = ROOT / "tests" / "fixtures" / "contracts" / "retell"
WRONG_KEY = "key_test_wrong_0123456789"

# The agent of shared/contracts/retell/rest_list_agents_legacy_response.synthetic.json (a full AgentResponse).
CONTRACT_AGENT = {
    "agent_id": "agent_synthetic_00000000000001", "version": 3, "agent_name": "Praxis Empfang (test)",
    "voice_id": "11labs-Adrian", "last_modification_timestamp": 1735689000000, "is_published": True,
    "response_engine": {"type": "retell-llm", "llm_id": "llm_synthetic_000000000000001", "version": 3},
    "language": "de-DE", "webhook_url": None,
}
CONTRACT_AGENT_MODIFIED = datetime(2024, 12, 31, 23, 50, tzinfo=UTC)


def utc(*args):
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)


def ms(moment):
    """Unix milliseconds of an aware datetime."""
    return int(moment.timestamp() * 1000)


def contract_call(event):
    """The call object of the synthetic webhook fixture for ``event`` (the same object list-calls returns)."""
    return json.loads((CONTRACTS / f"webhook_{event}.synthetic.json").read_text(encoding="utf-8"))["call"]


def agent(number, version=1, **fields):
    """A full agent object with a made-up id."""
    return {**CONTRACT_AGENT, "agent_id": f"agent_{number:03d}", "version": version,
            "agent_name": f"Agent {number}", **fields}


def call(number, started, **fields):
    """A finished inbound call with a made-up id that started at ``started``."""
    return {"call_type": "phone_call", "call_id": f"call_{number:03d}", "agent_id": "agent_001",
            "call_status": "ended", "direction": "inbound", "from_number": "+49305550123",
            "to_number": "+49305550100", "start_timestamp": ms(started),
            "end_timestamp": ms(started + timedelta(seconds=30)), "duration_ms": 30000,
            "disconnection_reason": "user_hangup", **fields}


@pytest.fixture
def fake():
    """A started Retell fake with the contract's agent and no calls; stopped after the test."""
    with RetellFake(agents=[CONTRACT_AGENT], slow_seconds=2.0) as server:
        yield server


@pytest.fixture
def sleeps():
    """The waits the client asked for (its sleep is replaced, so tests never wait)."""
    return []


@pytest.fixture
def make_client(fake, sleeps):
    """Factory: a client of ``fake`` with a recording no-op sleep and no retries unless asked; sessions closed
    after. The read timeout is generous (a loaded CI machine must not turn a normal answer into a timeout); the
    "slow" tests shorten it."""
    clients = []

    def make(api_key=DEFAULT_API_KEY, **options):
        options.setdefault("timeout", (2.0, 5.0))
        options.setdefault("max_retries", 0)
        options.setdefault("sleep", sleeps.append)
        client = RetellClient(fake.url, api_key, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.session.close()


@pytest.fixture
def client(make_client):
    """A client with the valid key and no retries."""
    return make_client()


def test_list_agents_current_shape(fake, client):
    """``POST /v2/list-agents`` with the bearer key; its rows carry no version or voice, only the name and the
    modification time."""
    assert client.list_agents() == [Agent(agent_id="agent_synthetic_00000000000001",
                                          agent_name="Praxis Empfang (test)", last_modified=CONTRACT_AGENT_MODIFIED)]
    (request,) = fake.requests
    assert (request.method, request.path, request.query, request.json) == ("POST", "/v2/list-agents",
                                                                            {"limit": "1000"}, {})
    assert request.headers["authorization"] == f"Bearer {DEFAULT_API_KEY}"


def test_list_agents_current_follows_pagination(fake, make_client):
    """``has_more``/``pagination_key`` are followed until the last page; every agent comes once, in order."""
    fake.agents = [agent(number) for number in range(1, 6)]
    client = make_client(page_size=2)
    assert [row.agent_id for row in client.list_agents()] == [f"agent_{number:03d}" for number in range(1, 6)]
    assert [request.query for request in fake.requests] == [
        {"limit": "2"}, {"limit": "2", "pagination_key": "agent_002"}, {"limit": "2", "pagination_key": "agent_004"}]


def test_list_agents_falls_back_to_the_legacy_endpoint(fake, client):
    """A server without ``/v2/list-agents`` (404) is asked ``GET /list-agents``, whose bare array has every
    version: the newest of each agent is kept. The fallback is remembered: the next listing goes straight there."""
    fake.legacy = True
    fake.agents = [agent(1, version=1, voice_id="voice-old"), agent(2), agent(1, version=2, voice_id="voice-new")]
    expected = [Agent("agent_001", "Agent 1", 2, "voice-new", CONTRACT_AGENT_MODIFIED),
                Agent("agent_002", "Agent 2", 1, "11labs-Adrian", CONTRACT_AGENT_MODIFIED)]
    assert client.list_agents() == expected
    assert client.list_agents() == expected
    assert [(request.method, request.path) for request in fake.requests] == [
        ("POST", "/v2/list-agents"), ("GET", "/list-agents"), ("GET", "/list-agents")]


def test_list_agents_legacy_follows_full_pages(fake, make_client):
    """A full legacy page may have more behind it: the next one starts after the last row's id and version."""
    fake.legacy = True
    fake.agents = [agent(1, version=1), agent(1, version=2), agent(2), agent(3)]
    client = make_client(page_size=2)
    assert [(row.agent_id, row.version) for row in client.list_agents()] == [
        ("agent_001", 2), ("agent_002", 1), ("agent_003", 1)]
    assert [request.query for request in fake.requests if request.path == "/list-agents"] == [
        {"limit": "2"},
        {"limit": "2", "pagination_key": "agent_001", "pagination_key_version": "2"},
        {"limit": "2", "pagination_key": "agent_003", "pagination_key_version": "1"},
    ]


def test_list_agents_does_not_fall_back_on_other_errors(fake, client):
    """Only a missing endpoint means "old server": a 409 is raised as it is, without a legacy request."""
    fake.set_scenario("409")
    with pytest.raises(ProviderRequestError) as raised:
        client.list_agents()
    assert raised.value.status_code == 409
    assert fake.request_count("/list-agents") == 0


def test_get_agent(fake, client):
    """The newest version by default (with voice and version), or the version asked for."""
    fake.agents = [agent(1, version=1), agent(1, version=4, voice_id="11labs-Anna")]
    assert client.get_agent("agent_001") == Agent("agent_001", "Agent 1", 4, "11labs-Anna", CONTRACT_AGENT_MODIFIED)
    assert client.get_agent("agent_001", version=1).version == 1
    assert [(request.method, request.path, request.query) for request in fake.requests] == [
        ("GET", "/get-agent/agent_001", {}), ("GET", "/get-agent/agent_001", {"version": "1"})]


def test_get_agent_unknown_is_not_found(fake, client):
    """Retell's 422 "Cannot find requested asset" for an unknown id is a ProviderNotFound, like a 404."""
    with pytest.raises(ProviderNotFound) as raised:
        client.get_agent("agent/../unknown")
    assert raised.value.status_code == 422
    assert "Cannot find requested asset" in raised.value.message
    assert fake.requests[0].path == "/get-agent/agent/../unknown"  # sent quoted, as one path segment


@pytest.mark.parametrize(("event", "legacy"), [(event, legacy) for event in webhooks.EVENT_STAGE
                                               for legacy in (False, True)])
def test_list_calls_maps_like_the_webhook(fake, client, event, legacy):
    """A listed call becomes exactly the CallRecord its webhook would give, stage included (ongoing 1, ended 2,
    analysed 3), from the current endpoint's object and from the legacy bare array alike."""
    fake.legacy = legacy
    fake.calls = [contract_call(event)]
    (expected,) = webhooks.parse({"event": event, "call": contract_call(event)}, {}).records
    assert client.list_calls() == [expected]


def test_list_calls_current_filters_and_paginates(fake, make_client):
    """``POST /v3/list-calls`` with a typed ``start_timestamp >= since`` filter, newest first, following
    ``pagination_key`` until the last page."""
    now = utc(2026, 3, 2, 12)
    fake.calls = [call(number, now - timedelta(hours=number)) for number in range(1, 7)]
    client = make_client(page_size=2)
    records = client.list_calls(since=now - timedelta(hours=5))
    assert [record.external_id for record in records] == ["call_001", "call_002", "call_003", "call_004", "call_005"]
    assert {record.stage for record in records} == {2}
    bodies = [request.json for request in fake.requests]
    assert all(request.path == "/v3/list-calls" for request in fake.requests)
    assert bodies[0] == {"sort_order": "descending", "limit": 2, "filter_criteria": {
        "start_timestamp": {"op": "ge", "type": "number", "value": ms(now - timedelta(hours=5))}}}
    assert [body.get("pagination_key") for body in bodies] == [None, "call_002", "call_004"]


def test_list_calls_legacy_filters_and_paginates(fake, make_client):
    """Without ``/v3/list-calls`` the client asks ``POST /v2/list-calls`` with a ``lower_threshold`` filter and
    pages by the last call id of each full page."""
    fake.legacy = True
    now = utc(2026, 3, 2, 12)
    fake.calls = [call(number, now - timedelta(hours=number)) for number in range(1, 6)]
    client = make_client(page_size=2)
    since = now - timedelta(hours=4, minutes=30)
    assert [record.external_id for record in client.list_calls(since=since)] == [
        "call_001", "call_002", "call_003", "call_004"]
    legacy = [request.json for request in fake.requests if request.path == "/v2/list-calls"]
    assert [request.path for request in fake.requests][0] == "/v3/list-calls"
    assert legacy[0]["filter_criteria"] == {"start_timestamp": {"lower_threshold": ms(since)}}
    assert [body.get("pagination_key") for body in legacy] == [None, "call_002", "call_004"]


def test_list_calls_limit(fake, make_client):
    """``limit`` caps the calls read; the last page asks only for what is still missing."""
    now = utc(2026, 3, 2, 12)
    fake.calls = [call(number, now - timedelta(hours=number)) for number in range(1, 7)]
    client = make_client(page_size=2)
    assert len(client.list_calls(limit=3)) == 3
    assert [request.json["limit"] for request in fake.requests] == [2, 1]


def test_list_calls_null_analysis_counts_as_absent(fake, client):
    """``call_analysis: null`` (the SDK model's default) is an ended call without analysis, not an error."""
    fake.calls = [call(1, utc(2026, 3, 2), call_analysis=None)]
    (record,) = client.list_calls()
    assert (record.stage, record.summary) == (2, None)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duration_ms": "62"}, "items[0].duration_ms: expected a non-negative integer"),
        ({"call_id": None}, "items[0].call_id: expected a non-empty string"),
        ({"call_analysis": {"call_successful": "yes"}}, "items[0].call_analysis.call_successful"),
    ],
)
def test_list_calls_ill_typed_call_is_bad_response(fake, client, changes, message):
    """An ill-typed call is a ProviderBadResponse naming the item and the field, as the webhook parser names it."""
    fake.calls = [call(1, utc(2026, 3, 2), **changes)]
    with pytest.raises(ProviderBadResponse, match=message.replace("[", r"\[").replace("]", r"\]")):
        client.list_calls()


OPERATIONS = {
    "list_agents": lambda client: client.list_agents(),
    "get_agent": lambda client: client.get_agent("agent_synthetic_00000000000001"),
    "list_calls": lambda client: client.list_calls(),
}
SCENARIO_ERRORS = {
    "401": (ProviderAuthError, 401),
    "409": (ProviderRequestError, 409),
    "429": (ProviderRateLimited, 429),
    "500": (ProviderUnreachable, 500),
    "slow": (ProviderTimeout, None),
    "html": (ProviderBadResponse, 200),
    "bad_shape": (ProviderBadResponse, 200),
    "down": (ProviderUnreachable, None),
}


def test_every_failure_scenario_is_covered():
    """The table below names every scenario of the fake except "ok"."""
    assert set(SCENARIO_ERRORS) == set(SCENARIOS) - {"ok"}


def assert_no_key(error, key):
    """Neither the message, the provider's text nor the representation of ``error`` holds ``key``."""
    texts = (str(error), repr(error), error.message, getattr(error, "provider_message", ""))
    assert not any(key in text for text in texts)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("scenario", SCENARIO_ERRORS)
def test_scenarios_map_to_errors(fake, make_client, scenario, operation):
    """Each failure scenario becomes its ProviderError (after the retries the method allows), with the status
    when there was an answer, and the key nowhere in the error."""
    fake.slow_seconds = 1.0
    fake.set_scenario(scenario)
    client = make_client(max_retries=1, timeout=(2.0, 0.25 if scenario == "slow" else 5.0))
    error_class, status = SCENARIO_ERRORS[scenario]
    with pytest.raises(error_class) as raised:
        OPERATIONS[operation](client)
    assert type(raised.value) is error_class
    assert raised.value.status_code == status
    assert raised.value.provider == "retell"
    assert_no_key(raised.value, DEFAULT_API_KEY)


def test_wrong_key_is_auth_error_without_the_key(fake, make_client):
    """A key the server does not know is a ProviderAuthError that does not repeat the key."""
    with pytest.raises(ProviderAuthError) as raised:
        make_client(api_key=WRONG_KEY).list_agents()
    assert_no_key(raised.value, WRONG_KEY)
    assert fake.requests[0].headers["authorization"] == f"Bearer {WRONG_KEY}"


@pytest.mark.parametrize(("scenario", "path"), [("500", "/v2/list-agents"), ("down", "/v2/list-agents"),
                                                ("429", "/v2/list-agents"), ("500", "/get-agent/")])
def test_transient_failures_are_retried(fake, make_client, sleeps, scenario, path):
    """A 5xx, a dropped connection or a 429 is retried (list-agents is a read sent as POST); the call succeeds
    once the fake recovers. A 429 waits the ``Retry-After`` the fake sends."""
    fake.set_scenario(scenario, times=2)
    client = make_client(max_retries=3, backoff_seconds=0.01)
    if path == "/get-agent/":
        assert client.get_agent("agent_synthetic_00000000000001").version == 3
    else:
        assert len(client.list_agents()) == 1
    assert fake.request_count(path) == 3
    assert len(sleeps) == 2
    if scenario == "429":
        assert sleeps == [1.0, 1.0]


def test_metrics_count_the_listed_records(fake, make_client):
    """Every attempt reports a metric; a list's metric counts its rows."""
    metrics = []
    fake.calls = [call(1, utc(2026, 3, 2)), call(2, utc(2026, 3, 1))]
    client = make_client(on_call=metrics.append)
    client.list_agents()
    client.list_calls()
    assert [(metric.action, metric.success, metric.records) for metric in metrics] == [
        ("agents.list", True, 1), ("calls.list", True, 2)]


class CannedSession:
    """A stand-in for ``requests.Session`` that answers each request with the next canned JSON body."""

    def __init__(self, *bodies):
        """``bodies``: the JSON answers, in order (each a 200 unless given as (status, body))."""
        self.answers = list(bodies)
        self.sent = []

    def request(self, method, url, **kwargs):
        """Record the request and return the next answer."""
        self.sent.append((method, url, kwargs))
        status, body = self.answers.pop(0) if isinstance(self.answers[0], tuple) else (200, self.answers.pop(0))
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        return response


def canned_client(*bodies):
    """A client whose session answers with ``bodies``."""
    return RetellClient("https://api.retellai.example", DEFAULT_API_KEY, session=CannedSession(*bodies),
                        timeout=(1.0, 2.0), max_retries=0, sleep=lambda seconds: None)


@pytest.mark.parametrize(
    ("bodies", "message"),
    [
        ([42], 'expected a JSON array or an object with an "items" array'),
        ([{"items": {"agent_id": "a"}}], 'expected a JSON array or an object with an "items" array'),
        ([{"items": [], "has_more": "no"}], "has_more: expected true or false"),
        ([{"items": [], "has_more": True}], "pagination_key: expected a string when has_more is true"),
        ([{"items": [{"agent_id": "a"}], "has_more": True, "pagination_key": "a"}] * 2,
         "expected a new pagination_key on each page"),
        ([["agent"]], "items[0]: expected an object"),
        ([[{"agent_id": ""}]], "items[0].agent_id: expected a non-empty string"),
        ([[{"agent_id": "a", "agent_name": 7}]], "items[0].agent_name: expected a string or null"),
        ([[{"agent_id": "a", "version": "3"}]], "items[0].version: expected a non-negative integer or null"),
        ([[{"agent_id": "a", "user_modified_timestamp": True}]], "items[0].user_modified_timestamp"),
    ],
)
def test_unexpected_list_shapes_are_bad_responses(bodies, message):
    """A 2xx answer that is not a documented shape is a ProviderBadResponse saying what was expected."""
    with pytest.raises(ProviderBadResponse) as raised:
        canned_client(*bodies).list_agents()
    assert message in raised.value.message
    assert raised.value.message.startswith("Retell.ai answered list agents with an unexpected shape")


def test_get_agent_must_be_an_object():
    """get-agent answering an array is a ProviderBadResponse."""
    with pytest.raises(ProviderBadResponse, match="expected a JSON object"):
        canned_client([CONTRACT_AGENT]).get_agent("agent_synthetic_00000000000001")


def test_provider_text_is_redacted_and_timeout_passed():
    """A provider message that echoes the key reaches the error with the key replaced; every request carries the
    client's (connect, read) timeout and never follows redirects."""
    client = canned_client((409, {"status": "error", "message": f"key {DEFAULT_API_KEY} is busy"}))
    with pytest.raises(ProviderRequestError) as raised:
        client.list_agents()
    assert_no_key(raised.value, DEFAULT_API_KEY)
    assert "[API key]" in raised.value.provider_message
    ((method, url, options),) = client.session.sent
    assert (method, url) == ("POST", "https://api.retellai.example/v2/list-agents")
    assert options["timeout"] == (1.0, 2.0)
    assert options["allow_redirects"] is False


def test_list_calls_arguments_are_checked(client):
    """A naive ``since`` has no instant and a limit below 1 reads nothing: both are programming errors."""
    with pytest.raises(ValueError, match="aware"):
        client.list_calls(since=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="limit"):
        client.list_calls(limit=0)


def test_control_endpoints_over_http(fake):
    """Another process steers the fake over HTTP: switch a scenario for a number of requests, read the log,
    reset; an unknown scenario is refused."""
    answer = requests.post(f"{fake.url}/__fake/scenario", json={"scenario": "500", "times": 1}, timeout=5)
    assert answer.json() == {"scenario": "500", "times": 1}
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    assert requests.post(f"{fake.url}/v2/list-agents", headers=headers, timeout=5).status_code == 500
    assert requests.post(f"{fake.url}/v2/list-agents", headers=headers, timeout=5).status_code == 200
    log = requests.get(f"{fake.url}/__fake/requests", timeout=5).json()
    assert [(entry["method"], entry["path"]) for entry in log] == [("POST", "/v2/list-agents")] * 2
    assert requests.post(f"{fake.url}/__fake/scenario", json={"scenario": "nope"}, timeout=5).status_code == 400
    requests.post(f"{fake.url}/__fake/scenario", json={"scenario": "down"}, timeout=5)
    assert requests.post(f"{fake.url}/__fake/reset", timeout=5).json() == {"scenario": "ok"}
    assert (fake.scenario, fake.requests) == ("ok", [])


def test_stop_releases_a_slow_request(make_client):
    """Stopping the fake does not wait for a request held by the "slow" scenario."""
    server = RetellFake(slow_seconds=30).start()
    server.set_scenario("slow")
    client = RetellClient(server.url, DEFAULT_API_KEY, timeout=(1.0, 0.2), max_retries=0)
    with pytest.raises(ProviderTimeout):
        client.list_agents()
    started = time.monotonic()
    server.stop()
    server.stop()
    assert time.monotonic() - started < 5
    client.session.close()


def test_demo_data_is_fictional_and_readable():
    """The demo agents and calls parse, cover every stage, and use only numbers of the fictional range."""
    now = utc(2026, 3, 2, 12)
    with RetellFake(**demo_seed(now)) as server:
        client = RetellClient(server.url, DEFAULT_API_KEY, max_retries=0)
        assert [row.agent_name for row in client.list_agents()] == ["Rezeption Praxis", "Terminerinnerung"]
        records = client.list_calls()
        client.session.close()
    assert {record.stage for record in records} == {1, 2, 3}
    numbers = {record.from_number for record in records} | {record.to_number for record in records}
    assert all(number.startswith("+4930555") and len(number) == 12 for number in numbers)


def read_urls(process, names, deadline):
    """The ``<name> fake: <url>`` lines the runner prints, read until every name is there or ``deadline``."""
    urls, output = {}, []
    while set(urls) != set(names) and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if not ready:
            if process.poll() is not None:
                break
            continue
        line = process.stdout.readline()
        if not line:  # end of output: the runner exited
            break
        output.append(line)
        name, _, url = line.strip().partition(" fake: ")
        if name in names and url:
            urls[name] = url
    assert set(urls) == set(names), f"runner output: {''.join(output)}"
    return urls


def test_runner_serves_both_fakes_with_the_sandbox_key():
    """``python -m tests.fakes --seed-demo`` starts both fakes on the ports given (0: free ones), the Retell one
    answers the sandbox key with the demo agents, and SIGTERM stops the process cleanly with status 0."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes", "--calcom-port", "0", "--retell-port", "0", "--seed-demo"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ,
                                                                                    "PYTHONUNBUFFERED": "1"})
    try:
        urls = read_urls(process, {"calcom", "retell"}, time.monotonic() + 20)
        client = RetellClient(urls["retell"], SANDBOX_API_KEY, max_retries=0)
        assert {row.agent_name for row in client.list_agents()} == {"Rezeption Praxis", "Terminerinnerung"}
        assert client.list_calls()
        client.session.close()
        assert requests.get(f"{urls['calcom']}/__fake/requests", timeout=5).status_code == 200
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        process.stdout.close()
    assert process.returncode == 0
    assert "fakes stopped" in output
