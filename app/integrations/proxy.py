"""The outbound proxy: the read operations each integration allows (app.providers.<name>.integration
PROXY_OPERATIONS), called with the practice's stored key and cached briefly in the app cache (memory, or Redis
when CACHE_REDIS_URL is set), so a hundred open tabs cost one provider call.

Concurrent misses of the same answer are collapsed: the first caller takes a short lock in the cache and calls the
provider, the others wait for its answer (up to WAIT_SECONDS) instead of calling too. The cache key includes the
config's ``updated_at``, so a changed key or setting never serves an answer fetched with the old one. Every call
that reaches the provider is recorded as a metric (by the client's ``on_call``)."""

import time
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _

from app.integrations.clients import client_for, get_config, label, provider_module
from app.platform.errors import ServiceError
from app.platform.extensions import cache, db
from app.providers.base import ProviderAuthError, ProviderError, ProviderTimeout, ProviderUnreachable
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
    hit = cache.get(key)
    if hit is not None:
        return ProxyResult(hit, True)
    lock = key + ":lock"
    owner = cache.add(lock, 1, timeout=LOCK_SECONDS)
    if not owner:
        db.session.close()  # hand the connection back while waiting: many waiting tabs must not drain the pool
        waited = _wait_for(key)
        if waited is not None:
            return ProxyResult(waited, True)
    else:
        hit = cache.get(key)  # the previous lock holder may have stored the answer since the first look
        if hit is not None:
            cache.delete(lock)
            return ProxyResult(hit, True)
    try:
        data = _call(config, allowed, params, provider)
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


def _wait_for(key):
    """The answer a concurrent caller is fetching, once it is cached; None after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        value = cache.get(key)
        if value is not None:
            return value
    return None


def _call(config, allowed, params, provider):
    """Call the provider (its metric committed whatever happens) and return JSON-ready data."""
    try:
        data = to_json(allowed.call(client_for(config), **params))
    except ValueError as error:
        raise ProxyError(str(error), 400) from None
    except ProviderAuthError as error:
        raise ProxyError(_("%(provider)s refused the stored API key: %(reason)s", provider=label(provider),
                           reason=error.message), 502) from None
    except ProviderUnreachable as error:
        raise ProxyError(_("%(provider)s cannot be reached: %(reason)s", provider=label(provider),
                           reason=error.message), 504 if isinstance(error, ProviderTimeout) else 503) from None
    except ProviderError as error:
        raise ProxyError(_("%(provider)s answered with an error: %(reason)s", provider=label(provider),
                           reason=error.message), 502) from None
    finally:
        db.session.commit()
    return data
