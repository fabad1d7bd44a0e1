"""Small readers shared by the providers' webhook modules: header lookup, hex HMAC matching, and typed fields of a
JSON payload that raise PayloadError naming the field (never quoting its value: reasons are stored and logged).

Times and durations are held to sane ranges, so that what a sender writes can neither overflow Python's datetime
arithmetic (``0001-01-01T00:30:00+01:00`` in UTC is before year 1; 10^12 minutes after anything is after 9999) nor
the database's columns (a duration in milliseconds is a 32-bit integer on PostgreSQL)."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from app.providers.events import PayloadError, SignatureError

# The instants an event may name, and the longest appointment or call: far wider than any real one.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MAX_DURATION = timedelta(days=7)


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


def optional_text(value, path, max_length=None):
    """``value`` when it is a string (of at most ``max_length`` characters, the column it goes to), None when it
    is null; PayloadError naming ``path`` otherwise."""
    if value is not None and not isinstance(value, str):
        raise PayloadError(f"{path}: expected a string or null")
    if value is not None and max_length is not None and len(value) > max_length:
        raise PayloadError(f"{path}: longer than {max_length} characters")
    return value


def utc_datetime(value, path):
    """An ISO 8601 date-time with an offset, in UTC, within EARLIEST and LATEST; a naive one is refused because
    its instant is unknown."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise PayloadError(f"{path}: expected an ISO 8601 date-time with offset")
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:  # hours from year 1 or 9999: outside what datetime holds once in UTC
        instant = None
    return sane_instant(instant, path)


def sane_instant(instant, path):
    """``instant`` (aware) when it lies from EARLIEST to before LATEST; PayloadError naming ``path`` otherwise (also
    for None: an instant that could not even be computed)."""
    if instant is None or not EARLIEST <= instant < LATEST:
        raise PayloadError(f"{path}: expected a date-time from {EARLIEST.year} to {LATEST.year - 1}")
    return instant


def sane_duration(duration, path):
    """``duration`` when it is from zero to MAX_DURATION; PayloadError naming ``path`` otherwise."""
    if not timedelta(0) <= duration <= MAX_DURATION:
        raise PayloadError(f"{path}: expected a duration from 0 to {MAX_DURATION.days} days")
    return duration
