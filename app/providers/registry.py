"""The providers Praxis Hub knows, and the hooks through which the core uses them without naming any.

The core (app.integrations, app.webhooks) never compares a provider's name: it looks the provider's module up here
and asks it. Adding a provider means adding its package under app/providers/ and one line in the dicts below.

A **webhook source** (WEBHOOK_SOURCES, by the name used in the URL /api/webhooks/<source>/...) is a module with:

- ``LABEL``: the name shown to people (lazy string);
- ``verify(body: bytes, headers, secrets: list[tuple[int, str]], now: datetime) -> int``: checks the signature
  over the exact raw bytes against each (secret_version, secret) pair, newest first, in constant time; returns the
  version that verified it, raises app.providers.events.SignatureError otherwise (fail closed);
- ``delivery_id(body: bytes, headers, payload: dict) -> str``: the dedup key (at most 128 characters);
- ``parse(payload: dict, headers) -> ParsedEvent``: the domain records, raising PayloadError for unreadable events;
- ``generate_secret() -> str``: a fresh signing secret in the form the sender expects; ValueError with a message
  for people when the hub cannot make one up (the sender signs with a key of its own);
- ``check_secret(secret: str)``: ValueError with a message for people when a typed secret has the wrong form;
- ``SECRET_ENTRY``: a SecretEntry when a person must enter the secret, None when the hub may generate it;
- ``HUB_TEMPLATE``: the page template of its own tab in the Integration Hub (the webhook card and its event log),
  or None for a source that has no tab of its own. The tab's URL is /integrations/<source>.

An **integration** (INTEGRATIONS: the hub configures, syncs and probes it) is a module with:

- ``LABEL`` and ``SANDBOX_LABEL``: names shown to people; ``WEBHOOK_SOURCE``: its webhook source, if any;
- ``PREREQUISITES``: what the practice needs first, a tuple of "location" and "therapist";
- ``build_client(base_url, api_key, *, on_call, timeout, max_retries, deadline)``: its HTTP client (a
  ProviderClient; ``deadline`` is a web request's budget, None for the worker);
- ``check_key(client) -> KeyCheck``: the cheapest call that proves a key works;
- ``probe(client, settings, webhook_url) -> ProbeResult``: connectivity, key, facts for the card;
- ``sync(client, settings, now, since) -> SyncBatch``: pull the provider's data as domain records;
- ``SYNC_CONFIG``: the sync settings taken from the app config when the practice set none, setting -> config key;
- ``SYNC_FACTS``: the counts of a sync that are card facts, count name -> health fact (e.g. event_type_count);
- ``COUNT_LABELS``: how the counts of its sync runs are named for people, count name -> lazy string;
- ``PROXY_OPERATIONS``: the read operations the outbound proxy allows, name -> app.providers.proxy.Operation;
- ``SETTINGS``: its settings form's own fields, in order, as SettingField (besides the key and the sync);
- ``KEY_SIGNS_WEBHOOKS``: True when the sender signs its webhooks with the API key itself, so saving a key also
  makes it the secret of its webhook endpoint;
- ``WEBHOOK_REGISTRATION``: a WebhookRegistration when the hub registers our endpoint at the provider, else None;
- ``WEBHOOK_TEMPLATE``: the template of what its webhook section says beyond the URL, or None;
- ``CARD_FACTS``: the provider facts its status card shows, as CardFact;
- ``MAPPINGS``: True when its tab shows the admin-correctable mappings its sync keeps (users, event types);
- ``HEALTH_CHECKS``: the optional checks of its detailed health report (BOOKING_ACTIVITY, UNMATCHED_* below).

An **access provider** (ACCESS_PROVIDERS: a door check-in validates a member's QR code with it, app.access) is a
module with ``LABEL``, ``CODE_KIND``, ``DEFAULT_BASE_URL``, ``SECRET_LABEL``, ``ID_FIELDS``, ``parse_code`` and
``validate`` (described in app.access.adapters). Its calls are recorded in integration_metrics under its name, and
the hub shows a tab per access provider with its health and metrics."""

import importlib
from collections.abc import Callable
from dataclasses import dataclass

WEBHOOK_SOURCES = {
    "booking": "app.providers.booking.webhooks",
    "calcom": "app.providers.calcom.webhooks",
    "retell": "app.providers.retell.webhooks",
}

INTEGRATIONS = {
    "calcom": "app.providers.calcom.integration",
    "retell": "app.providers.retell.integration",
}

ACCESS_PROVIDERS = {
    "fitpass": "app.providers.fitpass.access",
    "friction": "app.providers.friction.access",
    "wellhub": "app.providers.wellhub.access",
}

# The optional checks of the detailed health report (app.integrations.health_report) an integration may ask for:
# bookings of the provider created in the appointment cache lately, and its cached appointments or calls that match
# no patient.
BOOKING_ACTIVITY = "booking_activity"
UNMATCHED_APPOINTMENTS = "unmatched_appointments"
UNMATCHED_CALLS = "unmatched_calls"


@dataclass(frozen=True)
class SecretEntry:
    """How the webhooks admin asks for a secret the hub cannot generate: the field's label when an endpoint is
    created and when its secret is rotated, and the message when it was left empty."""

    create_label: str
    rotate_label: str
    missing: str


@dataclass(frozen=True)
class OptionList:
    """A setting chosen from the provider's own objects: the proxy operation that lists them (loaded when the tab
    shows the form) and ``choice(item) -> (value, label)`` that turns one listed object into a choice.
    ``mapping_kind`` is the kind of mapping a sync records for these objects (their names), so the saved choice is
    shown by name before, or without, the provider's list."""

    operation: str
    choice: Callable[[dict], tuple[str, str]]
    mapping_kind: str | None = None


@dataclass(frozen=True)
class SettingField:
    """One of a provider's own settings. ``field`` is the unbound WTForms field the settings form shows under
    ``name``; ``clean(raw) -> value`` reads the submitted value (None removes the setting) or raises ValueError with
    the message for the admin. ``summary_label`` names it where it is shown read-only (default: the field's label);
    ``help`` is shown under the field; ``options`` fills its choices from the provider. A ``practice_setting`` is
    kept in the practice's own settings (under ``name``, cleaned by their rules) instead of the integration's."""

    name: str
    field: object
    clean: Callable[[object], object] | None = None
    summary_label: str | None = None
    help: str | None = None
    options: OptionList | None = None
    practice_setting: bool = False


@dataclass(frozen=True)
class CardFact:
    """A provider fact on its status card: the health column that holds it (app.integrations.health.FACT_COLUMNS),
    its label, and the stem of the value's DOM id (``hub-<dom_id>-<provider>``)."""

    column: str
    label: str
    dom_id: str


@dataclass(frozen=True)
class WebhookRegistration:
    """Our webhook endpoint registered at the provider by the hub: ``register(client, url, secret) -> id`` makes
    the provider post to ``url`` signed with ``secret``; ``registered`` (with ``%(url)s``) and ``refused`` (with
    ``%(reason)s``) are what the admin is told."""

    register: Callable[[object, str, str], object]
    registered: str
    refused: str


def integration(name):
    """The module of integration ``name``, or None for an unknown one."""
    target = INTEGRATIONS.get(name)
    return importlib.import_module(target) if target else None


def webhook_source(name):
    """The module handling webhooks of source ``name``, or None for an unknown source."""
    target = WEBHOOK_SOURCES.get(name)
    return importlib.import_module(target) if target else None


def access_provider(name):
    """The access module of access provider ``name``, or None for an unknown one."""
    target = ACCESS_PROVIDERS.get(name)
    return importlib.import_module(target) if target else None
