"""The access providers the check-in knows, and QR code detection.

Each access provider is a module ``app.providers.<name>.access`` with:

- ``LABEL``, ``CODE_KIND`` (what its codes are called in the log), ``DEFAULT_BASE_URL``;
- ``SECRET_LABEL``: the label of its one secret credential, or None when it has none;
- ``ID_FIELDS``: its non-secret numeric ids, as (settings key, label);
- ``parse_code(text) -> (external_id, secret_part) | None``: whether a scanned text is one of its codes;
- ``validate(base_url, secret, settings, scanned, *, timeout_seconds, session=None) -> dict``: the provider's
  answer as ``{"decision", "code", "message", "member_name"}`` in the vocabulary of app.access.models, raising
  app.providers.base.ProviderError when there is no usable answer.

The providers are listed in app.providers.registry.ACCESS_PROVIDERS (the Integration Hub reads the same table for its
tabs). Besides theirs, Praxis Hub's own signed member codes (app.access.member_codes) are recognised, and validated
locally without a provider."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.access import member_codes
from app.access.models import ALLOW, Membership
from app.platform.extensions import db
from app.providers.registry import ACCESS_PROVIDERS, access_provider

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
    if name not in ACCESS_PROVIDERS:
        raise KeyError(name)
    return access_provider(name)


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
    own = member_codes.parse(text)
    if own is not None:  # the practice's own code: whose it is, the practice's check tells (resolve_member_code)
        return Detected(None, member_codes.CODE_KIND, own[0], own[1])
    for name in ACCESS_PROVIDERS:
        module = adapter(name)
        parsed = module.parse_code(text)
        if parsed is not None:
            return Detected(name, module.CODE_KIND, parsed[0], parsed[1])
    return Detected(None, UNKNOWN_KIND)


def resolve_member_code(detected, practice_id):
    """A detected Praxis Hub member code as the membership it stands for: the membership's provider and external
    id, so the check-in goes on as for that provider's own code (location settings, re-entry, log), with no secret
    part. A signature that is not this practice's is an unknown code; a valid code of an unlinked membership is one
    that no provider here uses. Any other detection is returned as it is."""
    if detected.kind != member_codes.CODE_KIND:
        return detected
    membership_id = member_codes.verify(practice_id, detected.external_id, detected.secret_part)
    if membership_id is None:
        return Detected(None, UNKNOWN_KIND)
    membership = db.session.execute(select(Membership.provider, Membership.external_id).where(
        Membership.id == membership_id, Membership.practice_id == practice_id,
        Membership.unlinked_at.is_(None))).first()
    if membership is None:
        return Detected(None, member_codes.CODE_KIND, str(membership_id))
    return Detected(membership.provider, member_codes.CODE_KIND, membership.external_id)


def member_code_verdict():
    """The verdict on a Praxis Hub member code whose signature and membership were checked: the practice vouches
    for its own code, so no provider is asked."""
    return {"decision": ALLOW, "code": None, "message": str(_l("Praxis Hub member code")), "member_name": None}
