"""Retell.ai webhooks: ``x-retell-signature`` verification and the call events of the voice agent.

Facts from contracts/PROVIDERS.md §1: the header is ``v=<unix ms>,d=<64 lowercase hex>``, the HMAC-SHA256 key is
the Retell API key (the endpoint's secret) and the message is the raw body bytes followed by the decimal
timestamp; ±5 minutes (inclusive) are accepted. The body is ``{"event", "call": {…}}``; the docs' own example has
no ``agent_version``, so nothing here requires it, and unknown keys are ignored."""

import re
from datetime import UTC, datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.providers.events import CallRecord, ParsedEvent, PayloadError, SignatureError
from app.providers.fields import MAX_DURATION, header, hex_hmac_version, sane_duration, sane_instant
from app.providers.registry import SecretEntry

LABEL = _l("Retell.ai")
# Retell signs with the practice's API key, which the hub cannot make up: a person enters it. No tab of its own.
SECRET_ENTRY = SecretEntry(create_label=_l("Retell API key"), rotate_label=_l("New Retell API key"),
                           missing=_l("Enter the Retell API key: Retell signs its webhooks with it."))
HUB_TEMPLATE = None

TOLERANCE_MS = 300_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_DELIVERY_ID = 128

# The SDK's own pattern (retell-sdk >= 5.60): nothing before, between or after the two parts.
_SIGNATURE = re.compile(r"v=([0-9]{1,15}),d=([0-9a-f]{64})")

# The events we apply, with the stage that orders them within one call.
EVENT_STAGE = {"call_started": 1, "call_ended": 2, "call_analyzed": 3}
MAX_DURATION_MS = MAX_DURATION // timedelta(milliseconds=1)  # fits the calls table's 32-bit column
# The longest text each call field may have: the columns of the calls table.
MAX_LENGTHS = {"call_id": 128, "agent_id": 128, "direction": 16, "from_number": 32, "to_number": 32,
               "call_status": 32, "user_sentiment": 32, "disconnection_reason": 64}


def generate_secret():
    """Never: the secret is the Retell API key (ValueError saying so)."""
    raise ValueError(_("Retell signs its webhooks with the Retell API key: enter the API key as the secret."))


def check_secret(secret):
    """Any API key without spaces (checked by the core) may be the secret; Retell itself judges the key."""


def verify(body, headers, secrets, now):
    """The version of the first (version, API key) pair whose HMAC-SHA256 of ``body`` + timestamp equals the
    header's digest; SignatureError when the header is missing or malformed, its timestamp is more than
    5 minutes from ``now`` (either way), or nothing matches."""
    signature = header(headers, "x-retell-signature")
    if not signature:
        raise SignatureError("missing signature header")
    match = _SIGNATURE.fullmatch(signature)
    if not match:
        raise SignatureError("malformed signature header")
    timestamp, digest = match.groups()
    now_ms = (now - EPOCH) // timedelta(milliseconds=1)
    if abs(now_ms - int(timestamp)) > TOLERANCE_MS:
        raise SignatureError("timestamp outside the 5-minute tolerance")
    return hex_hmac_version(secrets, body + timestamp.encode("ascii"), digest)


def delivery_id(body, headers, payload):
    """``<call id>:<event>``: Retell sends each event of a call once, retrying the same body on failure."""
    event = _event(payload)
    call_id = _text(_call(payload), "call_id", required=True)
    key = f"{call_id}:{event}"
    if len(key) > MAX_DELIVERY_ID:
        raise PayloadError(f"call.call_id: longer than {MAX_DELIVERY_ID - len(event) - 1} characters")
    return key


def parse(payload, headers):
    """The CallRecord of a call_started, call_ended or call_analyzed event; other events are ignored, and
    missing or ill-typed fields raise PayloadError naming the field."""
    event = _event(payload)
    if event not in EVENT_STAGE:
        return ParsedEvent(event_type=event, ignored=f"event {event} is not applied")
    return ParsedEvent(event_type=event, records=(call_record(_call(payload), EVENT_STAGE[event]),))


def call_record(call, stage):
    """The CallRecord of one Retell call object at ``stage``; missing or ill-typed fields raise PayloadError naming
    the field (``call.<key>``). Shared by ``parse`` (webhook deliveries) and the REST client's call list, which
    carry the same call object, so both map it the same way."""
    started_at = _time(call, "start_timestamp")
    ended_at = _time(call, "end_timestamp")
    duration_ms = _integer(call, "duration_ms")
    if duration_ms is not None and duration_ms > MAX_DURATION_MS:
        raise PayloadError(f"call.duration_ms: expected at most {MAX_DURATION_MS} ({MAX_DURATION.days} days)")
    if duration_ms is None and started_at and ended_at:
        # The docs example has both times but no duration_ms.
        duration_ms = sane_duration(ended_at - started_at, "call.end_timestamp - call.start_timestamp") \
            // timedelta(milliseconds=1)
    analysis = call.get("call_analysis", {})
    if not isinstance(analysis, dict):
        raise PayloadError("call.call_analysis: expected an object")
    successful = analysis.get("call_successful")
    if successful is not None and not isinstance(successful, bool):
        raise PayloadError("call.call_analysis.call_successful: expected true, false or null")
    return CallRecord(
        external_id=_text(call, "call_id", required=True),
        stage=stage,
        agent_id=_text(call, "agent_id"),
        direction=_text(call, "direction"),
        from_number=_text(call, "from_number"),
        to_number=_text(call, "to_number"),
        status=_text(call, "call_status"),
        started_at=started_at,
        ended_at=ended_at,
        duration_ms=duration_ms,
        summary=_text(analysis, "call_summary", path="call.call_analysis"),
        sentiment=_text(analysis, "user_sentiment", path="call.call_analysis"),
        successful=successful,
        disconnection_reason=_text(call, "disconnection_reason"),
        transcript=_text(call, "transcript"),
    )


def _event(payload):
    """The event name of the envelope."""
    if not isinstance(payload, dict):
        raise PayloadError("body: expected a JSON object")
    event = payload.get("event")
    if not isinstance(event, str) or not event:
        raise PayloadError("event: expected a non-empty string")
    return event


def _call(payload):
    """The call object of the envelope."""
    call = payload.get("call")
    if not isinstance(call, dict):
        raise PayloadError("call: expected an object")
    return call


def _text(data, key, path="call", required=False):
    """A string (no longer than its column, MAX_LENGTHS), or None when absent or null and not ``required``."""
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise PayloadError(f"{path}.{key}: expected a {'non-empty ' if required else ''}string")
    if key in MAX_LENGTHS and len(value) > MAX_LENGTHS[key]:
        raise PayloadError(f"{path}.{key}: longer than {MAX_LENGTHS[key]} characters")
    return value


def _integer(data, key):
    """A non-negative integer, or None when absent or null."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PayloadError(f"call.{key}: expected a non-negative integer")
    return value


def _time(data, key):
    """A Unix time in milliseconds as an aware UTC datetime (in the sane range of app.providers.fields), or None
    when absent or null."""
    value = _integer(data, key)
    if value is None:
        return None
    try:
        instant = EPOCH + timedelta(milliseconds=value)
    except OverflowError:
        instant = None
    return sane_instant(instant, f"call.{key}")
