"""Correctly signed but malformed bodies: every kind that used to end in a 5xx (and was then lost) is stored once as
a rejected event with a readable reason and its payload (encrypted), answered 400, and applies nothing; on SQLite
and on PostgreSQL."""

import hashlib
import hmac
import logging
import time

import pytest
from sqlalchemy import func, select

from app.appointments.models import Appointment, Call
from app.patients.models import Patient
from app.platform.security.crypto import decrypt_secret
from app.providers.calcom import webhooks as calcom_webhooks
from app.webhooks.models import WebhookEvent, WebhookRejection
from tests.signers import booking_event, compact, sign_booking, sign_calcom, sign_retell

HOSTILE = "@@hostile@@"  # replaced, quotes and all, by raw JSON text that json.dumps could not even write


def _appointment(**changes):
    return {"appointment_id": "A-1", "patient_id": "B-1", "start": "2030-05-04T09:30:00+02:00",
            "duration_minutes": 45, "therapist_name": "", "service_name": "Massage", "status": "scheduled",
            "updated_at": "2030-05-01T08:00:00+02:00", **changes}


def _booking(**changes):
    return booking_event("appointment.created", _appointment(**changes), event_id="msg_hostile")


def _calcom(booking=None, **changes):
    payload = {"uid": "uid-1", "startTime": "2030-05-04T09:30:00Z", "endTime": "2030-05-04T10:00:00Z",
               "attendees": [{"name": "Ada Muster", "email": "ada@example.test"}],
               "organizer": {"name": "Dr. Weber", "email": "weber@example.test"}, "eventTitle": "Massage",
               **(booking or {})}
    return {"triggerEvent": "BOOKING_CREATED", "createdAt": "2030-05-01T08:00:00Z", "payload": payload, **changes}


def _retell(**call):
    return {"event": "call_ended", "call": {"call_id": "call_1", "start_timestamp": 1_900_000_000_000,
                                            "end_timestamp": 1_900_000_060_000, **call}}


ENVELOPES = {"booking": _booking(duration_minutes=HOSTILE), "calcom": _calcom({"uid": HOSTILE}),
             "retell": _retell(duration_ms=HOSTILE)}
# Raw JSON text put where HOSTILE stands; each broke the receiver before (5xx, nothing stored).
RAW = {
    "an integer past Python's 4,300 digits": ("9" * 5000, "malformed JSON: a number longer than 40 characters"),
    "1,000 nested arrays": ("[" * 1000 + "]" * 1000, "malformed JSON: nested deeper than 32 levels"),
    "objects nested 950 deep": ('{"a":' * 950 + "1" + "}" * 950, "malformed JSON: nested deeper than 32 levels"),
    "a float past its range": ("1e999", "malformed JSON: a number longer than 40 characters or beyond"),
    "NaN": ("NaN", "malformed JSON: NaN is not JSON"),
    "the NUL character": ('"A-\\u0000-1"', "malformed JSON: a string holds the NUL character"),
    "an unpaired surrogate": ('"A-\\ud800-1"', "malformed JSON: a string holds an unpaired surrogate"),
}
# Well-formed JSON whose fields are out of range; each also broke the receiver (OverflowError, or a value the
# PostgreSQL column refuses).
FIELDS = {
    "booking: a start in year 1": ("booking", _booking(start="0001-01-01T00:30:00+01:00"), "data.start"),
    "booking: a start in year 9999": ("booking", _booking(start="9999-12-31T23:30:00-01:00"), "data.start"),
    "booking: 10^12 minutes": ("booking", _booking(duration_minutes=10**12), "data.duration_minutes"),
    "booking: an id longer than its column": ("booking", _booking(appointment_id="A" * 500), "data.appointment_id"),
    "calcom: created in year 1": ("calcom", _calcom(createdAt="0001-01-01T00:30:00+01:00"), "createdAt"),
    "calcom: ends 100 years later": ("calcom", _calcom({"endTime": "2130-05-04T10:00:00Z"}), "payload.endTime"),
    "calcom: an email longer than its column": ("calcom", _calcom({"attendees": [{"email": "a" * 300}]}),
                                                "payload.attendees[0].email"),
    "retell: 10^15 ms (a 32-bit column)": ("retell", _retell(duration_ms=10**15), "call.duration_ms"),
    "retell: 2^31 ms": ("retell", _retell(duration_ms=2**31), "call.duration_ms"),
    "retell: ends in year 9999": ("retell", _retell(end_timestamp=253_402_300_000_000), "call.end_timestamp"),
    "retell: a direction longer than its column": ("retell", _retell(direction="inbound" * 5), "call.direction"),
}


def _sign(source, secret, body):
    return {"booking": lambda: sign_booking(secret, body, msg_id="msg_hostile"),
            "calcom": lambda: sign_calcom(secret, body), "retell": lambda: sign_retell(secret, body)}[source]()


def _post(client, endpoints, source, body):
    endpoint, secret = endpoints[source]
    return client.post(f"/api/webhooks/{source}/{endpoint.public_id}", data=body.encode(),
                       headers=_sign(source, secret, body))


def _count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


def _assert_stored_once_as_unreadable(db, response, body, reason):
    """400 with ``reason``; one rejected event, verified by secret v1, with that reason and the body (encrypted);
    nothing counted as an unsigned refusal and nothing applied."""
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
    assert response.json["status"] == "rejected" and response.json["reason"].startswith(reason)
    [event] = db.session.scalars(select(WebhookEvent)).all()
    assert (event.outcome, event.secret_version) == ("rejected", 1)
    assert event.reject_reason == response.json["reason"]
    assert decrypt_secret(event.payload) == body
    assert _count(db, WebhookRejection) == 0
    assert _count(db, Appointment) == _count(db, Call) == _count(db, Patient) == 0
    return event


@pytest.mark.parametrize("source", ["booking", "calcom", "retell"])
@pytest.mark.parametrize("case", list(RAW))
def test_signed_bodies_json_cannot_hold_are_stored_as_unreadable(db, client, endpoints, source, case):
    raw, reason = RAW[case]
    body = compact(ENVELOPES[source]).replace(f'"{HOSTILE}"', raw)

    response = _post(client, endpoints, source, body)

    event = _assert_stored_once_as_unreadable(db, response, body, reason)
    assert event.preview is None  # nothing was read, so nothing to show redacted


@pytest.mark.parametrize("case", list(FIELDS))
def test_signed_events_with_fields_out_of_range_are_stored_as_unreadable(db, client, endpoints, case):
    source, payload, field = FIELDS[case]
    body = compact(payload)

    response = _post(client, endpoints, source, body)

    event = _assert_stored_once_as_unreadable(db, response, body, f"malformed event: {field}")
    assert event.preview.startswith("{")  # it was JSON: the redacted preview is there
    assert "Ada" not in event.preview and "ada@example.test" not in event.preview


@pytest.mark.parametrize("source", ["calcom", "retell"])
def test_a_signed_body_that_is_not_utf8_is_kept_with_its_bytes_escaped(db, client, endpoints, source):
    """Cal.com and Retell sign raw bytes, so a body that is not UTF-8 can be signed (the booking tool's signature
    covers text: there it is a signature failure)."""
    endpoint, secret = endpoints[source]
    body = b'{"event": "call_ended", "x": "\xff\xfe"}'
    if source == "calcom":
        signature = {"X-Cal-Signature-256": _hex_hmac(secret, body)}
    else:
        ms = str(int(time.time() * 1000))
        signature = {"x-retell-signature": f"v={ms},d={_hex_hmac(secret, body + ms.encode())}"}
    headers = {"Content-Type": "application/json", **signature}

    response = client.post(f"/api/webhooks/{source}/{endpoint.public_id}", data=body, headers=headers)

    assert response.status_code == 400 and response.json["reason"] == "malformed JSON: not UTF-8 text"
    [event] = db.session.scalars(select(WebhookEvent)).all()
    assert decrypt_secret(event.payload) == '{"event": "call_ended", "x": "\\xff\\xfe"}'


def _hex_hmac(secret, message):
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_a_parser_failure_still_stores_the_event_and_answers_400(db, client, endpoints, monkeypatch, caplog):
    """A source's parser that raises something it should not (a bug) is logged with its traceback, and the signed
    event is stored as unreadable: the sender gets a 4xx, never a 5xx that it would retry forever."""
    def broken_parse(payload, headers):
        raise OverflowError("date value out of range")

    monkeypatch.setattr(calcom_webhooks, "parse", broken_parse)
    caplog.set_level(logging.ERROR, logger="app")
    body = compact(_calcom())

    response = _post(client, endpoints, "calcom", body)

    _assert_stored_once_as_unreadable(db, response, body, "unreadable event: OverflowError")
    assert "the calcom parser failed" in caplog.text and "OverflowError" in caplog.text


def test_an_unreadable_event_is_listed_with_its_reason_and_its_payload_can_be_revealed(db, client, endpoints,
                                                                                       auth):
    body = compact(ENVELOPES["booking"]).replace(f'"{HOSTILE}"', "[" * 1000 + "]" * 1000)
    _post(client, endpoints, "booking", body)
    event = db.session.scalar(select(WebhookEvent))
    auth.login("admin")

    log = client.get("/webhooks/events").get_data(as_text=True)
    revealed = client.post(f"/webhooks/events/{event.id}/reveal").get_data(as_text=True)

    assert f'id="webhook-event-{event.id}"' in log
    assert "Nicht als JSON lesbar: tiefer als 32 Ebenen verschachtelt" in log  # the stored reason, in words
    assert "[[[[" in revealed  # too deep to pretty-print: shown as it came
