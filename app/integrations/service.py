"""The Integration Hub's use cases: each provider's configuration (checked with the provider before it is saved,
the key stored encrypted), the registration of our webhook at a provider that takes one, and the data the status
cards show. What differs between providers (their own settings and how they are cleaned, whether the key also signs
webhooks, the webhook registration, the card's facts) comes from the provider's hooks (app.providers.registry).

Saving follows one flow for every provider: validate the form, check a new key with the provider, encrypt, save
(with an audit entry), queue a sync when automatic sync is on, update the cached health. A provider that cannot
be reached (or is busy) does not lose the admin's input: the settings are saved with a warning and the state
``unreachable``. A key the provider rejects, or an answer that is not the provider's API (an HTML page, an
unexpected shape), saves nothing; the form says why."""

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import String, and_, func, join, literal, select, true, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.accounts.service import session_user_clause
from app.integrations import health, metrics
from app.integrations import sync as sync_service
from app.integrations.clients import ProviderCall, get_config, label, provider_call, provider_module, providers
from app.integrations.models import (
    DEGRADED,
    OK,
    RATE_LIMITED,
    SYNC_INTERVALS,
    UNCONFIGURED,
    IntegrationConfig,
    ProviderHealth,
)
from app.integrations.reachability import check_reachable
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
from app.tenancy.models import Location
from app.tenancy.settings import BOOKING_URL_TEMPLATE, check_booking_url_template
from app.webhooks.endpoints import (
    create_endpoint,
    endpoint_url,
    generate_secret,
    new_public_id,
    practice_endpoints,
    public_base_url,
)
from app.webhooks.endpoints import rotate_secret as rotate_endpoint_secret
from app.webhooks.models import WebhookEndpoint

# The practice's own settings a provider's form may edit (SettingField.practice_setting), with their rules.
PRACTICE_SETTINGS = {BOOKING_URL_TEMPLATE: check_booking_url_template}


class IntegrationValidationError(ServiceError):
    """Invalid settings; ``errors`` maps form fields to messages. Nothing was saved."""

    def __init__(self, errors):
        super().__init__(next(iter(errors.values())), field=next(iter(errors)), code="validation_failed")
        self.errors = errors


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
    """Clean a typed or pasted key and ask the provider whether it works (its ``check_key`` hook, the cheapest call
    that proves a key). The caller's transaction is ended before the call (it must hold no unsaved work); the
    call's metric is committed after it, so the check is visible in the hub's figures."""
    module = provider_module(provider)
    try:
        api_key = clean_api_key(raw_key)
    except ValueError as error:
        return KeyResult(False, str(error))
    try:
        with ProviderCall(practice_id, provider, api_key, metric_prefix=metrics.KEY_CHECK) as client:
            checked = module.check_key(client)
    except ProviderAuthError as error:
        return KeyResult(False, error.message, error=error)
    except ProviderError as error:
        return KeyResult(False, _("%(provider)s could not check the key: %(reason)s", provider=label(provider),
                                  reason=error.message), error=error)
    return KeyResult(True, _("Key accepted: %(account)s", account=checked.account), account=checked.account,
                     facts=checked.facts)


def _clean_settings(provider, data):
    """The sync switch and interval and the provider's own settings (its SETTINGS hook, in order) read from
    ``data``; IntegrationValidationError with a message per invalid field."""
    errors, values = {}, {}
    interval = str(data.get("sync_interval_minutes") or "").strip()
    if interval not in {str(choice) for choice in SYNC_INTERVALS}:
        errors["sync_interval_minutes"] = _("Choose an interval of 15, 30, 60 or 1440 minutes.")
    else:
        values["sync_interval_minutes"] = int(interval)
    values["sync_enabled"] = str(data.get("sync_enabled") or "").lower() in ("1", "true", "on", "y", "yes")
    for setting in provider_module(provider).SETTINGS:
        try:
            values[setting.name] = _clean_setting(setting, data.get(setting.name))
        except ValueError as error:
            errors[setting.name] = str(error)
    if errors:
        raise IntegrationValidationError(errors)
    return values


def _clean_setting(setting, raw):
    """One provider setting's value: by the practice settings' own rules for a practice setting, else by the
    provider's ``clean``; ValueError with the message for the admin."""
    if not setting.practice_setting:
        return setting.clean(raw)
    try:
        return PRACTICE_SETTINGS[setting.name](raw)
    except ServiceError as error:
        raise ValueError(error.message) from None


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
    module = provider_module(provider)
    values = _clean_settings(provider, data)
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
    changed = _apply_values(practice, config, module.SETTINGS, values)
    if key_result is not None:
        api_key = clean_api_key(raw_key)
        config.api_key = encrypt_secret(api_key)
        config.api_key_hint = key_hint(api_key)
        changed.append("api_key")
        if module.KEY_SIGNS_WEBHOOKS:
            _use_key_as_webhook_secret(actor, module.WEBHOOK_SOURCE, api_key)
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


def _apply_values(practice, config, settings, values):
    """Copy the cleaned values onto ``config`` (and a practice setting, such as the booking URL the "Termin buchen"
    button reads, onto the practice); returns the names that changed. ``settings`` are the provider's SETTINGS."""
    changed = []
    for name in ("sync_enabled", "sync_interval_minutes"):
        if getattr(config, name) != values[name]:
            setattr(config, name, values[name])
            changed.append(name)
    own = {setting.name: values[setting.name] for setting in settings if not setting.practice_setting}
    config.settings = _merged(config.settings, own, changed)
    shared = {setting.name: values[setting.name] for setting in settings if setting.practice_setting}
    if shared:
        practice.settings = _merged(practice.settings, shared, changed)
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


def _use_key_as_webhook_secret(actor, source, api_key):
    """A provider that signs its webhooks with the API key (KEY_SIGNS_WEBHOOKS): make the key the secret of the
    practice's endpoint of ``source`` (created when missing). Rotating keeps the previous key valid for
    WEBHOOK_PREVIOUS_SECRET_HOURS, so calls in flight during a key change are still verified."""
    endpoint = practice_endpoints(actor.practice_id).get(source)
    if endpoint is None:
        create_endpoint(actor, source, api_key, commit=False)
    elif decrypt_secret(endpoint.secret) != api_key:
        rotate_endpoint_secret(actor, endpoint, api_key, commit=False)


def register_webhook(actor, practice, provider):
    """Register our endpoint at the provider (its WEBHOOK_REGISTRATION hook: a new registration, or an update of
    the one for our URL) under a fresh secret, then store that secret in our endpoint (created when missing, under
    the URL the provider was given) and the registration's id and base URL in the settings, together. Nothing is
    written before the provider has answered, so no transaction waits for it; if the provider refuses, nothing
    changes here (ServiceError with the provider's own sentence). Returns the endpoint's URL."""
    module = provider_module(provider)
    registration = module.WEBHOOK_REGISTRATION
    if registration is None:
        raise ValueError(f"{provider} takes no webhook registration")
    source = module.WEBHOOK_SOURCE
    practice_id = practice.id
    config = get_config(practice_id, provider)
    call = provider_call(config)
    endpoint = practice_endpoints(practice_id).get(source)
    public_id = endpoint.public_id if endpoint is not None else new_public_id()
    url = endpoint_url(WebhookEndpoint(source=source, public_id=public_id))
    check_reachable(label(provider), url)
    secret = generate_secret(source)
    try:
        with call as client:
            webhook_id = registration.register(client, url, secret)
    except ProviderError as error:
        raise ServiceError(str(registration.refused) % {"reason": error.message}) from error
    endpoint = _registered_endpoint(actor, source, public_id, secret)
    if not endpoint.active:  # registering at the provider means events should arrive again
        endpoint.active = True
        audit_record("webhook.endpoint.enable", actor, practice_id=practice_id, object_type="webhook_endpoint",
                     object_id=endpoint.id, meta={"source": source})
    config = get_config(practice_id, provider)
    config.settings = {**(config.settings or {}), "webhook_id": webhook_id, "webhook_base_url": public_base_url()}
    health.update_facts(practice_id, provider, {"webhook_registered": True})
    audit_record("integration.webhook.register", actor, practice_id=practice_id, object_type="integration",
                 object_id=config.id, meta={"provider": provider, "webhook_id": webhook_id})
    db.session.commit()
    return endpoint_url(endpoint)


def _registered_endpoint(actor, source, public_id, secret):
    """Our endpoint of ``source`` at the URL the provider was just given, now with ``secret``: created, or its
    secret rotated (the previous one stays valid for a while). ServiceError when another admin created or replaced
    the endpoint during the call: the provider then posts to a URL we do not answer, and registering again fixes
    it."""
    changed = ServiceError(_("The webhook endpoint was changed by someone else while it was being registered. "
                             "Register it again."))
    endpoint = practice_endpoints(actor.practice_id).get(source)
    if endpoint is None:
        # The insert is the transaction's first statement (no savepoint and read before it): on SQLite it then
        # waits for a concurrent writer instead of failing on a snapshot that writer made stale.
        try:
            endpoint, _secret = create_endpoint(actor, source, secret, commit=False, public_id=public_id)
        except ServiceError:
            raise changed from None
        except IntegrityError:
            db.session.rollback()
            raise changed from None
    elif endpoint.public_id != public_id:
        raise changed
    else:
        rotate_endpoint_secret(actor, endpoint, secret, commit=False)
    return endpoint


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
    # The provider facts the card shows (its CARD_FACTS hook).
    facts: tuple = ()
    # When the worker calls the provider again on its own (health.next_attempt), for a rate-limited card.
    next_attempt_at: object = None

    @property
    def connected(self):
        """Configured and answering (ok, degraded, or rate-limited: the key works, the provider only asks us to
        wait)."""
        return self.configured and self.health.state in (OK, DEGRADED, RATE_LIMITED)


def _health_defaults(practice_id, provider):
    """An unsaved health row for a provider never checked: state unconfigured."""
    return ProviderHealth(practice_id=practice_id, provider=provider, state=UNCONFIGURED, consecutive_failures=0)


def _status_read(practice, *user):
    """The status cards' statement: the providers outer-joined to the practice's config and health rows (both by
    unique index), the prerequisite counts as scalar subqueries. ``practice`` is a practice id, or
    ``User.practice_id`` with ``user`` (the User entity) leading the FROM list, read along (session_status_rows)."""
    names = union_all(*(select(literal(name, String(32)).label("provider")) for name in providers())).subquery()
    staff = aliased(User)
    locations = select(func.count(Location.id)).where(Location.practice_id == practice).scalar_subquery()
    therapists = select(func.count(staff.id)).where(
        staff.practice_id == practice, staff.role == "therapist", staff.active).scalar_subquery()
    source = (join(*user, names, true()) if user else names).outerjoin(IntegrationConfig, and_(
        IntegrationConfig.practice_id == practice, IntegrationConfig.provider == names.c.provider,
        IntegrationConfig.location_id.is_(None)))
    source = source.outerjoin(ProviderHealth, and_(ProviderHealth.practice_id == practice,
                                                   ProviderHealth.provider == names.c.provider))
    return select(names.c.provider, IntegrationConfig, ProviderHealth, locations, therapists, *user).select_from(source)


def session_status_rows(session_id):
    """The status poll's one statement: the user of ``session_id`` (accounts' session check: active, same session
    version) and the status rows of that user's practice, for status_cards; (None, None) once the session has ended.
    Only reads: it runs as the poll's user loader, before anything may ask who the user is."""
    clause = session_user_clause(session_id)
    rows = db.session.execute(_status_read(User.practice_id, User).where(clause)).all() if clause is not None else []
    return (rows[0][-1], [row[:-1] for row in rows]) if rows else (None, None)


def status_cards(practice_id, rows=None):
    """One Card per provider, for the Übersicht tab, the provider tabs and the poll: from ``rows`` when the poll
    read them with its user (session_status_rows), else from ONE statement. Never calls a provider."""
    if rows is None:
        rows = db.session.execute(_status_read(practice_id)).all()
    found = {row[0]: row for row in rows}
    sandbox = current_app.config["HUB_SANDBOX"]
    cards = []
    for provider in providers():
        _name, config, health_row, location_count, therapist_count = found[provider]
        counts = {"location": location_count, "therapist": therapist_count}
        module = provider_module(provider)
        missing = tuple(need for need in module.PREREQUISITES if not counts[need])
        configured = bool(config and config.api_key)
        cards.append(Card(
            provider=provider, label=label(provider), sandbox=sandbox, configured=configured,
            key_hint=config.api_key_hint if configured else None,
            sync_enabled=bool(config and config.sync_enabled),
            sync_interval_minutes=config.sync_interval_minutes if config else None,
            next_sync_at=config.next_sync_at if config else None,
            health=health_row or _health_defaults(practice_id, provider), missing=missing, facts=module.CARD_FACTS,
            next_attempt_at=health.next_attempt(config),
        ))
    return cards
