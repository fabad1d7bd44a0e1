"""Cal.com webhooks: ``X-Cal-Signature-256`` verification and the booking triggers of the 2021-10-20 payload.

Facts from contracts/calcom/CALCOM.md §7 and webhooks/README.md: the signature is the lowercase hex HMAC-SHA256
of the raw body (no timestamp, so there is no replay window to check); ``status`` values are upper case; a
reschedule sends only BOOKING_RESCHEDULED, whose ``uid`` is the *new* booking and ``rescheduleUid`` the original;
PING (the "Ping test" button) carries no booking. Cal.com delivers at most once, so the dedup key is the body's
hash: a byte-identical body can only be a repeat."""

import hashlib
import re
from secrets import token_urlsafe

from flask_babel import lazy_gettext as _l

from app.providers.events import (
    CANCELLED,
    PENDING,
    REJECTED,
    SCHEDULED,
    AppointmentRecord,
    ParsedEvent,
    PayloadError,
    SignatureError,
)
from app.providers.fields import header, hex_hmac_version, optional_text, sane_duration, utc_datetime

LABEL = _l("Cal.com")
SOURCE = "calcom"
# The hub generates the secret (and gives it to Cal.com when it registers the webhook); no tab of its own.
SECRET_ENTRY = None
HUB_TEMPLATE = None

_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
# What Cal.com sends in the signature header when the webhook has no secret.
UNSIGNED_MARKER = "no-secret-provided"
# The longest booking uid and attendee email the appointment cache holds.
MAX_UID = 128
MAX_EMAIL = 254

# The booking triggers we apply, with the status each one gives the booking it names.
TRIGGER_STATUS = {
    "BOOKING_CREATED": SCHEDULED,
    "BOOKING_REQUESTED": PENDING,
    "BOOKING_RESCHEDULED": SCHEDULED,
    "BOOKING_CANCELLED": CANCELLED,
    "BOOKING_REJECTED": REJECTED,
}


def generate_secret():
    """A fresh random token: Cal.com takes any string as the secret."""
    return token_urlsafe(32)


def check_secret(secret):
    """Cal.com takes any secret without spaces (checked by the core); nothing more to check."""


def verify(body, headers, secrets, now):
    """The version of the first (version, secret) pair whose HMAC-SHA256 of ``body`` equals the
    ``X-Cal-Signature-256`` header; SignatureError otherwise. ``now`` is unused: Cal.com signs no timestamp."""
    signature = header(headers, "x-cal-signature-256")
    if not signature:
        raise SignatureError("missing signature header")
    if signature == UNSIGNED_MARKER:
        raise SignatureError("the Cal.com webhook has no secret set")
    if not _HEX_DIGEST.fullmatch(signature):
        raise SignatureError("malformed signature header")
    return hex_hmac_version(secrets, body, signature)


def delivery_id(body, headers, payload):
    """The SHA-256 hex digest of the raw body: Cal.com sends no delivery id, and ``createdAt`` (the time of
    sending) makes two distinct deliveries differ."""
    return hashlib.sha256(body).hexdigest()


def parse(payload, headers):
    """The AppointmentRecord a booking trigger describes; PING and triggers we do not apply are ignored, and
    missing or ill-typed fields raise PayloadError naming the field."""
    if not isinstance(payload, dict):
        raise PayloadError("body: expected a JSON object")
    trigger = payload.get("triggerEvent")
    if not isinstance(trigger, str) or not trigger:
        raise PayloadError("triggerEvent: expected a non-empty string")
    if trigger == "PING":
        return ParsedEvent(event_type=trigger, ignored="ping")
    if trigger not in TRIGGER_STATUS:
        return ParsedEvent(event_type=trigger, ignored=f"trigger {trigger} is not applied")
    sent_at = utc_datetime(payload.get("createdAt"), "createdAt")
    booking = payload.get("payload")
    if not isinstance(booking, dict):
        raise PayloadError("payload: expected an object")
    attendee = _first_attendee(booking)
    organizer = booking.get("organizer", {})
    if not isinstance(organizer, dict):
        raise PayloadError("payload.organizer: expected an object")
    starts_at = utc_datetime(booking.get("startTime"), "payload.startTime")
    ends_at = utc_datetime(booking.get("endTime"), "payload.endTime")
    sane_duration(ends_at - starts_at, "payload.endTime - payload.startTime")
    record = AppointmentRecord(
        source=SOURCE,
        external_id=_uid(booking, "uid"),
        starts_at=starts_at,
        ends_at=ends_at,
        status=TRIGGER_STATUS[trigger],
        attendee_name=optional_text(attendee.get("name"), "payload.attendees[0].name") or "",
        attendee_email=optional_text(attendee.get("email"), "payload.attendees[0].email", MAX_EMAIL),
        therapist_name=optional_text(organizer.get("name"), "payload.organizer.name") or "",
        therapist_email=optional_text(organizer.get("email"), "payload.organizer.email"),
        service_name=_service_name(booking),
        source_updated_at=sent_at,
        replaces_external_id=_uid(booking, "rescheduleUid") if trigger == "BOOKING_RESCHEDULED" else None,
    )
    return ParsedEvent(event_type=trigger, records=(record,))


def _first_attendee(booking):
    """The booker: Cal.com lists them first, before any guests."""
    attendees = booking.get("attendees")
    if not isinstance(attendees, list) or not attendees:
        raise PayloadError("payload.attendees: expected a non-empty list")
    if not isinstance(attendees[0], dict):
        raise PayloadError("payload.attendees[0]: expected an object")
    return attendees[0]


def _service_name(booking):
    """The event type's title (``eventTitle``, e.g. "Strategy Session"); the booking ``title`` only when it is
    missing, since Cal.com builds that from the event type and the people ("… between Organizer and Guest")."""
    for key in ("eventTitle", "title"):
        value = booking.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _uid(booking, key):
    """A required booking uid (at most MAX_UID characters)."""
    value = booking.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"payload.{key}: expected a non-empty string")
    if len(value) > MAX_UID:
        raise PayloadError(f"payload.{key}: longer than {MAX_UID} characters")
    return value
