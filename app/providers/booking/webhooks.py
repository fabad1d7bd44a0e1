"""Webhooks of the practice's booking tool: Standard Webhooks signatures and the event contract of DESIGN.md §5.

Verification uses the ``standardwebhooks`` reference library to build the expected signature, but checks the
headers and the timestamp itself: the library's ``Webhook.verify`` reads the clock from ``datetime.now`` (so a
caller cannot pass ``now``) and lets ValueError / binascii.Error / UnicodeDecodeError escape on malformed input,
where this module must fail closed with a SignatureError and a short reason."""

import base64
import hmac
import re
from datetime import UTC, date, datetime, timedelta
from secrets import token_bytes

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook
from werkzeug.datastructures import Headers

from app.providers.events import (
    APPOINTMENT_STATUSES,
    CANCELLED,
    COMPLETED,
    NO_SHOW,
    PENDING,
    REJECTED,
    SCHEDULED,
    AppointmentRecord,
    ParsedEvent,
    PatientRecord,
    PayloadError,
    SignatureError,
)
from app.providers.fields import MAX_DURATION, optional_text, utc_datetime

LABEL = _l("Booking tool")
SOURCE = "booking"
# The hub generates the secret (the booking tool is given it); the tool has a tab of its own in the hub.
SECRET_ENTRY = None
HUB_TEMPLATE = "hub/booking.html"

TOLERANCE = timedelta(minutes=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_DELIVERY_ID = 128
# The longest ids the appointment cache and the patients hold.
MAX_APPOINTMENT_ID = 128
MAX_PATIENT_ID = 64

_TIMESTAMP = re.compile(r"[0-9]{1,11}")  # up to year 5138: cannot overflow datetime
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

PATIENT_EVENTS = ("patient.created", "patient.updated")
APPOINTMENT_EVENTS = ("appointment.created", "appointment.updated", "appointment.cancelled")

# The booking tool's appointment statuses (compared case-insensitively): our own names, plus the usual spellings
# a booking tool may use for them.
STATUS_MAP = {status: status for status in APPOINTMENT_STATUSES} | {
    "confirmed": SCHEDULED,
    "booked": SCHEDULED,
    "requested": PENDING,
    "canceled": CANCELLED,
    "declined": REJECTED,
    "attended": COMPLETED,
    "no-show": NO_SHOW,
    "noshow": NO_SHOW,
}


def generate_secret():
    """A fresh Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(token_bytes(24)).decode()


def check_secret(secret):
    """A typed secret must be a Standard Webhooks secret (``whsec_`` and at least 16 base64 bytes); ValueError
    otherwise."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise ValueError(_("A booking-tool secret has the form whsec_ followed by at least 16 base64 bytes."))


def verify(body, headers, secrets, now):
    """The version of the first (version, secret) pair whose Standard Webhooks signature matches ``body``, the
    ``webhook-id`` and the ``webhook-timestamp``; SignatureError when headers are missing or malformed, the
    timestamp is more than 5 minutes from ``now`` (either way), the body is not UTF-8 or nothing matches."""
    found = _case_insensitive(headers)
    msg_id = found.get("webhook-id", "")
    timestamp = found.get("webhook-timestamp", "")
    signature = found.get("webhook-signature", "")
    if not (msg_id and timestamp and signature):
        raise SignatureError("missing signature headers")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError("malformed timestamp header")
    sent_at = EPOCH + timedelta(seconds=int(timestamp))
    if abs(now - sent_at) > TOLERANCE:
        raise SignatureError("timestamp outside the 5-minute tolerance")
    offered = _offered_signatures(signature)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("body is not UTF-8") from None
    for version, secret in secrets:
        try:
            expected = Webhook(secret).sign(msg_id=msg_id, timestamp=sent_at, data=text)
        except (ValueError, EmptyWebhookSecretError):
            # A secret that is not valid base64 cannot have signed anything; the next one may still match.
            continue
        digest = base64.b64decode(expected.partition(",")[2])
        if any(hmac.compare_digest(digest, candidate) for candidate in offered):
            return version
    raise SignatureError("no matching signature")


def _case_insensitive(headers):
    """``headers`` to look up by lower-case name: a request's headers (werkzeug's) are that already, and listing
    them decodes every header of the request (257 of 3,100 function calls per event, issue 16); any other mapping
    is copied with its names lowered."""
    if isinstance(headers, Headers):
        return headers
    return {name.lower(): value for name, value in headers.items()}


def _offered_signatures(header):
    """The decoded ``v1`` signatures of a ``webhook-signature`` header (a space-separated list of
    ``<version>,<base64>``); entries of other versions are skipped, as the specification asks."""
    offered = []
    for entry in header.split():
        version, comma, value = entry.partition(",")
        if version != "v1" or not comma:
            continue
        try:
            decoded = base64.b64decode(value, validate=True)
        except ValueError:
            continue
        if decoded:
            offered.append(decoded)
    if not offered:
        raise SignatureError("malformed signature header")
    return offered


def delivery_id(body, headers, payload):
    """The ``webhook-id`` header, which the sender keeps across retries of the same event."""
    msg_id = _case_insensitive(headers).get("webhook-id", "")
    if not msg_id:
        raise PayloadError("webhook-id header: required")
    if len(msg_id) > MAX_DELIVERY_ID:
        raise PayloadError(f"webhook-id header: longer than {MAX_DELIVERY_ID} characters")
    if not msg_id.isprintable():  # a control character (NUL above all) cannot be stored in a text column
        raise PayloadError("webhook-id header: holds a control character")
    return msg_id


def parse(payload, headers):
    """The PatientRecord or AppointmentRecord an event describes; unknown event types are ignored, missing or
    ill-typed fields raise PayloadError naming the field."""
    if not isinstance(payload, dict):
        raise PayloadError("body: expected a JSON object")
    event_type = payload.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise PayloadError("type: expected a non-empty string")
    if event_type not in PATIENT_EVENTS + APPOINTMENT_EVENTS:
        return ParsedEvent(event_type=event_type, ignored=f"unknown event type {event_type!r}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise PayloadError("data: expected an object")
    if event_type in PATIENT_EVENTS:
        return ParsedEvent(event_type=event_type, records=(_patient(data),))
    return ParsedEvent(event_type=event_type, records=(_appointment(event_type, data),))


def _patient(data):
    """The PatientRecord of a patient event's ``data``; email and phone are passed on as given (the core
    normalises them)."""
    return PatientRecord(
        external_id=_identifier(data, "patient_id", MAX_PATIENT_ID),
        first_name=_text(data, "first_name"),
        last_name=_text(data, "last_name"),
        email=_optional_text(data, "email"),
        phone=_optional_text(data, "phone"),
        birth_date=_birth_date(data, "birth_date"),
    )


def _appointment(event_type, data):
    """The AppointmentRecord of an appointment event's ``data``; ``appointment.cancelled`` is cancelled whatever
    status it carries."""
    starts_at = _datetime(data, "start")
    status = _status(data, "status")
    return AppointmentRecord(
        source=SOURCE,
        external_id=_identifier(data, "appointment_id", MAX_APPOINTMENT_ID),
        patient_external_id=_identifier(data, "patient_id", MAX_PATIENT_ID),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=_minutes(data, "duration_minutes")),
        status=CANCELLED if event_type == "appointment.cancelled" else status,
        therapist_name=_text(data, "therapist_name"),
        service_name=_text(data, "service_name"),
        source_updated_at=_datetime(data, "updated_at"),
    )


def _required(data, key):
    """``data[key]``, or PayloadError when it is missing or null."""
    value = data.get(key)
    if value is None:
        raise PayloadError(f"data.{key}: required")
    return value


def _identifier(data, key, max_length):
    """An id of the booking tool, a non-empty string or an integer, as a string of at most ``max_length``
    characters."""
    value = _required(data, key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"data.{key}: expected a non-empty string or an integer")
    if len(value) > max_length:
        raise PayloadError(f"data.{key}: longer than {max_length} characters")
    return value


def _text(data, key):
    """A required string (it may be empty)."""
    value = _required(data, key)
    if not isinstance(value, str):
        raise PayloadError(f"data.{key}: expected a string")
    return value


def _optional_text(data, key):
    """A string, or None when absent or null."""
    return optional_text(data.get(key), f"data.{key}")


def _birth_date(data, key):
    """A YYYY-MM-DD date, or None when absent or null."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise PayloadError(f"data.{key}: expected a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PayloadError(f"data.{key}: expected a date YYYY-MM-DD") from None


def _datetime(data, key):
    """An ISO 8601 date-time with an offset, in UTC."""
    return utc_datetime(_required(data, key), f"data.{key}")


def _minutes(data, key):
    """A positive whole number of minutes, up to MAX_DURATION (a week)."""
    value = _required(data, key)
    most = MAX_DURATION // timedelta(minutes=1)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= most:
        raise PayloadError(f"data.{key}: expected a whole number of minutes from 1 to {most}")
    return value


def _status(data, key):
    """The booking tool's status as one of our appointment statuses (see STATUS_MAP)."""
    value = _required(data, key)
    status = STATUS_MAP.get(value.strip().lower()) if isinstance(value, str) else None
    if status is None:
        raise PayloadError(f"data.{key}: unknown appointment status {value!r}")
    return status
