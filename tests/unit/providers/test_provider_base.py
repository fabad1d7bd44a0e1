"""The provider client base: timeouts on every call, which failures are retried and how long it waits, the error
each answer becomes, one metric per attempt, no API key in any message, and the API-key cleaner of the settings
form. A scripted session answers instantly; one test uses the Cal.com fake for a real read timeout."""

import logging
from http import HTTPStatus

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from app.providers.base import (
    CallMetric,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderClient,
    ProviderError,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderTimeout,
    ProviderUnreachable,
    clean_api_key,
)
from app.providers.calcom.client import CalcomClient
from tests.fakes.calcom import CalcomFake

KEY = "sk_secret_key_123"


@pytest.fixture
def provider_log(caplog, monkeypatch):
    """caplog for the base's logger, re-enabled in case an earlier test's logging.config (Alembic's fileConfig in
    the migration tests) disabled the existing loggers."""
    monkeypatch.setattr(logging.getLogger("app.providers.base"), "disabled", False)
    return caplog


def answer(status, body=None, *, text=None, headers=None):
    """A requests.Response as the session would return it: JSON ``body`` or raw ``text``."""
    response = requests.Response()
    response.status_code = status
    response.reason = HTTPStatus(status).phrase
    if text is not None:
        response._content = text.encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "text/html; charset=utf-8", **(headers or {})})
    else:
        response._content = b"" if body is None else requests.compat.json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **(headers or {})})
    return response


class ScriptedSession:
    """Stands in for requests.Session: returns (or raises) the scripted items in order and records each call."""

    def __init__(self, *items):
        """``items``: Responses to return or exceptions to raise, one per attempt."""
        self.items = list(items)
        self.calls = []

    def request(self, method, url, **kwargs):
        """Record the call and play the next scripted item."""
        self.calls.append((method, url, kwargs))
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


class ExampleClient(ProviderClient):
    """A minimal provider for the base's own behaviour."""

    provider = "example"
    label = "Example"


def make(*items, cls=ExampleClient, **options):
    """(client, session, sleeps, metrics) with a scripted session and recorded sleeps and metrics."""
    session, sleeps, metrics = ScriptedSession(*items), [], []
    client = cls("https://api.example.test/", KEY, session=session, sleep=sleeps.append, on_call=metrics.append,
                 **options)
    return client, session, sleeps, metrics


def test_every_call_sends_timeouts_auth_and_no_redirects():
    """Explicit (connect, read) timeouts, the bearer header and no redirect following on every attempt."""
    client, session, _, _ = make(answer(200, {"ok": True}), timeout=(2.0, 5.0))
    assert client.request("GET", "/v1/things", action="things.list", params={"a": 1}) == {"ok": True}
    method, url, kwargs = session.calls[0]
    assert (method, url) == ("GET", "https://api.example.test/v1/things")
    assert kwargs["timeout"] == (2.0, 5.0)
    assert kwargs["allow_redirects"] is False
    assert kwargs["headers"]["Authorization"] == f"Bearer {KEY}"
    assert kwargs["params"] == {"a": 1}


def test_default_timeout_is_explicit():
    """The default is (3.05, 10.0): never requests' "wait forever"."""
    client, session, _, _ = make(answer(200, {}))
    client.request("GET", "/x", action="x")
    assert session.calls[0][2]["timeout"] == (3.05, 10.0)


def test_get_is_retried_on_5xx_with_growing_backoff():
    """A GET that meets 503 twice is sent three times; the waits double (with a little jitter)."""
    client, session, sleeps, metrics = make(answer(503), answer(502), answer(200, {"ok": 1}))
    assert client.request("GET", "/x", action="x") == {"ok": 1}
    assert len(session.calls) == 3
    assert 0.5 <= sleeps[0] <= 0.55 and 1.0 <= sleeps[1] <= 1.1
    assert [m.success for m in metrics] == [False, False, True]


def test_backoff_is_capped():
    """No wait exceeds max_backoff_seconds."""
    client, _, sleeps, _ = make(*[answer(500)] * 6, max_retries=5, backoff_seconds=1.0, max_backoff_seconds=3.0)
    with pytest.raises(ProviderUnreachable):
        client.request("GET", "/x", action="x")
    assert len(sleeps) == 5 and max(sleeps) == 3.0


def test_5xx_after_the_retries_is_unreachable():
    """max_retries extra attempts, then ProviderUnreachable carrying the status."""
    client, session, _, _ = make(*[answer(500, {"message": "boom"})] * 4)
    with pytest.raises(ProviderUnreachable) as caught:
        client.request("GET", "/x", action="x")
    assert len(session.calls) == 4
    assert caught.value.status_code == 500 and caught.value.provider == "example"
    assert "server error" in caught.value.message


def test_post_is_not_retried_on_5xx():
    """A POST may have taken effect, so a 5xx ends it at once."""
    client, session, sleeps, _ = make(answer(500), answer(201, {"created": True}))
    with pytest.raises(ProviderUnreachable) as caught:
        client.request("POST", "/x", action="x.create", json={"a": 1})
    assert len(session.calls) == 1 and sleeps == []
    assert caught.value.ambiguous is True


def test_retry_flag_overrides_the_method():
    """retry=True retries a POST known to be safe; retry=False stops a GET."""
    client, session, _, _ = make(answer(503), answer(200, {"ok": 1}))
    assert client.request("POST", "/x", action="x", retry=True) == {"ok": 1}
    assert len(session.calls) == 2
    client, session, _, _ = make(answer(503), answer(200, {}))
    with pytest.raises(ProviderUnreachable):
        client.request("GET", "/x", action="x", retry=False)
    assert len(session.calls) == 1


def test_connection_errors_of_a_get_are_retried():
    """A refused connection is retried for a GET, and reported as not ambiguous when it persists."""
    refused = requests.ConnectionError("HTTPConnectionPool: NewConnectionError: [Errno 111] Connection refused")
    client, session, _, _ = make(refused, refused, max_retries=1)
    with pytest.raises(ProviderUnreachable) as caught:
        client.request("GET", "/x", action="x")
    assert len(session.calls) == 2
    assert not isinstance(caught.value, ProviderTimeout)
    assert caught.value.ambiguous is False


def test_429_is_retried_for_post_after_retry_after():
    """A throttled request was not processed, so even a POST is sent again, after the Retry-After wait."""
    client, session, sleeps, _ = make(answer(429, headers={"Retry-After": "2"}), answer(201, {"id": 1}))
    assert client.request("POST", "/x", action="x", json={}) == {"id": 1}
    assert len(session.calls) == 2 and sleeps == [2.0]


def test_429_uses_the_calcom_reset_header():
    """Cal.com sends no Retry-After; its client waits X-RateLimit-Reset-Default seconds (capped)."""
    throttled = answer(429, {"status": "error", "error": {"code": "ThrottlerException", "message": "Too many"}},
                       headers={"X-RateLimit-Reset-Default": "3"})
    client, _, sleeps, _ = make(throttled, answer(200, {"status": "success", "data": {}}), cls=CalcomClient)
    client.request("GET", "/v2/me", action="me")
    assert sleeps == [3.0]
    capped = answer(429, headers={"X-RateLimit-Reset-Default": "45"})
    client, _, sleeps, _ = make(capped, answer(200, {}), cls=CalcomClient, max_backoff_seconds=8.0)
    client.request("GET", "/v2/me", action="me")
    assert sleeps == [8.0]


def test_429_after_the_retries_is_rate_limited_with_retry_after():
    """ProviderRateLimited carries the provider's wait for the caller (e.g. to show "try again in …")."""
    throttled = answer(429, headers={"X-RateLimit-Reset-Default": "12"})
    client, session, _, _ = make(*[throttled] * 3, cls=CalcomClient, max_retries=2)
    with pytest.raises(ProviderRateLimited) as caught:
        client.request("GET", "/v2/me", action="me")
    assert len(session.calls) == 3
    assert caught.value.retry_after == 12.0 and caught.value.status_code == 429


def test_429_without_any_hint_falls_back_to_backoff():
    """No header at all: the exponential backoff decides."""
    client, _, sleeps, _ = make(answer(429), answer(200, {}))
    client.request("GET", "/x", action="x")
    assert 0.5 <= sleeps[0] <= 0.55


def test_html_answer_is_a_bad_response():
    """A 200 with an HTML page (proxy, wrong base URL) is not data; the message says JSON was expected."""
    client, _, _, metrics = make(answer(200, text="<html><body>Login</body></html>"))
    with pytest.raises(ProviderBadResponse) as caught:
        client.request("GET", "/x", action="x")
    assert "text/html instead of JSON" in caught.value.message
    assert metrics[-1].error == "ProviderBadResponse"


def test_redirect_is_a_bad_response():
    """A 301 (http -> https, moved API) is reported, not followed (a followed POST would turn into a GET)."""
    client, _, _, _ = make(answer(301, headers={"Location": "https://elsewhere"}))
    with pytest.raises(ProviderBadResponse, match="redirect"):
        client.request("POST", "/x", action="x")


@pytest.mark.parametrize(("status", "error"), [
    (401, ProviderAuthError), (403, ProviderAuthError), (404, ProviderNotFound), (400, ProviderRequestError),
    (422, ProviderRequestError),
])
def test_status_codes_map_to_errors(status, error):
    """Each 4xx class becomes its error; request errors carry the provider's message."""
    client, session, _, _ = make(answer(status, {"message": "reason from provider"}))
    with pytest.raises(error) as caught:
        client.request("GET", "/x", action="x")
    assert len(session.calls) == 1
    assert caught.value.status_code == status
    if isinstance(caught.value, ProviderRequestError):
        assert caught.value.provider_message == "reason from provider"
        assert "reason from provider" in caught.value.message


def test_read_timeout_is_an_ambiguous_provider_timeout():
    """A read timeout may have been processed: ProviderTimeout, ambiguous."""
    client, _, _, metrics = make(requests.ReadTimeout("read timed out"))
    with pytest.raises(ProviderTimeout) as caught:
        client.request("POST", "/x", action="x")
    assert caught.value.ambiguous is True and caught.value.status_code is None
    assert metrics == [CallMetric("example", "x", False, metrics[0].duration_ms, None, None, "ProviderTimeout")]


def test_connect_timeout_is_not_ambiguous():
    """Nothing was sent when the connection could not be made in time."""
    client, _, _, _ = make(requests.ConnectTimeout("connect timed out"))
    with pytest.raises(ProviderTimeout) as caught:
        client.request("POST", "/x", action="x")
    assert caught.value.ambiguous is False


def test_real_read_timeout_against_a_slow_server():
    """Over a real socket: a server slower than the read timeout gives ProviderTimeout, retried for a GET."""
    with CalcomFake(slow_seconds=2.0) as fake:
        fake.set_scenario("slow")
        sleeps = []
        client = CalcomClient(fake.url, "cal_test_valid", timeout=(1.0, 0.2), max_retries=1, sleep=sleeps.append)
        with pytest.raises(ProviderTimeout):
            client.me()
        assert fake.request_count("/v2/me") == 2 and len(sleeps) == 1


def test_on_call_gets_one_metric_per_attempt():
    """Every attempt is reported with its action, status, outcome and duration."""
    client, _, _, metrics = make(answer(503), answer(200, {"items": [1, 2]}))
    client.request("GET", "/x", action="things.list")
    assert [(m.provider, m.action, m.success, m.status_code, m.error) for m in metrics] == [
        ("example", "things.list", False, 503, "ProviderUnreachable"),
        ("example", "things.list", True, 200, None),
    ]
    assert all(isinstance(m.duration_ms, int) and m.duration_ms >= 0 for m in metrics)


def test_calcom_counts_records():
    """The Cal.com client counts list items for the metric."""
    client, _, _, metrics = make(answer(200, {"status": "success", "data": [{}, {}, {}]}), cls=CalcomClient)
    client.request("GET", "/v2/bookings", action="bookings.list")
    assert metrics[0].records == 3


def test_a_failing_metrics_sink_does_not_fail_the_call(provider_log):
    """on_call raising is logged; the call still returns."""
    def broken(metric):
        """A metrics sink whose database is down."""
        raise RuntimeError("db down")

    client = ExampleClient("https://api.example.test", KEY, session=ScriptedSession(answer(200, {"a": 1})),
                           on_call=broken)
    with provider_log.at_level(logging.ERROR):
        assert client.request("GET", "/x", action="x") == {"a": 1}
    assert "recording the call metric failed" in provider_log.text


@pytest.mark.parametrize("item", [
    answer(401, {"message": f"key {KEY} is not valid"}),
    answer(400, {"message": f"bad key {KEY}"}),
    answer(404, {"message": KEY}),
    answer(500, {"message": KEY}),
    answer(200, text=f"<html>{KEY}</html>"),
    requests.ConnectionError(f"failed for Bearer {KEY}"),
    requests.ReadTimeout(f"Bearer {KEY}"),
])
def test_the_key_is_never_in_messages_or_logs(item, provider_log):
    """Whatever the provider echoes, neither the error nor the log shows the key."""
    client, _, _, metrics = make(item, max_retries=0)
    with provider_log.at_level(logging.DEBUG), pytest.raises(ProviderError) as caught:
        client.request("POST", "/x", action="x")
    error = caught.value
    assert "example POST /x" in provider_log.text
    texts = [str(error), error.message, repr(error), getattr(error, "provider_message", ""), provider_log.text,
             repr(metrics), repr(client)]
    assert not any(KEY in text for text in texts)


@pytest.mark.parametrize(("value", "expected"), [
    ("cal_live_abc123", "cal_live_abc123"),
    ("  cal_live_abc123  ", "cal_live_abc123"),
    ("cal_live_abc123\n", "cal_live_abc123"),
    ("\r\n\tcal_live_abc123\r\n", "cal_live_abc123"),
])
def test_clean_api_key_strips_surrounding_whitespace(value, expected):
    """Whitespace and newlines around a pasted key are removed."""
    assert clean_api_key(value) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("", "Enter the API key"),
    ("   \n", "Enter the API key"),
    (None, "Enter the API key"),
    ("cal_live_abc\n123", "spaces or line breaks"),
    ("cal_live abc123", "spaces or line breaks"),
    ("cal_live_abc\u00a0123", "spaces or line breaks"),
    ("cal_live_abc\u200b123", "invisible or control characters"),
    ("cal_live_abc\x00123", "invisible or control characters"),
    ("cal_live_äbc123", "cannot have"),
])
def test_clean_api_key_rejects_broken_keys(value, message):
    """Inner whitespace, control or invisible characters, non-ASCII or nothing at all: a clear ValueError."""
    with pytest.raises(ValueError, match=message):
        clean_api_key(value)
