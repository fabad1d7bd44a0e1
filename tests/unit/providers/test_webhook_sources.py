"""Webhook sources (app.providers.{booking,calcom,retell}.webhooks): signatures checked against the providers'
known-answer vectors and real signers, and payloads parsed from the providers' own examples.

The contract files are copies in tests/fixtures/contracts/ (same sub-paths as shared/contracts/), so the tests
run from a bare clone; test_fixture_matches_shared_contract catches a copy that drifts from the original."""

import base64
import dataclasses
import hashlib
import hmac
import json
import secrets as secrets_module
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook
from werkzeug.datastructures import Headers

from app.providers import registry
from app.providers.booking import webhooks as booking
from app.providers.calcom import webhooks as calcom
from app.providers.events import (
    AppointmentRecord,
    CallRecord,
    ParsedEvent,
    PatientRecord,
    PayloadError,
    SignatureError,
)
from app.providers.retell import webhooks as retell

CONTRACTS = Path(__file__).parents[2] / "fixtures" / "contracts"
FIXTURE_FILES = sorted(str(path.relative_to(CONTRACTS)) for path in CONTRACTS.rglob("*") if path.is_file())


def contract_json(relative):
    """A contract file, parsed."""
    return json.loads((CONTRACTS / relative).read_text(encoding="utf-8"))


def at(seconds):
    """The aware UTC datetime of a Unix time in seconds (float for milliseconds)."""
    return datetime.fromtimestamp(seconds, UTC)


def utc(*args):
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)


def test_fixtures_are_present():
    """The copies the tests below rely on exist (a missing copy would otherwise shrink the parametrisations)."""
    assert len([name for name in FIXTURE_FILES if name.startswith("calcom/webhooks/") and name.endswith(".json")]) == 6
    assert len([name for name in FIXTURE_FILES if name.startswith("retell/webhook_")]) == 4


@pytest.mark.parametrize(
    ("name", "labels"),
    [("booking", {"Booking tool", "Buchungstool"}), ("calcom", {"Cal.com"}), ("retell", {"Retell.ai"})],
)
def test_registry_sources_provide_the_interface(app, name, labels):
    """Every registered source is importable and has every hook of the registry's interface."""
    module = registry.webhook_source(name)
    assert str(module.LABEL) in labels
    assert all(callable(getattr(module, attribute))
               for attribute in ("verify", "delivery_id", "parse", "generate_secret", "check_secret"))
    assert module.SECRET_ENTRY is None or isinstance(module.SECRET_ENTRY, registry.SecretEntry)
    assert module.HUB_TEMPLATE is None or module.HUB_TEMPLATE.startswith("hub/")


def test_generated_secrets_have_the_form_each_source_checks(english_messages):
    """The booking tool gets a Standard Webhooks secret and Cal.com a random token, each new every time and
    accepted by the source's own check; Retell's secret is its API key, so none is generated."""
    for module in (booking, calcom):
        first, second = module.generate_secret(), module.generate_secret()
        assert first != second and len(first) >= 32
        module.check_secret(first)
    assert booking.generate_secret().startswith("whsec_")
    with pytest.raises(ValueError, match="Retell signs its webhooks with the Retell API key"):
        retell.generate_secret()
    assert str(retell.SECRET_ENTRY.missing) == "Enter the Retell API key: Retell signs its webhooks with it."


@pytest.mark.parametrize("secret", ["whsec_c2hvcnQ=", "whsec_not base64!", "abc"])
def test_booking_refuses_secrets_that_are_not_standard_webhooks_secrets(english_messages, secret):
    """A typed booking-tool secret needs whsec_ and at least 16 base64 bytes."""
    with pytest.raises(ValueError, match="whsec_ followed by at least 16 base64 bytes"):
        booking.check_secret(secret)


SW_VECTOR = contract_json("standard-webhooks/signature_vectors.json")["vectors"][0]
SW_BODY = SW_VECTOR["body"].encode()
SW_NOW = at(SW_VECTOR["timestamp_s"])


def sw_headers(signature=SW_VECTOR["expected_signature"], msg_id=SW_VECTOR["msg_id"],
               timestamp=str(SW_VECTOR["timestamp_s"])):
    """The Standard Webhooks headers of the reference vector, with one value replaced."""
    return {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}


def test_booking_reference_library_reproduces_the_vector():
    """The standardwebhooks library signs the vector as the other reference libraries do."""
    signature = Webhook(SW_VECTOR["secret"]).sign(SW_VECTOR["msg_id"], SW_NOW, SW_VECTOR["body"])
    assert signature == SW_VECTOR["expected_signature"]


def test_booking_verify_known_answer():
    """The reference vector verifies with its secret, whose version is returned; header names are case-insensitive
    in a plain mapping too."""
    assert booking.verify(SW_BODY, sw_headers(), [(7, SW_VECTOR["secret"])], SW_NOW) == 7
    titled = {name.title(): value for name, value in sw_headers().items()}
    assert booking.verify(SW_BODY, titled, [(7, SW_VECTOR["secret"])], SW_NOW) == 7
    assert booking.delivery_id(SW_BODY, titled, {}) == SW_VECTOR["msg_id"]


def test_booking_verify_previous_secret_returns_its_version():
    """After a rotation the previous secret still verifies, and its own version is reported."""
    current = "whsec_" + base64.b64encode(secrets_module.token_bytes(24)).decode()
    secrets = [(5, current), (4, SW_VECTOR["secret"])]
    assert booking.verify(SW_BODY, sw_headers(), secrets, SW_NOW) == 4


def test_booking_verify_real_event_signed_by_the_library():
    """A contract event signed now with a fresh secret by the library verifies; header names are
    case-insensitive (Werkzeug's Headers, as the receiver gets them)."""
    secret = "whsec_" + base64.b64encode(secrets_module.token_bytes(32)).decode()
    body = json.dumps(patient_event(), ensure_ascii=False).encode()
    now = datetime.now(UTC).replace(microsecond=0)
    signature = Webhook(secret).sign("msg_1", now, body.decode())
    headers = Headers({"Webhook-Id": "msg_1", "Webhook-Timestamp": str(int(now.timestamp())),
                       "Webhook-Signature": f"v1,{'A' * 44} {signature}"})
    assert booking.verify(body, headers, [(1, secret)], now + timedelta(seconds=10)) == 1


@pytest.mark.parametrize("skew", [-300, 300])
def test_booking_verify_accepts_the_tolerance_edge(skew):
    """Exactly 5 minutes of skew, either way, still verifies."""
    assert booking.verify(SW_BODY, sw_headers(), [(1, SW_VECTOR["secret"])], SW_NOW + timedelta(seconds=skew)) == 1


@pytest.mark.parametrize("skew", [-301, 301, 86400])
def test_booking_verify_rejects_stale_or_future_timestamps(skew):
    """More than 5 minutes between the signed timestamp and ``now`` is refused, in both directions."""
    with pytest.raises(SignatureError, match="timestamp outside the 5-minute tolerance"):
        booking.verify(SW_BODY, sw_headers(), [(1, SW_VECTOR["secret"])], SW_NOW + timedelta(seconds=skew))


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (SW_BODY, {**sw_headers(), "webhook-id": ""}, "missing signature headers"),
        (SW_BODY, {"webhook-id": "x", "webhook-timestamp": "1614265330"}, "missing signature headers"),
        (SW_BODY, {}, "missing signature headers"),
        (SW_BODY, sw_headers(signature="v1"), "malformed signature header"),
        (SW_BODY, sw_headers(signature="v1,@@@"), "malformed signature header"),
        (SW_BODY, sw_headers(signature="garbage"), "malformed signature header"),
        (SW_BODY, sw_headers(signature="v1,"), "malformed signature header"),
        (SW_BODY, sw_headers(signature="v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), "malformed signature"),
        (SW_BODY, sw_headers(timestamp="garbage"), "malformed timestamp header"),
        (SW_BODY, sw_headers(timestamp="1614265330.0"), "malformed timestamp header"),
        (SW_BODY, sw_headers(timestamp="-1614265330"), "malformed timestamp header"),
        (SW_BODY, sw_headers(timestamp="9" * 40), "malformed timestamp header"),
        (SW_BODY[:-1], sw_headers(), "no matching signature"),
        (SW_BODY + b" ", sw_headers(), "no matching signature"),
        (SW_BODY, sw_headers(msg_id="msg_other"), "no matching signature"),
        (SW_BODY, sw_headers(signature="v1,Zm9v"), "no matching signature"),
        (b"\xff\xfe{}", sw_headers(), "body is not UTF-8"),
    ],
)
def test_booking_verify_rejects_bad_requests(body, headers, reason):
    """Missing, malformed or wrong signatures and unreadable bodies raise SignatureError, never another error."""
    with pytest.raises(SignatureError, match=reason):
        booking.verify(body, headers, [(1, SW_VECTOR["secret"])], SW_NOW)


def test_booking_verify_rejects_wrong_secret_and_skips_unusable_ones():
    """A secret that is not base64 is skipped rather than crashing; no secret matching fails closed."""
    wrong = "whsec_" + base64.b64encode(b"x" * 24).decode()
    with pytest.raises(SignatureError, match="no matching signature"):
        booking.verify(SW_BODY, sw_headers(), [(2, "whsec_"), (1, wrong)], SW_NOW)
    assert booking.verify(SW_BODY, sw_headers(), [(2, "whsec_a"), (1, SW_VECTOR["secret"])], SW_NOW) == 1


def test_booking_verify_rejects_when_no_secret_is_given():
    """No secrets at all means nothing can verify."""
    with pytest.raises(SignatureError):
        booking.verify(SW_BODY, sw_headers(), [], SW_NOW)


def test_booking_delivery_id_is_the_webhook_id():
    """The dedup key is the webhook-id header, kept across retries."""
    assert booking.delivery_id(SW_BODY, Headers(sw_headers()), {}) == SW_VECTOR["msg_id"]
    with pytest.raises(PayloadError, match="webhook-id"):
        booking.delivery_id(SW_BODY, {"webhook-id": "m" * 129}, {})
    with pytest.raises(PayloadError, match="webhook-id header: holds a control character"):
        booking.delivery_id(SW_BODY, {"webhook-id": "msg_\x00_1"}, {})


def patient_event(**data):
    """A patient.created event of the booking tool's contract, with ``data`` fields replaced."""
    return {
        "id": "evt_1",
        "type": "patient.created",
        "occurred_at": "2025-03-01T10:00:00+01:00",
        "data": {
            "patient_id": "P-1001",
            "first_name": "Lena",
            "last_name": "Becker",
            "email": "Lena.Becker@Example.com",
            "phone": "0151 2345 6723",
            "birth_date": "1988-04-12",
        }
        | data,
    }


def appointment_event(event_type="appointment.created", **data):
    """An appointment event of the booking tool's contract, with ``data`` fields replaced."""
    return {
        "id": "evt_2",
        "type": event_type,
        "occurred_at": "2025-03-01T10:00:00+01:00",
        "data": {
            "appointment_id": "A-5001",
            "patient_id": "P-1001",
            "start": "2025-03-10T09:00:00+01:00",
            "duration_minutes": 50,
            "therapist_name": "Maria Keller",
            "service_name": "Physiotherapie",
            "status": "scheduled",
            "updated_at": "2025-03-01T09:59:30+01:00",
        }
        | data,
    }


@pytest.mark.parametrize("event_type", ["patient.created", "patient.updated"])
def test_booking_parse_patient(event_type):
    """A patient event becomes a PatientRecord; email and phone pass through unchanged, birth date is a date."""
    parsed = booking.parse(patient_event() | {"type": event_type}, {})
    assert parsed == ParsedEvent(
        event_type=event_type,
        records=(PatientRecord(external_id="P-1001", first_name="Lena", last_name="Becker",
                               email="Lena.Becker@Example.com", phone="0151 2345 6723", birth_date=date(1988, 4, 12)),),
    )


def test_booking_parse_patient_without_optional_fields():
    """Email, phone and birth date may be null or absent; an integer id becomes a string."""
    event = patient_event(patient_id=42, email=None, phone=None)
    del event["data"]["birth_date"]
    (record,) = booking.parse(event, {}).records
    assert (record.external_id, record.email, record.phone, record.birth_date) == ("42", None, None, None)


def test_booking_parse_appointment():
    """An appointment event becomes an AppointmentRecord in UTC, ending ``duration_minutes`` after the start."""
    parsed = booking.parse(appointment_event(), {})
    assert parsed == ParsedEvent(
        event_type="appointment.created",
        records=(AppointmentRecord(
            source="booking", external_id="A-5001", patient_external_id="P-1001",
            starts_at=utc(2025, 3, 10, 8, 0), ends_at=utc(2025, 3, 10, 8, 50), status="scheduled",
            therapist_name="Maria Keller", service_name="Physiotherapie",
            source_updated_at=utc(2025, 3, 1, 8, 59, 30),
        ),),
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [("scheduled", "scheduled"), ("Confirmed", "scheduled"), ("canceled", "cancelled"), ("no_show", "no_show"),
     ("no-show", "no_show"), ("completed", "completed"), ("pending", "pending"), ("rescheduled", "rescheduled")],
)
def test_booking_parse_maps_statuses(status, expected):
    """The booking tool's statuses map onto ours."""
    (record,) = booking.parse(appointment_event("appointment.updated", status=status), {}).records
    assert record.status == expected


def test_booking_parse_cancelled_event_forces_cancelled():
    """appointment.cancelled cancels the appointment whatever status it carries."""
    (record,) = booking.parse(appointment_event("appointment.cancelled", status="scheduled"), {}).records
    assert record.status == "cancelled"


def test_booking_parse_ignores_unknown_types():
    """An event type outside the contract is recorded as ignored, with nothing to apply."""
    parsed = booking.parse({"id": "evt_3", "type": "invoice.paid", "data": {}}, {})
    assert parsed.event_type == "invoice.paid"
    assert parsed.records == ()
    assert "unknown event type" in parsed.ignored


@pytest.mark.parametrize("field", ["patient_id", "first_name", "last_name"])
def test_booking_parse_patient_requires(field):
    """Each required patient field missing is a PayloadError naming it."""
    event = patient_event()
    del event["data"][field]
    with pytest.raises(PayloadError, match=rf"^data\.{field}: required$"):
        booking.parse(event, {})


@pytest.mark.parametrize(
    "field",
    ["appointment_id", "patient_id", "start", "duration_minutes", "therapist_name", "service_name", "status",
     "updated_at"],
)
@pytest.mark.parametrize("event_type", ["appointment.created", "appointment.cancelled"])
def test_booking_parse_appointment_requires(event_type, field):
    """Each required appointment field missing (or null) is a PayloadError naming it."""
    event = appointment_event(event_type, **{field: None})
    with pytest.raises(PayloadError, match=rf"^data\.{field}: required$"):
        booking.parse(event, {})


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (appointment_event(start="2025-03-10T09:00:00"), "data.start: expected an ISO 8601 date-time with offset"),
        (appointment_event(start="2025-03-10"), "data.start: expected an ISO 8601 date-time with offset"),
        (appointment_event(start="next Monday"), "data.start: expected an ISO 8601 date-time with offset"),
        (appointment_event(start=1741593600), "data.start: expected an ISO 8601 date-time with offset"),
        (appointment_event(updated_at="2025-03-01 10:00"), "data.updated_at: expected an ISO 8601 date-time"),
        (appointment_event(duration_minutes="50"), "data.duration_minutes: expected a whole number of minutes"),
        (appointment_event(duration_minutes=True), "data.duration_minutes: expected a whole number of minutes"),
        (appointment_event(duration_minutes=0), "data.duration_minutes: expected a whole number of minutes"),
        (appointment_event(duration_minutes=50.5), "data.duration_minutes: expected a whole number of minutes"),
        # Out of range: a duration past a week (10^12 minutes overflowed datetime), instants that leave what
        # datetime holds once in UTC or that no appointment has, ids longer than their columns.
        (appointment_event(duration_minutes=10**12), "data.duration_minutes: expected a whole number of minutes "
                                                     "from 1 to 10080"),
        (appointment_event(duration_minutes=7 * 24 * 60 + 1), "data.duration_minutes: expected a whole number"),
        (appointment_event(start="0001-01-01T00:30:00+01:00"), "data.start: expected a date-time from 1900 to 2199"),
        (appointment_event(start="9999-12-31T23:30:00-01:00"), "data.start: expected a date-time from 1900 to 2199"),
        (appointment_event(start="1899-12-31T23:59:59+00:00"), "data.start: expected a date-time from 1900 to 2199"),
        (appointment_event(updated_at="2200-01-01T00:00:00Z"), "data.updated_at: expected a date-time from 1900"),
        (appointment_event(appointment_id="A" * 129), "data.appointment_id: longer than 128 characters"),
        (appointment_event(patient_id="B" * 65), "data.patient_id: longer than 64 characters"),
        (patient_event(patient_id=10**65), "data.patient_id: longer than 64 characters"),
        (appointment_event(status="maybe"), "data.status: unknown appointment status 'maybe'"),
        (appointment_event(status=3), "data.status: unknown appointment status 3"),
        (appointment_event(appointment_id=""), "data.appointment_id: expected a non-empty string or an integer"),
        (appointment_event(patient_id=True), "data.patient_id: expected a non-empty string or an integer"),
        (appointment_event(therapist_name=["Maria"]), "data.therapist_name: expected a string"),
        (patient_event(birth_date="1988-02-30"), "data.birth_date: expected a date YYYY-MM-DD"),
        (patient_event(birth_date="12.04.1988"), "data.birth_date: expected a date YYYY-MM-DD"),
        (patient_event(birth_date="19880412"), "data.birth_date: expected a date YYYY-MM-DD"),
        (patient_event(email=["a@b.c"]), "data.email: expected a string or null"),
        (patient_event(first_name=7), "data.first_name: expected a string"),
        ({"id": "x", "type": "patient.created", "data": []}, "data: expected an object"),
        ({"id": "x", "type": "patient.created"}, "data: expected an object"),
        ({"id": "x", "data": {}}, "type: expected a non-empty string"),
        ([1, 2], "body: expected a JSON object"),
    ],
)
def test_booking_parse_rejects_ill_typed_fields(event, message):
    """Ill-typed fields are PayloadErrors whose message names the field and what was expected."""
    with pytest.raises(PayloadError) as raised:
        booking.parse(event, {})
    assert str(raised.value).startswith(message)


CAL_README = (CONTRACTS / "calcom" / "webhooks" / "README.md").read_text(encoding="utf-8")
# The PING vector of calcom/webhooks/README.md (checked there with Node's crypto.createHmac).
CAL_PING_SECRET = "test-secret"
CAL_PING_SIGNATURE = "07add1ae6d58f5d45bf3076c9074c479b007f318b1ad112b6206ecb92a6fb15a"
CAL_NOW = utc(2026, 1, 15, 10, 0)


def cal_body(name):
    """An example delivery as Cal.com puts it on the wire: compact JSON, non-ASCII unescaped (Node's
    JSON.stringify)."""
    document = contract_json(f"calcom/webhooks/{name}.json")
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def cal_sign(body, secret):
    """X-Cal-Signature-256 as Cal.com computes it."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_calcom_ping_vector():
    """The compact form of PING.json is the README's signed body, and it verifies with the README's signature."""
    body = cal_body("PING")
    assert body.decode() in CAL_README
    assert CAL_PING_SIGNATURE in CAL_README
    headers = Headers({"X-Cal-Signature-256": CAL_PING_SIGNATURE})
    assert calcom.verify(body, headers, [(3, CAL_PING_SECRET)], CAL_NOW) == 3


def test_calcom_verify_previous_secret_and_non_ascii_body():
    """A body with umlauts, signed over its raw UTF-8 bytes, verifies with the previous secret's version."""
    document = contract_json("calcom/webhooks/BOOKING_CREATED.json")
    document["payload"]["attendees"][0]["name"] = "Jürg Müller"
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    secrets = [(9, "new-secret"), (8, "old-secret")]
    assert calcom.verify(body, {"X-Cal-Signature-256": cal_sign(body, "old-secret")}, secrets, CAL_NOW) == 8


def test_calcom_verify_ignores_time():
    """Cal.com signs no timestamp: an old delivery still verifies (dedup and at-most-once make replays harmless)."""
    body = cal_body("BOOKING_CREATED")
    headers = {"x-cal-signature-256": cal_sign(body, "s3cret")}
    assert calcom.verify(body, headers, [(1, "s3cret")], CAL_NOW + timedelta(days=400)) == 1


@pytest.mark.parametrize(
    ("body", "signature", "reason"),
    [
        (cal_body("PING"), None, "missing signature header"),
        (cal_body("PING"), "", "missing signature header"),
        (cal_body("PING"), "no-secret-provided", "has no secret set"),
        (cal_body("PING"), "garbage", "malformed signature header"),
        (cal_body("PING"), "v1", "malformed signature header"),
        (cal_body("PING"), "v1,@@@", "malformed signature header"),
        (cal_body("PING"), CAL_PING_SIGNATURE.upper(), "malformed signature header"),
        (cal_body("PING"), "sha256=" + CAL_PING_SIGNATURE, "malformed signature header"),
        (cal_body("PING"), CAL_PING_SIGNATURE + "00", "malformed signature header"),
        (cal_body("PING"), "ä" * 64, "malformed signature header"),
        (cal_body("PING")[:-1], CAL_PING_SIGNATURE, "no matching signature"),
        (json.dumps(contract_json("calcom/webhooks/PING.json")).encode(), CAL_PING_SIGNATURE, "no matching"),
        (b"\xff\xfe" + cal_body("PING"), CAL_PING_SIGNATURE, "no matching signature"),
        (cal_body("PING"), cal_sign(cal_body("PING"), "other-secret"), "no matching signature"),
    ],
)
def test_calcom_verify_rejects_bad_requests(body, signature, reason):
    """Missing, malformed or wrong signatures (also over a re-serialised or altered body) raise SignatureError."""
    headers = {} if signature is None else {"X-Cal-Signature-256": signature}
    with pytest.raises(SignatureError, match=reason):
        calcom.verify(body, headers, [(1, CAL_PING_SECRET)], CAL_NOW)


def test_calcom_delivery_id_is_the_body_hash():
    """The dedup key is the SHA-256 of the raw body: equal bodies collide, different ones do not."""
    body = cal_body("BOOKING_CREATED")
    assert calcom.delivery_id(body, {}, {}) == hashlib.sha256(body).hexdigest()
    assert calcom.delivery_id(body + b" ", {}, {}) != calcom.delivery_id(body, {}, {})


# The booking of Cal.com's BOOKING_CREATED example; the other examples differ in a few fields.
CAL_CREATED = AppointmentRecord(
    source="calcom", external_id="unique-booking-id", starts_at=utc(2024, 1, 1, 10, 0),
    ends_at=utc(2024, 1, 1, 10, 15), status="scheduled", attendee_name="Guest User",
    attendee_email="guest@example.com", therapist_name="Organizer Name", therapist_email="organizer@example.com",
    service_name="Strategy Session", source_updated_at=utc(2024, 1, 1, 0, 0),
)


def cal_expected(**changes):
    """CAL_CREATED with ``changes``."""
    return dataclasses.replace(CAL_CREATED, **changes)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("BOOKING_CREATED", cal_expected()),
        ("BOOKING_REQUESTED", cal_expected(status="pending", starts_at=utc(2024, 1, 1, 13, 0),
                                           ends_at=utc(2024, 1, 1, 13, 15), source_updated_at=utc(2024, 1, 1, 12, 0))),
        ("BOOKING_REJECTED", cal_expected(status="rejected", external_id="unique-booking-identifier",
                                          starts_at=utc(2024, 1, 1, 15, 0), ends_at=utc(2024, 1, 1, 15, 15),
                                          source_updated_at=utc(2024, 1, 1, 14, 0))),
        ("BOOKING_CANCELLED", cal_expected(status="cancelled", external_id="unique-booking-identifier",
                                           starts_at=utc(2024, 1, 4, 10, 0), ends_at=utc(2024, 1, 4, 10, 15),
                                           source_updated_at=utc(2024, 1, 1, 15, 0))),
        ("BOOKING_RESCHEDULED", cal_expected(external_id="new-booking-unique-id",
                                             replaces_external_id="previous-booking-unique-id",
                                             starts_at=utc(2024, 1, 10, 14, 30), ends_at=utc(2024, 1, 10, 14, 45),
                                             source_updated_at=utc(2024, 1, 1, 10, 0))),
    ],
)
def test_calcom_parse_examples(name, expected):
    """Each of Cal.com's own example deliveries becomes the appointment it describes (the booker is the first
    attendee, the organizer the therapist, the event type title the service)."""
    parsed = calcom.parse(json.loads(cal_body(name)), {})
    assert parsed == ParsedEvent(event_type=name, records=(expected,))


def test_calcom_parse_ping_is_ignored():
    """The ping test carries no booking: ignored, nothing applied."""
    assert calcom.parse(contract_json("calcom/webhooks/PING.json"), {}) == ParsedEvent("PING", ignored="ping")


@pytest.mark.parametrize("trigger", ["BOOKING_PAID", "MEETING_ENDED", "BOOKING_NO_SHOW_UPDATED"])
def test_calcom_parse_ignores_other_triggers(trigger):
    """Triggers we do not apply are ignored with a reason naming them."""
    parsed = calcom.parse({"triggerEvent": trigger, "createdAt": "2024-01-01T00:00:00Z", "payload": {}}, {})
    assert (parsed.event_type, parsed.records) == (trigger, ())
    assert trigger in parsed.ignored


def test_calcom_parse_falls_back_to_booking_title():
    """Without an event type title, the booking title names the service."""
    document = contract_json("calcom/webhooks/BOOKING_CREATED.json")
    del document["payload"]["eventTitle"]
    (record,) = calcom.parse(document, {}).records
    assert record.service_name == "Strategy Session between Organizer and Guest"


def broken_cal(name, path, value):
    """The example ``name`` with the field at ``path`` (dotted) set to ``value``, or removed for ``...``."""
    document = contract_json(f"calcom/webhooks/{name}.json")
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (broken_cal("BOOKING_CREATED", "payload.uid", ...), "payload.uid: expected a non-empty string"),
        (broken_cal("BOOKING_CREATED", "payload.startTime", "2024-01-01T10:00:00"), "payload.startTime: expected"),
        (broken_cal("BOOKING_CREATED", "payload.endTime", None), "payload.endTime: expected an ISO 8601"),
        (broken_cal("BOOKING_CREATED", "createdAt", ...), "createdAt: expected an ISO 8601"),
        (broken_cal("BOOKING_CREATED", "createdAt", "0001-01-01T00:30:00+01:00"), "createdAt: expected a date-time "
                                                                                  "from 1900 to 2199"),
        (broken_cal("BOOKING_CREATED", "payload.endTime", "2023-05-24T12:00:00Z"),
         "payload.endTime - payload.startTime: expected a duration from 0 to 7 days"),
        (broken_cal("BOOKING_CREATED", "payload.endTime", "2199-12-31T23:59:59Z"),
         "payload.endTime - payload.startTime: expected a duration from 0 to 7 days"),
        (broken_cal("BOOKING_CREATED", "payload.uid", "u" * 129), "payload.uid: longer than 128 characters"),
        (broken_cal("BOOKING_CREATED", "payload.attendees", [{"email": "a" * 250 + "@b.de"}]),
         "payload.attendees[0].email: longer than 254 characters"),
        (broken_cal("BOOKING_CREATED", "payload.attendees", []), "payload.attendees: expected a non-empty list"),
        (broken_cal("BOOKING_CREATED", "payload.attendees", ["x"]), "payload.attendees[0]: expected an object"),
        (broken_cal("BOOKING_CREATED", "payload.organizer", "x"), "payload.organizer: expected an object"),
        (broken_cal("BOOKING_CREATED", "payload.organizer.email", 5), "payload.organizer.email: expected a string"),
        (broken_cal("BOOKING_RESCHEDULED", "payload.rescheduleUid", ...), "payload.rescheduleUid: expected"),
        (broken_cal("BOOKING_CANCELLED", "payload", None), "payload: expected an object"),
        ({"createdAt": "2024-01-01T00:00:00Z"}, "triggerEvent: expected a non-empty string"),
        ("PING", "body: expected a JSON object"),
    ],
)
def test_calcom_parse_rejects_ill_typed_fields(document, message):
    """Missing or ill-typed fields of an applied trigger are PayloadErrors naming the field."""
    with pytest.raises(PayloadError) as raised:
        calcom.parse(document, {})
    assert str(raised.value).startswith(message)


RETELL_VECTORS = contract_json("retell/signature_vectors.json")["vectors"]
RETELL_KEY = "test-api-key"
RETELL_EVENTS = ["call_started.synthetic", "call_ended.synthetic", "call_ended.docs-example", "call_analyzed.synthetic"]


def retell_raw(name):
    """The exact bytes of an example delivery file."""
    return (CONTRACTS / "retell" / f"webhook_{name}.json").read_bytes()


def retell_sign(body, key, timestamp_ms):
    """x-retell-signature as the Retell SDK computes it."""
    digest = hmac.new(key.encode(), body + str(timestamp_ms).encode(), hashlib.sha256).hexdigest()
    return f"v={timestamp_ms},d={digest}"


@pytest.mark.parametrize("vector", RETELL_VECTORS, ids=[vector["id"] for vector in RETELL_VECTORS])
def test_retell_verify_known_answers(vector):
    """The SDK's vectors verify at their own timestamp; the signer here reproduces them."""
    body = vector["body"].encode()
    assert retell_sign(body, vector["api_key"], vector["timestamp_ms"]) == vector["expected_header"]
    headers = Headers({"X-Retell-Signature": vector["expected_header"]})
    assert retell.verify(body, headers, [(2, vector["api_key"])], at(vector["timestamp_ms"] / 1000)) == 2


def test_retell_verify_needs_the_raw_bytes():
    """Re-serialising the non-ASCII vector (json.dumps escapes the umlauts) breaks the signature."""
    vector = next(vector for vector in RETELL_VECTORS if vector["id"] == "derived-non-ascii")
    reserialised = json.dumps(json.loads(vector["body"]), separators=(",", ":")).encode()
    with pytest.raises(SignatureError, match="no matching signature"):
        retell.verify(reserialised, {"x-retell-signature": vector["expected_header"]}, [(1, RETELL_KEY)],
                      at(vector["timestamp_ms"] / 1000))


@pytest.mark.parametrize("name", RETELL_EVENTS)
def test_retell_verify_example_files_with_previous_key(name):
    """Each example delivery signed over its file bytes verifies with the previous key, returning its version."""
    body = retell_raw(name)
    now_ms = 1_735_689_700_000
    headers = {"x-retell-signature": retell_sign(body, "old-key", now_ms - 1000)}
    assert retell.verify(body, headers, [(6, "new-key"), (5, "old-key")], at(now_ms / 1000)) == 5


@pytest.mark.parametrize("skew_ms", [-300_000, 300_000])
def test_retell_verify_accepts_the_tolerance_edge(skew_ms):
    """Exactly 300000 ms of skew, either way, still verifies (as in the SDK)."""
    vector = RETELL_VECTORS[0]
    now = at(vector["timestamp_ms"] / 1000) + timedelta(milliseconds=skew_ms)
    assert retell.verify(vector["body"].encode(), {"x-retell-signature": vector["expected_header"]},
                         [(1, RETELL_KEY)], now) == 1


@pytest.mark.parametrize("skew_ms", [-300_001, 300_001, 3_600_000])
def test_retell_verify_rejects_stale_or_future_timestamps(skew_ms):
    """More than 5 minutes between the signed timestamp and ``now`` is refused, in both directions."""
    vector = RETELL_VECTORS[0]
    now = at(vector["timestamp_ms"] / 1000) + timedelta(milliseconds=skew_ms)
    with pytest.raises(SignatureError, match="timestamp outside the 5-minute tolerance"):
        retell.verify(vector["body"].encode(), {"x-retell-signature": vector["expected_header"]},
                      [(1, RETELL_KEY)], now)


V0 = RETELL_VECTORS[0]
V0_DIGEST = V0["expected_digest"]
V0_TS = V0["timestamp_ms"]


@pytest.mark.parametrize(
    ("body", "signature", "reason"),
    [
        (V0["body"].encode(), None, "missing signature header"),
        (V0["body"].encode(), "", "missing signature header"),
        (V0["body"].encode(), f"v={V0_TS}", "malformed signature header"),
        (V0["body"].encode(), f"d={V0_DIGEST},v={V0_TS}", "malformed signature header"),
        (V0["body"].encode(), f"x v={V0_TS},d={V0_DIGEST}", "malformed signature header"),
        (V0["body"].encode(), f"v={V0_TS},d={V0_DIGEST} ", "malformed signature header"),
        (V0["body"].encode(), f"v={V0_TS},d={V0_DIGEST.upper()}", "malformed signature header"),
        (V0["body"].encode(), f"v=-{V0_TS},d={V0_DIGEST}", "malformed signature header"),
        (V0["body"].encode(), f"v={V0_TS},d={V0_DIGEST},k=v", "malformed signature header"),
        (V0["body"].encode(), f"v={V0_TS},d={V0_DIGEST[:-1]}", "malformed signature header"),
        (V0["body"].encode(), f"v={'9' * 30},d={V0_DIGEST}", "malformed signature header"),
        (V0["body"].encode(), f"v=١٢٣,d={V0_DIGEST}", "malformed signature header"),
        (V0["body"].encode(), "v1", "malformed signature header"),
        (V0["body"].encode(), "v1,@@@", "malformed signature header"),
        (V0["body"].encode(), "garbage", "malformed signature header"),
        (V0["body"].encode() + b" ", V0["expected_header"], "no matching signature"),
        (V0["body"].encode()[:-1], V0["expected_header"], "no matching signature"),
        (b"\xff\xfe" + V0["body"].encode(), V0["expected_header"], "no matching signature"),
        (V0["body"].encode(), retell_sign(V0["body"].encode(), "wrong-key", V0_TS), "no matching signature"),
        (V0["body"].encode(), f"v={V0_TS + 1},d={V0_DIGEST}", "no matching signature"),
    ],
)
def test_retell_verify_rejects_bad_requests(body, signature, reason):
    """The SDK's negative cases and malformed values raise SignatureError, never another error."""
    headers = {} if signature is None else {"x-retell-signature": signature}
    with pytest.raises(SignatureError, match=reason):
        retell.verify(body, headers, [(1, RETELL_KEY)], at(V0_TS / 1000))


RETELL_TRANSCRIPT = (
    "Agent: Grüezi, Praxis Beispiel, wie kann ich helfen?\nUser: Ich möchte einen Termin für nächste Woche.\n"
)
RETELL_CALL = {
    "external_id": "call_synthetic_000000000000001", "agent_id": "agent_synthetic_00000000000001",
    "direction": "inbound", "from_number": "+12135550101", "to_number": "+12135550102",
    "started_at": utc(2025, 1, 1, 0, 0),
}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("call_started.synthetic", CallRecord(stage=1, status="ongoing", **RETELL_CALL)),
        ("call_ended.synthetic", CallRecord(
            stage=2, status="ended", ended_at=utc(2025, 1, 1, 0, 1, 2), duration_ms=62000,
            disconnection_reason="user_hangup", transcript=RETELL_TRANSCRIPT, **RETELL_CALL)),
        ("call_analyzed.synthetic", CallRecord(
            stage=3, status="ended", ended_at=utc(2025, 1, 1, 0, 1, 2), duration_ms=62000,
            disconnection_reason="user_hangup", transcript=RETELL_TRANSCRIPT,
            summary="Caller asked for an appointment next week.", sentiment="Neutral", successful=True,
            **RETELL_CALL)),
        ("call_ended.docs-example", CallRecord(
            external_id="Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6", stage=2, agent_id="oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD",
            direction="inbound", from_number="+12137771234", to_number="+12137771235", status="registered",
            started_at=utc(2024, 5, 2, 0, 7, 55, 945000), ended_at=utc(2024, 5, 2, 0, 8, 11, 736000),
            duration_ms=15791, disconnection_reason="user_hangup", transcript="...")),
    ],
)
def test_retell_parse_examples(name, expected):
    """Each example delivery becomes the call record it describes; the docs example, which has no agent_version
    and no duration_ms, still parses (its duration comes from the two timestamps)."""
    payload = json.loads(retell_raw(name))
    assert retell.parse(payload, {}) == ParsedEvent(event_type=payload["event"], records=(expected,))


@pytest.mark.parametrize(
    ("name", "expected"),
    [("call_started.synthetic", "call_synthetic_000000000000001:call_started"),
     ("call_ended.docs-example", "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6:call_ended")],
)
def test_retell_delivery_id(name, expected):
    """The dedup key is the call id and the event: each event of a call counts once."""
    body = retell_raw(name)
    assert retell.delivery_id(body, {}, json.loads(body)) == expected


def test_retell_parse_ignores_other_events():
    """Events we do not apply (transcript updates, transfers, chat) are ignored with a reason."""
    payload = json.loads(retell_raw("call_ended.synthetic")) | {"event": "transcript_updated"}
    parsed = retell.parse(payload, {})
    assert (parsed.event_type, parsed.records) == ("transcript_updated", ())
    assert "transcript_updated" in parsed.ignored


def broken_call(changes, name="call_analyzed.synthetic"):
    """An example delivery with ``changes`` applied to its call object (``...`` removes a key)."""
    payload = json.loads(retell_raw(name))
    for key, value in changes.items():
        if value is ...:
            del payload["call"][key]
        else:
            payload["call"][key] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (broken_call({"call_id": ...}), "call.call_id: expected a non-empty string"),
        (broken_call({"call_id": ""}), "call.call_id: expected a non-empty string"),
        (broken_call({"start_timestamp": "1735689600000"}), "call.start_timestamp: expected a non-negative integer"),
        (broken_call({"end_timestamp": -1}), "call.end_timestamp: expected a non-negative integer"),
        (broken_call({"end_timestamp": 10**20}), "call.end_timestamp: expected a date-time from 1900 to 2199"),
        (broken_call({"end_timestamp": 7_258_118_400_000}), "call.end_timestamp: expected a date-time from 1900"),
        (broken_call({"duration_ms": 2**31}), "call.duration_ms: expected at most 604800000 (7 days)"),
        (broken_call({"duration_ms": ..., "end_timestamp": 1_000}), "call.end_timestamp - call.start_timestamp: "
                                                                  "expected a duration from 0 to 7 days"),
        (broken_call({"duration_ms": ..., "start_timestamp": 0, "end_timestamp": 4_102_444_800_000}),
         "call.end_timestamp - call.start_timestamp: expected a duration from 0 to 7 days"),
        (broken_call({"direction": "in" * 9}), "call.direction: longer than 16 characters"),
        (broken_call({"from_number": "+49" * 11}), "call.from_number: longer than 32 characters"),
        (broken_call({"call_id": "c" * 129}), "call.call_id: longer than 128 characters"),
        (broken_call({"call_analysis": {"user_sentiment": "x" * 33}}), "call.call_analysis.user_sentiment: longer"),
        (broken_call({"duration_ms": 1.5}), "call.duration_ms: expected a non-negative integer"),
        (broken_call({"transcript": ["Agent: hi"]}), "call.transcript: expected a string"),
        (broken_call({"call_analysis": "good"}), "call.call_analysis: expected an object"),
        (broken_call({"call_analysis": {"call_successful": "yes"}}), "call.call_analysis.call_successful"),
        ({"event": "call_ended"}, "call: expected an object"),
        ({"call": {}}, "event: expected a non-empty string"),
        ([], "body: expected a JSON object"),
    ],
)
def test_retell_parse_rejects_ill_typed_fields(payload, message):
    """Missing or ill-typed fields are PayloadErrors naming the field."""
    with pytest.raises(PayloadError) as raised:
        retell.parse(payload, {})
    assert str(raised.value).startswith(message)


def test_retell_delivery_id_requires_call_id():
    """Without a call id there is no dedup key: a PayloadError, not a KeyError."""
    with pytest.raises(PayloadError, match="call.call_id"):
        retell.delivery_id(b"{}", {}, broken_call({"call_id": ...}))
