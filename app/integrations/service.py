"""The Integration Hub's use cases: each provider's configuration (checked with the provider before it is saved,
the key stored encrypted), clients built with the hub's timeouts and a metrics recorder, Cal.com webhook
registration, and the data the status cards show.

Saving follows one flow for every provider: validate the form, check a new key with the provider, encrypt, save
(with an audit entry), queue a sync when automatic sync is on, update the cached health. A provider that cannot
be reached (or is busy) does not lose the admin's input: the settings are saved with a warning and the state
``unreachable``. A key the provider rejects, or an answer that is not the provider's API (an HTML page, an
unexpected shape), saves nothing; the form says why."""

import re
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import String, and_, func, literal, select, union_all

from app.accounts.models import User
from app.integrations import health, metrics
from app.integrations.models import SYNC_INTERVALS, UNCONFIGURED, IntegrationConfig, ProviderHealth
from app.platform.audit.service import record as audit_record
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.crypto import decrypt_secret, encrypt_secret
from app.providers.base import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderUnreachable,
    clean_api_key,
)
from app.providers.registry import INTEGRATIONS, integration
from app.tenancy.models import Location
from app.tenancy.settings import BOOKING_URL_TEMPLATE, check_booking_url_template
from app.webhooks.endpoints import create_endpoint, endpoint_url, generate_secret, practice_endpoints
from app.webhooks.endpoints import rotate_secret as rotate_endpoint_secret

_TEAM_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
# The settings each provider's form saves (besides the key and the sync switch and interval).
SETTING_FIELDS = {
    "calcom": ("team_slug", "default_event_type_id", BOOKING_URL_TEMPLATE),
    "retell": ("default_agent_id",),
}


class IntegrationValidationError(ServiceError):
    """Invalid settings; ``errors`` maps form fields to messages. Nothing was saved."""

    def __init__(self, errors):
        super().__init__(next(iter(errors.values())), field=next(iter(errors)), code="validation_failed")
        self.errors = errors


def providers():
    """The names of the integrations the hub offers, in display order."""
    return tuple(INTEGRATIONS)


def provider_module(provider):
    """The integration module of ``provider``; ServiceError (404-worthy) for an unknown one."""
    module = integration(provider)
    if module is None:
        raise ServiceError(_("Unknown integration %(provider)s.", provider=provider), code="not_found")
    return module


def label(provider):
    """The provider's name as shown everywhere: "Cal.com", or "Cal.com (Sandbox)" while HUB_SANDBOX is on."""
    module = provider_module(provider)
    return str(module.SANDBOX_LABEL if current_app.config["HUB_SANDBOX"] else module.LABEL)


def base_url(provider):
    """Where the provider's API is: the sandbox fake while HUB_SANDBOX is on, else CALCOM_API_URL/RETELL_API_URL."""
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


def key_hint(api_key):
    """The last four characters of a key, for "set, ends in …"."""
    return api_key[-4:]


@dataclass(frozen=True)
class KeyResult:
    """The provider's verdict on a key: ``ok``; ``account`` it belongs to; ``message`` for the admin; ``error``
    the ProviderError behind a failed check (None when the key was accepted or never sent)."""

    ok: bool
    message: str
    account: str | None = None
    error: ProviderError | None = None
    facts: dict = field(default_factory=dict)

    @property
    def unanswered(self):
        """True when the provider could not give a verdict: unreachable, timed out, a server error, or busy (429).
        Only then are settings saved unverified (with a warning); a refused key or an answer that is not the
        provider's API (HTML, an unexpected shape, another 4xx) saves nothing."""
        return isinstance(self.error, (ProviderUnreachable, ProviderRateLimited))


def check_key(practice_id, provider, raw_key):
    """Clean a typed or pasted key and ask the provider whether it works (Cal.com ``GET /v2/me``, Retell lists
    agents). The call's metric is committed, so the check is visible in the hub's figures."""
    module = provider_module(provider)
    try:
        api_key = clean_api_key(raw_key)
    except ValueError as error:
        return KeyResult(False, str(error))
    try:
        checked = module.check_key(build_client(practice_id, provider, api_key, metric_prefix=metrics.KEY_CHECK))
    except ProviderAuthError as error:
        db.session.commit()
        return KeyResult(False, error.message, error=error)
    except ProviderError as error:
        db.session.commit()
        return KeyResult(False, _("%(provider)s could not check the key: %(reason)s", provider=label(provider),
                                  reason=error.message), error=error)
    db.session.commit()
    return KeyResult(True, _("Key accepted: %(account)s", account=checked.account), account=checked.account,
                     facts=checked.facts)


def _clean_settings(practice, provider, data):
    """The provider settings, sync switch and interval read from ``data``; IntegrationValidationError with a
    message per invalid field."""
    errors, values = {}, {}
    interval = str(data.get("sync_interval_minutes") or "").strip()
    if interval not in {str(choice) for choice in SYNC_INTERVALS}:
        errors["sync_interval_minutes"] = _("Choose an interval of 15, 30, 60 or 1440 minutes.")
    else:
        values["sync_interval_minutes"] = int(interval)
    values["sync_enabled"] = str(data.get("sync_enabled") or "").lower() in ("1", "true", "on", "y", "yes")
    if provider == "calcom":
        slug = (data.get("team_slug") or "").strip().lower()
        if slug and not _TEAM_SLUG.fullmatch(slug):
            errors["team_slug"] = _("A team slug has lower-case letters, digits and hyphens, as in the team's URL.")
        values["team_slug"] = slug or None
        event_type = str(data.get("default_event_type_id") or "").strip()
        if event_type and not event_type.isdigit():
            errors["default_event_type_id"] = _("Choose one of the practice's Cal.com event types.")
        values["default_event_type_id"] = int(event_type) if event_type else None
        try:
            values[BOOKING_URL_TEMPLATE] = check_booking_url_template(data.get(BOOKING_URL_TEMPLATE))
        except ServiceError as error:
            errors[BOOKING_URL_TEMPLATE] = error.message
    if provider == "retell":
        agent = (data.get("default_agent_id") or "").strip()
        if len(agent) > 128 or any(character.isspace() for character in agent):
            errors["default_agent_id"] = _("Choose one of the account's Retell agents.")
        values["default_agent_id"] = agent or None
    if errors:
        raise IntegrationValidationError(errors)
    return values


@dataclass(frozen=True)
class SaveOutcome:
    """What saving did: the fields that changed, a warning to show (provider unreachable), whether a sync was
    queued, and the resulting health state."""

    changed: tuple
    warning: str | None
    sync_queued: bool
    state: str


def save(actor, practice, provider, data):
    """Validate and save ``provider``'s settings for the practice (see the module docstring for the flow).
    ``data["api_key"]`` empty keeps the stored key. Returns a SaveOutcome; raises IntegrationValidationError
    (nothing saved) for invalid fields or a key the provider rejects."""
    from app.integrations import sync as sync_service

    provider_module(provider)
    values = _clean_settings(practice, provider, data)
    raw_key = data.get("api_key") or ""
    key_result = None
    if raw_key.strip():
        key_result = check_key(practice.id, provider, raw_key)
        if not key_result.ok and not key_result.unanswered:
            raise IntegrationValidationError({"api_key": key_result.message})
    config = get_config(practice.id, provider)
    if config is None:
        if key_result is None:
            raise IntegrationValidationError({"api_key": _("Enter the API key to connect %(provider)s.",
                                                           provider=label(provider))})
        config = IntegrationConfig(practice_id=practice.id, provider=provider, settings={}, active=True)
        db.session.add(config)
    changed = _apply_values(practice, config, provider, values)
    if key_result is not None:
        api_key = clean_api_key(raw_key)
        config.api_key = encrypt_secret(api_key)
        config.api_key_hint = key_hint(api_key)
        changed.append("api_key")
        if provider_module(provider).WEBHOOK_SOURCE == "retell":
            _use_key_as_webhook_secret(actor, api_key)
    now = utcnow()
    config.updated_at = now
    if config.sync_enabled and (config.next_sync_at is None or "sync_interval_minutes" in changed
                                or "sync_enabled" in changed):
        config.next_sync_at = now
    config.next_probe_at = now + timedelta(seconds=current_app.config["HUB_PROBE_SECONDS"])
    db.session.flush()
    audit_record("integration.update", actor, practice_id=practice.id, object_type="integration",
                 object_id=config.id, meta={"provider": provider, "changed": sorted(changed)})
    warning = None
    if key_result is not None:
        if key_result.ok:
            state = health.record_ok(practice.id, provider, facts=key_result.facts, now=now)
        else:
            state = health.record_failure(practice.id, provider, key_result.error, now=now)
            warning = _("Saved, but %(provider)s could not be reached to check the key: %(reason)s. The status "
                        "shows it until a check succeeds.", provider=label(provider),
                        reason=key_result.error.message)
    else:
        state = health.get(practice.id, provider).state
    db.session.commit()
    sync_queued = False
    if config.sync_enabled and key_result is not None and key_result.ok:
        _run, sync_queued = sync_service.request_sync(practice.id, provider, "manual",
                                                      user_id=actor.user.id if actor.user else None)
    return SaveOutcome(tuple(sorted(changed)), warning, sync_queued, state)


def _apply_values(practice, config, provider, values):
    """Copy the cleaned values onto ``config`` (and the practice's booking URL, which the "Termin buchen" button
    reads); returns the names that changed."""
    changed = []
    for name in ("sync_enabled", "sync_interval_minutes"):
        if getattr(config, name) != values[name]:
            setattr(config, name, values[name])
            changed.append(name)
    names = [name for name in SETTING_FIELDS[provider] if name != BOOKING_URL_TEMPLATE]
    config.settings = _merged(config.settings, {name: values[name] for name in names}, changed)
    if BOOKING_URL_TEMPLATE in values:
        practice.settings = _merged(practice.settings, {BOOKING_URL_TEMPLATE: values[BOOKING_URL_TEMPLATE]}, changed)
    return changed


def _merged(settings, updates, changed):
    """A new dict (the JSON column does not track in-place changes) of ``settings`` with ``updates`` applied, a
    None value removing its key; the names that differ are appended to ``changed``."""
    merged = dict(settings or {})
    for name, value in updates.items():
        if merged.get(name) == value:
            continue
        changed.append(name)
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def _use_key_as_webhook_secret(actor, api_key):
    """Retell signs webhooks with the API key: make it the secret of the practice's Retell endpoint (created
    when missing). Rotating keeps the previous key valid for WEBHOOK_PREVIOUS_SECRET_HOURS, so calls in flight
    during a key change are still verified."""
    endpoint = practice_endpoints(actor.practice_id).get("retell")
    if endpoint is None:
        create_endpoint(actor, "retell", api_key, commit=False)
    elif decrypt_secret(endpoint.secret) != api_key:
        rotate_endpoint_secret(actor, endpoint, api_key, commit=False)


def register_calcom_webhook(actor, practice):
    """Register our Cal.com endpoint at Cal.com (``POST /v2/webhooks`` with the booking triggers, or an update of
    the registration for our URL) under a fresh secret, then store that secret in our endpoint (created when
    missing) and the registration's id in the settings, together. If Cal.com refuses, nothing changes here."""
    config = get_config(practice.id, "calcom")
    client = client_for(config)
    endpoints = practice_endpoints(practice.id)
    endpoint = endpoints.get("calcom")
    secret = generate_secret("calcom")
    if endpoint is None:
        endpoint, _secret = create_endpoint(actor, "calcom", secret, commit=False)
    url = endpoint_url(endpoint)
    module = provider_module("calcom")
    try:
        webhook_id = module.register_webhook(client, url, secret)
    except ProviderError as error:
        db.session.rollback()
        _record_metrics_after_rollback(practice.id, "calcom", error)
        raise ServiceError(_("Cal.com did not accept the webhook: %(reason)s", reason=error.message)) from error
    if endpoints.get("calcom") is not None:
        rotate_endpoint_secret(actor, endpoint, secret, commit=False)
    if not endpoint.active:  # registering at Cal.com means events should arrive again
        endpoint.active = True
        audit_record("webhook.endpoint.enable", actor, practice_id=practice.id, object_type="webhook_endpoint",
                     object_id=endpoint.id, meta={"source": "calcom"})
    settings = dict(config.settings or {})
    settings["webhook_id"] = webhook_id
    config.settings = settings
    health.update_facts(practice.id, "calcom", {"webhook_registered": True})
    audit_record("integration.webhook.register", actor, practice_id=practice.id, object_type="integration",
                 object_id=config.id, meta={"provider": "calcom", "webhook_id": webhook_id})
    db.session.commit()
    return url


def _record_metrics_after_rollback(practice_id, provider, error):
    """Keep the metric of a failed call whose transaction was rolled back (so the failure still counts)."""
    metrics.record(practice_id, provider, "webhooks.register", success=False, duration_ms=0,
                   status_code=error.status_code, error=error.message)
    db.session.commit()


@dataclass(frozen=True)
class Card:
    """Everything one status card shows, read in one statement (see status_cards)."""

    provider: str
    label: str
    sandbox: bool
    configured: bool
    key_hint: str | None
    sync_enabled: bool
    sync_interval_minutes: int | None
    next_sync_at: object
    health: ProviderHealth
    missing: tuple

    @property
    def connected(self):
        """Configured and answering (ok or degraded)."""
        return self.configured and self.health.state in ("ok", "degraded")


def _health_defaults(practice_id, provider):
    """An unsaved health row for a provider never checked: state unconfigured."""
    return ProviderHealth(practice_id=practice_id, provider=provider, state=UNCONFIGURED, consecutive_failures=0)


def status_cards(practice_id):
    """One Card per provider, for the Übersicht tab and its 30-second poll: ONE statement, the list of providers
    outer-joined to the practice's config and health rows (both found by unique index), with the prerequisite
    counts as scalar subqueries. Never calls a provider."""
    names = union_all(*(select(literal(name, String(32)).label("provider")) for name in providers())).subquery()
    locations = select(func.count(Location.id)).where(Location.practice_id == practice_id).scalar_subquery()
    therapists = select(func.count(User.id)).where(
        User.practice_id == practice_id, User.role == "therapist", User.active).scalar_subquery()
    rows = db.session.execute(
        select(names.c.provider, IntegrationConfig, ProviderHealth, locations, therapists)
        .select_from(names)
        .outerjoin(IntegrationConfig, and_(IntegrationConfig.practice_id == practice_id,
                                           IntegrationConfig.provider == names.c.provider,
                                           IntegrationConfig.location_id.is_(None)))
        .outerjoin(ProviderHealth, and_(ProviderHealth.practice_id == practice_id,
                                        ProviderHealth.provider == names.c.provider))
    ).all()
    found = {row[0]: row for row in rows}
    sandbox = current_app.config["HUB_SANDBOX"]
    cards = []
    for provider in providers():
        _name, config, health_row, location_count, therapist_count = found[provider]
        counts = {"location": location_count, "therapist": therapist_count}
        missing = tuple(need for need in provider_module(provider).PREREQUISITES if not counts[need])
        configured = bool(config and config.api_key)
        cards.append(Card(
            provider=provider, label=label(provider), sandbox=sandbox, configured=configured,
            key_hint=config.api_key_hint if configured else None,
            sync_enabled=bool(config and config.sync_enabled),
            sync_interval_minutes=config.sync_interval_minutes if config else None,
            next_sync_at=config.next_sync_at if config else None,
            health=health_row or _health_defaults(practice_id, provider), missing=missing,
        ))
    return cards
