"""The integrations the hub offers and how it reaches them: each provider's module (asked from
app.providers.registry), its name as people read it, the practice's stored config, and the provider's client built
from that config with the hub's timeouts and a metrics recorder.

The configuration use cases (app.integrations.service), the sync runs (app.integrations.sync) and the outbound
proxy all stand on this module, which imports none of them."""

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

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


def build_client(practice_id, provider, api_key, *, metric_prefix="", on_call=None):
    """The provider's client for ``api_key``, recording a metric row of ``practice_id`` for every call (in the
    current transaction; ``metric_prefix`` marks key checks). ``on_call`` replaces that recorder, for a caller
    that may roll its transaction back and records the collected metrics itself afterwards."""
    config = current_app.config
    return provider_module(provider).build_client(
        base_url(provider), api_key, on_call=on_call or metrics.recorder(practice_id, prefix=metric_prefix),
        timeout=config["PROVIDER_TIMEOUT_SECONDS"], max_retries=config["PROVIDER_MAX_RETRIES"])


def client_for(config, *, on_call=None):
    """The client for a stored config (its key decrypted here, only for the call); ``on_call`` as in
    build_client."""
    if not config or not config.api_key:
        raise ServiceError(_("No API key is set for this integration."), code="unconfigured")
    return build_client(config.practice_id, config.provider, decrypt_secret(config.api_key), on_call=on_call)
