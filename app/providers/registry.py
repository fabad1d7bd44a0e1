"""The webhook sources Praxis Hub accepts, by the name used in the URL (/api/webhooks/<source>/...).

Each source is a module that provides:

- ``LABEL``: the name shown to people (lazy string);
- ``verify(body: bytes, headers, secrets: list[tuple[int, str]], now: datetime) -> int``: checks the signature
  over the exact raw bytes against each (secret_version, secret) pair, newest first, in constant time; returns the
  version that verified it, raises app.providers.events.SignatureError otherwise (fail closed);
- ``delivery_id(body: bytes, headers, payload: dict) -> str``: the dedup key (at most 128 characters);
- ``parse(payload: dict, headers) -> ParsedEvent``: the domain records, raising PayloadError for unreadable events.

Adding a provider means adding its package and one line here."""

import importlib

WEBHOOK_SOURCES = {
    "booking": "app.providers.booking.webhooks",
    "calcom": "app.providers.calcom.webhooks",
    "retell": "app.providers.retell.webhooks",
}


# The integrations the hub configures, syncs and probes (app.integrations.service). Each module provides:
#
# - ``LABEL`` and ``SANDBOX_LABEL``: names shown to people; ``WEBHOOK_SOURCE``: its webhook source, if any;
# - ``PREREQUISITES``: what the practice needs first, a tuple of "location" and "therapist";
# - ``build_client(base_url, api_key, *, on_call, timeout, max_retries)``: its HTTP client;
# - ``check_key(client) -> KeyCheck``: the cheapest call that proves a key works;
# - ``probe(client, settings, webhook_url) -> ProbeResult``: connectivity, key, facts for the card;
# - ``sync(client, settings, now, since) -> SyncBatch``: pull the provider's data as domain records;
# - ``PROXY_OPERATIONS``: the read operations the outbound proxy allows, name -> app.providers.proxy.Operation.
INTEGRATIONS = {
    "calcom": "app.providers.calcom.integration",
    "retell": "app.providers.retell.integration",
}


def integration(name):
    """The module of integration ``name``, or None for an unknown one."""
    target = INTEGRATIONS.get(name)
    return importlib.import_module(target) if target else None


def webhook_source(name):
    """The module handling webhooks of source ``name``, or None for an unknown source."""
    target = WEBHOOK_SOURCES.get(name)
    return importlib.import_module(target) if target else None
