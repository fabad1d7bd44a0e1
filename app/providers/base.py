"""The HTTP client base every provider API client builds on (Cal.com, Retell): one ``requests`` session, explicit
timeouts on every call, retries with capped exponential backoff, one metric per HTTP attempt, and the errors a
service can turn into a message for the practice admin.

Why our own retry loop rather than urllib3's ``Retry`` on the adapter (house style §6): we need a metric for every
attempt, a provider-specific wait on 429 (Cal.com sends no ``Retry-After``, only ``X-RateLimit-Reset-*``), and a
typed error after the last attempt. The loop keeps the house rules: idempotent methods only are retried on
transport errors and 5xx, and nothing here touches the database (``on_call`` hands metrics to the service layer).

Two ways to build a client, chosen by who waits for the answer: the worker's client retries with backoff
(``max_retries``), while a client built for a web request gets a ``deadline``: one short try whose timeouts are
capped by the time left, and ProviderNotAnswering at once when the provider does not answer before it, so that a
slow provider never holds a person (or a request thread) for minutes.

The API key is never logged and never put in a message: provider texts are passed through ``redact`` before they
are shown."""

import logging
import random
import time
from dataclasses import dataclass

import requests
from flask_babel import gettext as _

logger = logging.getLogger(__name__)

# Methods whose repetition has the same effect as one call, so a transport error or a 5xx may be retried blindly.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# Less time than this left before a client's deadline is no time at all: no attempt could get an answer in it.
MIN_ATTEMPT_SECONDS = 0.1


class ProviderError(Exception):
    """Any failure of a provider call. ``message`` is a sentence a practice admin can act on (translated in an app
    context) and holds no secret; ``status_code`` is the HTTP status when there was an answer; ``provider`` names
    the provider."""

    def __init__(self, message, *, status_code=None, provider=""):
        """Keep the message in ``args`` too, so ``str(error)`` is the message."""
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.provider = provider


class ProviderUnreachable(ProviderError):
    """No usable answer: connection refused, DNS failure, timeout, or a 5xx after the retries. ``ambiguous`` is
    True when the request may have reached the provider (a read timeout, a connection dropped mid-answer, a 5xx),
    so a non-idempotent call may have taken effect and must be checked, not repeated."""

    def __init__(self, message, *, status_code=None, provider="", ambiguous=False):
        """``ambiguous``: whether the provider may have processed the request."""
        super().__init__(message, status_code=status_code, provider=provider)
        self.ambiguous = ambiguous


class ProviderTimeout(ProviderUnreachable):
    """The provider did not answer in time. A read timeout is ambiguous (the request was sent and may have been
    processed); a connect timeout is not (nothing was sent)."""

    def __init__(self, message, *, status_code=None, provider="", ambiguous=True):
        """Timeouts default to ambiguous, the safe assumption for a caller deciding whether to repeat a write."""
        super().__init__(message, status_code=status_code, provider=provider, ambiguous=ambiguous)


class ProviderNotAnswering(ProviderTimeout):
    """A client built for a web request ran out of its time budget (its ``deadline``): the provider did not answer
    in time, or no time was left to ask it. The message says so in the practice's words ("Anbieter antwortet
    nicht"); retrying is left to the person or to the worker."""


class ProviderAuthError(ProviderError):
    """401 or 403: the API key is wrong, expired or lacks the permission."""


class ProviderRateLimited(ProviderError):
    """429 after the retries. ``retry_after`` is the provider's suggested wait in seconds, when it gave one."""

    def __init__(self, message, *, status_code=429, provider="", retry_after=None):
        """``retry_after``: seconds to wait before the next call, or None."""
        super().__init__(message, status_code=status_code, provider=provider)
        self.retry_after = retry_after


class ProviderBadResponse(ProviderError):
    """An answer we cannot use: not JSON (an HTML page from a proxy or a wrong base URL), a redirect, or JSON
    whose shape is not what the contract says. The message says what was expected."""


class ProviderRequestError(ProviderError):
    """Any other 4xx: the provider refused the request. ``provider_message`` is the provider's own text."""

    def __init__(self, message, *, status_code=None, provider="", provider_message=""):
        """``provider_message``: the reason the provider gave, already redacted."""
        super().__init__(message, status_code=status_code, provider=provider)
        self.provider_message = provider_message


class ProviderNotFound(ProviderRequestError):
    """404: the addressed object does not exist (or is not visible with this key)."""


@dataclass(frozen=True)
class CallMetric:
    """One HTTP attempt (a retried call yields one metric per attempt; the last one tells how the call ended).
    ``action`` is the client's name for the operation (e.g. "bookings.list"); ``records`` is how many records the
    answer carried when the client counts them; ``error`` is the error class name of a failed attempt (e.g.
    "ProviderTimeout"), short and free of personal data, so metrics can be grouped by it."""

    provider: str
    action: str
    success: bool
    duration_ms: int
    status_code: int | None
    records: int | None = None
    error: str | None = None


def clean_api_key(value):
    """An API key as pasted into the settings form, with surrounding whitespace and newlines removed; ValueError
    with a message for the admin when it is empty or still holds spaces, control or invisible characters (a key
    copied across a line break, or with a zero-width space, would fail as a 401 with no visible reason)."""
    key = (value or "").strip()
    if not key:
        raise ValueError(_("Enter the API key."))
    if any(char.isspace() for char in key):
        raise ValueError(_("The API key contains spaces or line breaks. Copy it again in one piece."))
    if any(not char.isprintable() for char in key):
        raise ValueError(_("The API key contains invisible or control characters. Copy it again from the "
                           "provider."))
    if not key.isascii():
        raise ValueError(_("The API key contains characters an API key cannot have. Copy it again from the "
                           "provider."))
    return key


class ProviderClient:
    """Base of a provider's API client. Subclasses set ``provider`` and ``label`` and may override the hooks
    ``auth_headers``, ``retry_after``, ``error_message`` and ``count_records``; their methods call ``request``.

    ``timeout`` is (connect, read) seconds and is passed on every call. ``max_retries`` is the number of extra
    attempts after the first. Backoff doubles from ``backoff_seconds`` up to ``max_backoff_seconds``, with a
    little jitter so clients that failed together do not retry together. ``on_call(metric)`` is called after every
    attempt; ``sleep`` is injectable so tests do not wait.

    ``deadline`` (a ``time.monotonic()`` value; None for the worker) is the end of a web request's budget: every
    attempt's timeouts are capped by the time left, no attempt or retry starts after it, and a timeout becomes
    ProviderNotAnswering. The integrations layer builds request clients with ``max_retries=0`` as well."""

    provider = "provider"
    label = "The provider"

    def __init__(self, base_url, api_key, *, timeout=(3.05, 10.0), max_retries=3, backoff_seconds=0.5,
                 max_backoff_seconds=8.0, on_call=None, session=None, sleep=time.sleep, deadline=None):
        """Keep the settings; the session is shared by all calls of this client (connection reuse)."""
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.on_call = on_call
        self.session = session if session is not None else requests.Session()
        self.sleep = sleep
        self.deadline = deadline

    def __repr__(self):
        """Name the client and its base URL, never the key."""
        return f"<{type(self).__name__} {self.base_url}>"

    # Hooks a provider overrides.

    def auth_headers(self):
        """The headers that authenticate a request (default: a bearer token)."""
        return {"Authorization": f"Bearer {self.api_key}"}

    def retry_after(self, response):
        """Seconds to wait before retrying a 429, from the ``Retry-After`` header (seconds form), or None."""
        return _seconds(response.headers.get("Retry-After"))

    def error_message(self, response, body):
        """The provider's reason for an error answer: ``body["message"]`` when it is text, else the HTTP reason."""
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return body["message"]
        return response.reason or ""

    def count_records(self, action, body):
        """How many records a successful answer carries, for the metric; None when the client does not count."""
        return None

    # The call.

    def request(self, method, path, *, action, params=None, json=None, headers=None, retry=None, expect=(200, 201)):
        """Send one API call and return the parsed JSON of an answer whose status is in ``expect`` (None for an
        empty 204). Retries transport errors, timeouts and 5xx when the method is idempotent (``retry`` overrides
        that) and 429 always (a throttled request was not processed); raises a ProviderError otherwise."""
        method = method.upper()
        retryable = method in IDEMPOTENT_METHODS if retry is None else retry
        url = self.base_url + path
        all_headers = {"Accept": "application/json", **(headers or {}), **self.auth_headers()}
        attempt = 0
        while True:
            attempt += 1
            timeout = self._attempt_timeout()
            started = time.monotonic()
            response, body, error = None, None, None
            try:
                response = self.session.request(method, url, params=params, json=json, headers=all_headers,
                                                timeout=timeout, allow_redirects=False)
            except requests.RequestException as exc:
                error = self._transport_error(exc)
            else:
                body, error = self._interpret(response, expect)
            duration_ms = int((time.monotonic() - started) * 1000)
            status = response.status_code if response is not None else None
            logger.info("%s %s %s -> %s in %d ms (attempt %d)", self.provider, method, path, status or
                        type(error).__name__, duration_ms, attempt)
            records = self.count_records(action, body) if error is None else None
            self._emit(CallMetric(self.provider, action, error is None, duration_ms, status, records,
                                  type(error).__name__ if error else None))
            if error is None:
                return body
            delay = self._retry_delay(error, response, attempt, retryable)
            if delay is None:
                raise error
            self.sleep(delay)

    def _emit(self, metric):
        """Hand the metric to ``on_call``; a failing metrics sink is logged but never fails the call itself."""
        if self.on_call is None:
            return
        try:
            self.on_call(metric)
        except Exception:
            logger.exception("%s: recording the call metric failed", self.provider)

    def _attempt_timeout(self):
        """The (connect, read) timeout of the next attempt: ``timeout``, capped by the time left before the
        deadline; ProviderNotAnswering, before anything is sent, when no time is left."""
        if self.deadline is None:
            return self.timeout
        left = self.deadline - time.monotonic()
        if left < MIN_ATTEMPT_SECONDS:
            raise self._not_answering(ambiguous=False)
        connect, read = self.timeout if isinstance(self.timeout, tuple) else (self.timeout, self.timeout)
        return min(connect, left), min(read, left)

    def _retry_delay(self, error, response, attempt, retryable):
        """Seconds to wait before the next attempt, or None when ``error`` is final (also when the wait would end
        past the deadline)."""
        if attempt > self.max_retries:
            return None
        if isinstance(error, ProviderRateLimited):
            wait = self.retry_after(response)
            delay = min(wait, self.max_backoff_seconds) if wait is not None else self._backoff(attempt)
        elif isinstance(error, ProviderUnreachable) and retryable:
            delay = self._backoff(attempt)
        else:
            return None
        if self.deadline is not None and time.monotonic() + delay + MIN_ATTEMPT_SECONDS > self.deadline:
            return None
        return delay

    def _backoff(self, attempt):
        """Exponential backoff for ``attempt`` (1-based) with up to 10 % jitter, capped."""
        delay = self.backoff_seconds * 2 ** (attempt - 1)
        return min(delay + random.uniform(0, delay / 10), self.max_backoff_seconds)

    def _transport_error(self, exc):
        """The ProviderError for a failed send: no answer arrived."""
        label = self.label
        if self.deadline is not None and isinstance(exc, requests.Timeout):
            return self._not_answering(ambiguous=not isinstance(exc, requests.ConnectTimeout))
        if isinstance(exc, requests.ConnectTimeout):
            return ProviderTimeout(_("%(label)s could not be reached in time. Check the connection and try again.",
                                     label=label),
                                   provider=self.provider, ambiguous=False)
        if isinstance(exc, requests.Timeout):
            return ProviderTimeout(_("%(label)s did not answer in time. The request may still have been processed; "
                                     "check before repeating it.", label=label), provider=self.provider)
        # A refused connection or a DNS failure sent nothing; a connection dropped mid-answer may have been processed.
        ambiguous = not _connection_refused(exc)
        return ProviderUnreachable(_("%(label)s could not be reached. Check the address and the connection, then "
                                     "try again.", label=label), provider=self.provider, ambiguous=ambiguous)

    def _not_answering(self, *, ambiguous):
        """The error of a request client whose provider did not answer within the request's budget."""
        return ProviderNotAnswering(_("The provider is not answering: %(label)s did not reply in time. Please try "
                                      "again in a moment.", label=self.label),
                                    provider=self.provider, ambiguous=ambiguous)

    def _interpret(self, response, expect):
        """(parsed body, None) for an expected answer, (body or None, ProviderError) otherwise."""
        status = response.status_code
        body = _json_or_none(response)
        if status in expect:
            if status == 204 or not response.content:
                return None, None
            if body is None:
                kind = response.headers.get("Content-Type", "no content type").split(";")[0]
                return None, ProviderBadResponse(
                    _("%(label)s answered with %(kind)s instead of JSON. Check that the API address is correct.",
                      label=self.label, kind=kind),
                    status_code=status, provider=self.provider)
            return body, None
        return body, self._status_error(response, body)

    def _status_error(self, response, body):
        """The ProviderError for an answer whose status was not expected."""
        status, label, provider = response.status_code, self.label, self.provider
        reason = self.redact(self.error_message(response, body) if body is not None else response.reason or "")
        if status in (401, 403):
            return ProviderAuthError(_("%(label)s refused the API key (HTTP %(status)s). Check that the key is "
                                       "correct, active and allowed to do this.", label=label, status=status),
                                     status_code=status, provider=provider)
        if status == 429:
            return ProviderRateLimited(_("%(label)s is limiting the number of requests. Wait a minute and try again.",
                                         label=label),
                                       provider=provider, retry_after=self.retry_after(response))
        if status >= 500:
            return ProviderUnreachable(_("%(label)s had a server error (HTTP %(status)s). Try again later.",
                                         label=label, status=status),
                                       status_code=status, provider=provider, ambiguous=True)
        if 300 <= status < 400:
            return ProviderBadResponse(_("%(label)s answered with a redirect (HTTP %(status)s) instead of JSON. Check "
                                         "that the API address is correct.", label=label, status=status),
                                       status_code=status, provider=provider)
        if status == 404:
            return ProviderNotFound(_("%(label)s does not know this object (HTTP 404): %(reason)s", label=label,
                                      reason=reason), status_code=status,
                                    provider=provider, provider_message=reason)
        if 400 <= status < 500:
            return ProviderRequestError(_("%(label)s refused the request (HTTP %(status)s): %(reason)s", label=label,
                                          status=status, reason=reason),
                                        status_code=status, provider=provider, provider_message=reason)
        return ProviderBadResponse(_("%(label)s answered with HTTP %(status)s, which this call does not expect.",
                                     label=label, status=status),
                                   status_code=status, provider=provider)

    def redact(self, text):
        """``text`` with the API key replaced, for any provider-supplied text that reaches a message or a log."""
        text = str(text)
        if self.api_key and self.api_key in text:
            text = text.replace(self.api_key, "[API key]")
        return text


def _json_or_none(response):
    """The parsed JSON body, or None when the body is empty or not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _seconds(value):
    """A non-negative number of seconds from a header value, or None when it is absent or not a number (an HTTP
    date in ``Retry-After`` is treated as absent: the backoff applies instead)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def _connection_refused(exc):
    """Whether a ConnectionError happened before anything was sent (refused, unresolvable host)."""
    text = repr(exc)
    return any(marker in text for marker in ("ConnectionRefused", "NewConnectionError", "NameResolution",
                                             "Failed to resolve", "Errno 111", "Errno -2", "Errno -3"))
