"""The outbound proxy: the read operations each integration allows (app.providers.<name>.integration
PROXY_OPERATIONS), called with the practice's stored key and cached briefly in the app cache (memory, or Redis
when CACHE_REDIS_URL is set), so a hundred open tabs cost one provider call.

Concurrent misses of the same answer are collapsed: the first caller takes a short lock in the cache and calls the
provider, the others wait for its answer (up to WAIT_SECONDS, and never past the request's budget) instead of
calling too. The cache key includes the config's ``updated_at``, so a changed key or setting never serves an answer
fetched with the old one. No database transaction is open while a caller waits or calls (the connection goes
back to the pool), and every call that reaches the provider is recorded as a metric after it (ProviderCall).

In a web request the provider gets one try within PROVIDER_REQUEST_BUDGET_SECONDS; one that does not answer in
time is a 504 saying "Anbieter antwortet nicht", at once."""

import time
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _

from app.integrations.clients import get_config, label, provider_call, provider_module, request_deadline
from app.platform.errors import ServiceError
from app.platform.extensions import cache, db
from app.providers.base import (
    ProviderAuthError,
    ProviderError,
    ProviderNotAnswering,
    ProviderTimeout,
    ProviderUnreachable,
)
from app.providers.proxy import to_json

# How long a caller waits for a concurrent caller's answer before calling the provider itself.
WAIT_SECONDS = 5.0
LOCK_SECONDS = 30
_POLL_SECONDS = 0.05


class ProxyError(Exception):
    """The proxied call cannot be answered: ``status`` is the HTTP status for the JSON API (400 bad parameters,
    404 unknown operation, 409 not configured, 502/503/504 provider errors), ``message`` says why."""

    def __init__(self, message, status):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ProxyResult:
    """A proxied answer and whether it came from the cache."""

    data: object
    cached: bool


def operations(provider):
    """The names of the reads the proxy allows for ``provider`` (empty for an unknown provider)."""
    try:
        return tuple(provider_module(provider).PROXY_OPERATIONS)
    except ServiceError:
        return ()


def fetch(practice_id, provider, operation, query):
    """The answer of ``operation`` for the practice, from the cache or the provider; ``query`` is a mapping of the
    request's parameters (validated by the operation). Raises ProxyError."""
    try:
        module = provider_module(provider)
    except ServiceError:
        raise ProxyError(_("Unknown provider %(provider)s.", provider=provider), 404) from None
    allowed = module.PROXY_OPERATIONS.get(operation)
    if allowed is None:
        raise ProxyError(_("The proxy does not offer %(operation)s for %(provider)s.", operation=operation,
                           provider=label(provider)), 404)
    try:
        params = allowed.parse(dict(query))
    except ValueError as error:
        raise ProxyError(str(error), 400) from None
    config = get_config(practice_id, provider)
    if config is None or not config.api_key:
        raise ProxyError(_("%(provider)s is not connected yet: save its API key first.", provider=label(provider)),
                         409)
    key = _cache_key(practice_id, provider, operation, params, config)
    call = provider_call(config)
    # Everything needed is read: end the transaction and hand the connection back before waiting or calling, so
    # many waiting tabs neither hold a snapshot nor drain the pool.
    db.session.commit()
    hit = cache.get(key)
    if hit is not None:
        return ProxyResult(hit, True)
    lock = key + ":lock"
    owner = cache.add(lock, 1, timeout=LOCK_SECONDS)
    if not owner:
        waited = _wait_for(key, lock, request_deadline())
        if waited is not None:
            return ProxyResult(waited, True)
    else:
        hit = cache.get(key)  # the previous lock holder may have stored the answer since the first look
        if hit is not None:
            cache.delete(lock)
            return ProxyResult(hit, True)
    try:
        data = _call(call, allowed, params, provider)
        cache.set(key, data, timeout=allowed.ttl or current_app.config["PROXY_CACHE_SECONDS"])
    finally:
        if owner:  # a waiter that gave up never removes the lock of the caller still fetching
            cache.delete(lock)
    return ProxyResult(data, False)


def _cache_key(practice_id, provider, operation, params, config):
    """The cache key of one answer: practice, provider, operation, parameters and the config's version."""
    version = config.updated_at.isoformat() if config.updated_at else "0"
    args = "&".join(f"{name}={to_json(value)}" for name, value in sorted(params.items()))
    return f"proxy:{practice_id}:{provider}:{operation}:{version}:{args}"


def _wait_for(key, lock, deadline):
    """The answer a concurrent caller is fetching, once it is cached; None when that caller gave up (its lock is
    gone and no answer came), after WAIT_SECONDS, or when the request's ``deadline`` (a ``time.monotonic()``; None
    outside a request) has come."""
    until = time.monotonic() + WAIT_SECONDS
    if deadline is not None:
        until = min(until, deadline)
    while time.monotonic() < until:
        time.sleep(_POLL_SECONDS)
        value, locked = cache.get_many(key, lock)
        if value is not None:
            return value
        if locked is None:
            return None
    return None


def _call(call, allowed, params, provider):
    """Call the provider through ``call`` (a ProviderCall: its metrics committed whatever happens) and return
    JSON-ready data; ProxyError for a failure."""
    try:
        with call as client:
            data = to_json(allowed.call(client, **params))
    except ValueError as error:
        raise ProxyError(str(error), 400) from None
    except ProviderAuthError as error:
        raise ProxyError(_("%(provider)s refused the stored API key: %(reason)s", provider=label(provider),
                           reason=error.message), 502) from None
    except ProviderNotAnswering as error:
        raise ProxyError(error.message, 504) from None
    except ProviderUnreachable as error:
        raise ProxyError(_("%(provider)s cannot be reached: %(reason)s", provider=label(provider),
                           reason=error.message), 504 if isinstance(error, ProviderTimeout) else 503) from None
    except ProviderError as error:
        raise ProxyError(_("%(provider)s answered with an error: %(reason)s", provider=label(provider),
                           reason=error.message), 502) from None
    return data
