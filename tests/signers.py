"""Real signers for test deliveries, the way each provider signs: the ``standardwebhooks`` reference library for
the booking tool, compact JSON with an HMAC-SHA256 hex digest for Cal.com, and Retell's ``v=<ms>,d=<hex>``."""

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook


def compact(payload):
    """JSON text as Cal.com and Retell send it: no whitespace, non-ASCII kept."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def booking_event(event_type, data, event_id="evt_1", occurred_at="2026-11-22T10:00:00+01:00"):
    """The booking tool's envelope."""
    return {"id": event_id, "type": event_type, "occurred_at": occurred_at, "data": data}


def sign_booking(secret, body: str, msg_id="msg_1", timestamp=None):
    """Headers of a Standard Webhooks delivery of ``body`` (signed by the reference library)."""
    when = timestamp or datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body),
    }


def sign_calcom(secret, body: str):
    """Headers of a Cal.com delivery: lowercase hex HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Cal-Signature-256": digest}


def sign_retell(api_key, body: str, timestamp_ms=None):
    """Headers of a Retell delivery: ``v=<ms>,d=<hex HMAC-SHA256(body + ms)>`` keyed with the API key."""
    ms = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    digest = hmac.new(api_key.encode(), body.encode() + str(ms).encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "x-retell-signature": f"v={ms},d={digest}"}
