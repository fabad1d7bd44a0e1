"""The access providers the check-in knows, and QR code detection.

Each access provider is a module ``app.providers.<name>.access`` with:

- ``LABEL``, ``CODE_KIND`` (what its codes are called in the log), ``DEFAULT_BASE_URL``;
- ``SECRET_LABEL``: the label of its one secret credential, or None when it has none;
- ``ID_FIELDS``: its non-secret numeric ids, as (settings key, label);
- ``parse_code(text) -> (external_id, secret_part) | None``: whether a scanned text is one of its codes;
- ``validate(base_url, secret, settings, scanned, *, timeout_seconds, session=None) -> dict``: the provider's
  answer as ``{"decision", "code", "message", "member_name"}`` in the vocabulary of app.access.models, raising
  app.providers.base.ProviderError when there is no usable answer.

The list lives here until app.providers.registry gets an ACCESS_PROVIDERS table (the hub's tab is a later step)."""

import importlib
from dataclasses import dataclass

ACCESS_PROVIDERS = {
    "fitpass": "app.providers.fitpass.access",
    "friction": "app.providers.friction.access",
    "wellhub": "app.providers.wellhub.access",
}
UNKNOWN_KIND = "unknown"
# A scanned text longer than this is not a member code of any provider (a vCard is a few hundred characters).
MAX_CODE_LENGTH = 2000


@dataclass(frozen=True)
class Detected:
    """What a scanned text is: the provider (None when unknown), the kind of code, the member's id at the provider
    and the code's secret part (Friction's security code), which goes to the provider and nowhere else."""

    provider: str | None
    kind: str
    external_id: str | None = None
    secret_part: str | None = None

    def __repr__(self):
        """Never show the secret part."""
        return f"Detected(provider={self.provider!r}, kind={self.kind!r}, external_id={self.external_id!r})"


def adapter(name):
    """The access module of provider ``name``; KeyError for a name that is not an access provider."""
    return importlib.import_module(ACCESS_PROVIDERS[name])


def provider_names():
    """The access providers' names, in display order."""
    return list(ACCESS_PROVIDERS)


def provider_label(name):
    """The name people see for provider ``name`` (the name itself when unknown)."""
    return adapter(name).LABEL if name in ACCESS_PROVIDERS else (name or "")


def detect(text):
    """Route a scanned text by its format (a pure function: no database, no network). Unknown, empty, oversized or
    non-text input is a Detected with provider None and kind "unknown"."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_CODE_LENGTH or "\x00" in text:
        return Detected(None, UNKNOWN_KIND)
    for name in ACCESS_PROVIDERS:
        module = adapter(name)
        parsed = module.parse_code(text)
        if parsed is not None:
            return Detected(name, module.CODE_KIND, parsed[0], parsed[1])
    return Detected(None, UNKNOWN_KIND)
