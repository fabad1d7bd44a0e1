"""The integrations the hub offers and how it reaches them: each provider's module (asked from
app.providers.registry), its name as people read it, the practice's stored config, and a call of the provider's
client built from that config with the hub's timeouts.

Every provider call has one shape, because no database transaction may be held open across a network call: the
caller reads what it needs (the config, the key) and makes a ProviderCall, which builds the client; entering it
ends the caller's transaction before anything is sent; the client collects one metric per attempt in memory; leaving
it writes those metrics in a short transaction of their own; the caller then writes its outcome in a new one. (On
SQLite a flushed insert holds the database's single write lock: a metric written before a retry once kept every
webhook waiting behind a slow provider until the receiver gave up with "database is locked".)

Who waits decides how long: inside a web request the provider calls of the request share one budget of
PROVIDER_REQUEST_BUDGET_SECONDS with one try each, and a provider that does not answer in it is reported at once
("Anbieter antwortet nicht"); outside a request (the worker) the client retries with backoff.

The configuration use cases (app.integrations.service), the sync runs (app.integrations.sync) and the outbound
proxy all stand on this module, which imports none of them."""

import time

from flask import current_app, g, has_request_context
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.integrations import metrics
from app.integrations.models import IntegrationConfig
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.crypto import decrypt_secret
from app.providers.registry import INTEGRATIONS, integration


def providers():
    """The names of the integrations the hub offers, in display order."""
    return tuple(INTEGRATIONS)


def provider_module(provider):
    """The integration module of ``provider`` (its hooks); ServiceError (404-worthy) for an unknown one."""
    module = integration(provider)
    if module is None:
        raise ServiceError(_("Unknown integration %(provider)s.", provider=provider), code="not_found")
    return module


def label(provider):
    """The provider's name as shown everywhere: its LABEL, or its SANDBOX_LABEL while HUB_SANDBOX is on."""
    module = provider_module(provider)
    return str(module.SANDBOX_LABEL if current_app.config["HUB_SANDBOX"] else module.LABEL)


def base_url(provider):
    """Where the provider's API is: the sandbox fake (SANDBOX_<NAME>_URL) while HUB_SANDBOX is on, else
    <NAME>_API_URL."""
    sandbox = current_app.config["HUB_SANDBOX"]
    key = f"SANDBOX_{provider.upper()}_URL" if sandbox else f"{provider.upper()}_API_URL"
    return current_app.config[key]


def get_config(practice_id, provider):
    """The practice-wide config of ``provider`` (no location), or None."""
    return db.session.scalar(select(IntegrationConfig).where(
        IntegrationConfig.practice_id == practice_id, IntegrationConfig.provider == provider,
        IntegrationConfig.location_id.is_(None)))


def request_deadline():
    """The ``time.monotonic()`` by which the provider calls of the current web request must have ended (set by the
    request's first call: PROVIDER_REQUEST_BUDGET_SECONDS later, shared by all its calls), or None outside a web
    request, where the worker's retries apply."""
    if not has_request_context():
        return None
    if "provider_deadline" not in g:
        g.provider_deadline = time.monotonic() + current_app.config["PROVIDER_REQUEST_BUDGET_SECONDS"]
    return g.provider_deadline


class ProviderCall:
    """One use of a provider by a use case: ``with ProviderCall(...) as client:`` (or ``provider_call(config)``).
    The client is built here, from values the caller read in its transaction; entering commits that transaction,
    so none is open while the provider is called. The metric of each attempt becomes a row of ``practice_id``
    (its action prefixed with ``metric_prefix``, KEY_CHECK for key checks) committed right after the attempt, in a
    transaction of its own, before any retry starts. In a web request the client gets one try within the
    request's budget; elsewhere it retries as PROVIDER_MAX_RETRIES says."""

    def __init__(self, practice_id, provider, api_key, *, metric_prefix=""):
        """Build the provider's client for ``api_key`` (nothing is sent yet)."""
        self.practice_id = practice_id
        self.metric_prefix = metric_prefix
        config = current_app.config
        deadline = request_deadline()
        self.client = provider_module(provider).build_client(
            base_url(provider), api_key, on_call=self._store, timeout=config["PROVIDER_TIMEOUT_SECONDS"],
            max_retries=0 if deadline is not None else config["PROVIDER_MAX_RETRIES"], deadline=deadline)

    def __enter__(self):
        """End the caller's transaction (committing what it wrote) and hand out the client."""
        db.session.commit()
        return self.client

    def __exit__(self, *exc_info):
        """Nothing to undo: each attempt's metric is already stored; an exception goes on to the caller."""

    def _store(self, metric):
        """The client's ``on_call``: commit one attempt's metric at once. A failure is rolled back and raised to
        the client, which logs it and goes on: a metric never fails the call it measures."""
        try:
            metrics.record_call(self.practice_id, metric, prefix=self.metric_prefix)
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            raise


def provider_call(config):
    """The ProviderCall of a stored config (its key decrypted here, only for the call); ServiceError
    (``unconfigured``) when no key is saved."""
    if not config or not config.api_key:
        raise ServiceError(_("No API key is set for this integration."), code="unconfigured")
    return ProviderCall(config.practice_id, config.provider, decrypt_secret(config.api_key))
