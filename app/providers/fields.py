"""Small readers shared by the providers' webhook modules: header lookup, hex HMAC matching, and typed fields of a
JSON payload that raise PayloadError naming the field."""

import hashlib
import hmac
from datetime import UTC, datetime

from app.providers.events import PayloadError, SignatureError


def header(headers, name):
    """The value of header ``name`` (any case), or ""."""
    name = name.lower()
    return next((value for key, value in headers.items() if key.lower() == name), "")


def hex_hmac_version(secrets, message, digest):
    """The version of the first (version, secret) pair whose lowercase hex HMAC-SHA256 of ``message`` equals
    ``digest`` (compared in constant time); SignatureError when none does."""
    for version, secret in secrets:
        expected = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, digest):
            return version
    raise SignatureError("no matching signature")


def optional_text(value, path):
    """``value`` when it is a string, None when it is null; PayloadError naming ``path`` otherwise."""
    if value is not None and not isinstance(value, str):
        raise PayloadError(f"{path}: expected a string or null")
    return value


def utc_datetime(value, path):
    """An ISO 8601 date-time with an offset, in UTC; a naive one is refused because its instant is unknown."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise PayloadError(f"{path}: expected an ISO 8601 date-time with offset")
    return parsed.astimezone(UTC)
