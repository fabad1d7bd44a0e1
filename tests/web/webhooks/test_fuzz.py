"""The receiver under attack, fuzzed by Hypothesis from a fixed seed: FUZZ_EXAMPLES requests (1,500 in the default
suite; ``FUZZ_EXAMPLES=11000`` is the full run of issue 15) to the booking tool's, Cal.com's and Retell's endpoints.

- Requests without a valid signature (random headers and bodies, or signed with a wrong secret) are answered 401,
  413 or 415 and only counted (one more in webhook_rejections), never stored, never accepted.
- Correctly signed bodies that are nonsense or hostile: JSON no parser should have to hold (integers past Python's
  4,300 digits, 1,000 nested arrays, objects nested 950 deep, 1e999, NaN, ``\\u0000``, unpaired surrogates,
  bytes that are not UTF-8) and events whose fields are out of range (dates in year 1 or 9999, 10^12 minutes,
  integers past a 32-bit column, ids longer than theirs). Each is stored exactly once: accepted or duplicate (2xx),
  or rejected with the reason it was answered (400), never by the parser-failure safety net.

None may be answered 5xx. Runs on SQLite, and on PostgreSQL with TEST_DATABASE_URL."""

import hashlib
import hmac
import json
import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.platform.security.actor import Actor
from app.webhooks import endpoints as webhook_endpoints
from app.webhooks.models import WebhookEvent, WebhookRejection
from tests.signers import booking_event, compact, sign_booking

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1500"))
SOURCES = ("booking", "calcom", "retell")
CONTRACTS = Path(__file__).resolve().parents[2] / "fixtures" / "contracts"
HOSTILE = "@@hostile@@"  # stands for raw JSON text (quotes and all) that json.dumps could not write

# Requests without a valid signature.
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "X-Cal-Signature-256",
                     "x-retell-signature")
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=15,
)
random_bodies = st.one_of(st.binary(max_size=600), st.text(max_size=400).map(str.encode),
                          json_values.map(lambda value: compact(value).encode()))
unsigned = st.tuples(
    st.just("unsigned"), st.sampled_from(SOURCES), random_bodies,
    st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), header_text, max_size=5),
    st.sampled_from(("application/json", "application/json; charset=utf-8", "text/plain", "")),
)
wrongly_signed = st.tuples(st.just("wrong secret"), st.sampled_from(SOURCES), random_bodies)

# Raw JSON text that json_input must refuse.
hostile_raw = st.one_of(
    st.integers(41, 6000).map(lambda digits: "9" * digits),
    st.integers(41, 6000).map(lambda digits: "-1" + "0" * digits),
    st.integers(309, 99_999).map(lambda exponent: f"1e{exponent}"),
    st.sampled_from(("NaN", "Infinity", "-Infinity", '"\\u0000"', '"a\\u0000b"', '"\\ud800"', '"x\\udfff"',
                     '{"\\u0000": 1}', '["\\ud83d"]')),
    st.integers(33, 1500).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(33, 1200).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.integers(33, 400).map(lambda depth: '[{"a":' * depth + "null" + "}]" * depth),
)
# JSON values that a field may hold but should not: out-of-range numbers and instants, long and odd text.
timestamps = st.builds(
    lambda year, month, day, hour, offset: f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:30:00{offset}",
    st.integers(1, 9999), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23),
    st.sampled_from(("+01:00", "-01:00", "Z", "+14:00", "-12:00", "")),
)
hostile_values = st.one_of(
    st.integers(-(10**39), 10**39),
    st.sampled_from((0, -1, 1, 2**31 - 1, 2**31, 2**63, 10**12, 10**15, 10**20, 253_402_300_000_000,
                     "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "", " ", True, None, [], {})),
    timestamps,
    st.text(max_size=40),
    st.text(min_size=100, max_size=400),
    st.floats(allow_nan=False, allow_infinity=False),
    json_values,
)


def _booking_events():
    """The booking tool's events, valid as they stand."""
    appointment = {"appointment_id": "A-1", "patient_id": "B-1", "start": "2030-05-04T09:30:00+02:00",
                   "duration_minutes": 45, "therapist_name": "Dr. Weber", "service_name": "Massage",
                   "status": "scheduled", "updated_at": "2030-05-01T08:00:00+02:00"}
    patient = {"patient_id": "B-1", "first_name": "Ada", "last_name": "Muster", "email": "ada@example.test",
               "phone": "+4930123456", "birth_date": "1980-04-02"}
    return [booking_event(kind, appointment) for kind in ("appointment.created", "appointment.cancelled")] + [
        booking_event("patient.created", patient)]


def _contract(name):
    return json.loads((CONTRACTS / name).read_text(encoding="utf-8"))


def _paths(value, prefix=()):
    """The path (keys and indexes) of every value inside ``value``, the containers' own included."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replaced(document, path, value):
    """A copy of ``document`` with the value at ``path`` replaced by ``value``."""
    copy = json.loads(json.dumps(document))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copy


# Valid events of each source, each with the paths of all its values.
BASE_EVENTS = {
    source: [(document, _paths(document)) for document in documents]
    for source, documents in {
        "booking": _booking_events(),
        "calcom": [_contract(f"calcom/webhooks/{name}.json")
                   for name in ("BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED", "PING")],
        "retell": [_contract(f"retell/webhook_{name}.json")
                   for name in ("call_started.synthetic", "call_ended.synthetic", "call_analyzed.synthetic",
                                "call_ended.docs-example")],
    }.items()
}


@st.composite
def signed(draw):
    """("signed", source, body bytes): a valid event of the source with one value (anywhere, a field or a whole
    object) replaced by a hostile value or by hostile raw JSON text, or random JSON, or random bytes (Cal.com and
    Retell sign raw bytes; the booking tool signs text, so its bodies are always UTF-8)."""
    source = draw(st.sampled_from(SOURCES))
    document, paths = draw(st.sampled_from(BASE_EVENTS[source]))
    path = draw(st.sampled_from(paths))
    kind = draw(st.sampled_from(("value", "raw", "random json", "bytes")))
    if kind == "value":
        return "signed", source, compact(_replaced(document, path, draw(hostile_values))).encode()
    if kind == "raw":
        text = compact(_replaced(document, path, HOSTILE)).replace(f'"{HOSTILE}"', draw(hostile_raw))
        return "signed", source, text.encode()
    if kind == "bytes" and source != "booking":
        return "signed", source, draw(st.binary(max_size=400))
    return "signed", source, compact(draw(json_values)).encode()


deliveries = st.one_of(unsigned, wrongly_signed, signed())


def _endpoints(db, practice):
    """The practice's endpoints by source, as (endpoint id, public id, secret)."""
    actor = Actor(practice_id=practice.id)
    made = {source: webhook_endpoints.create_endpoint(actor, source)[0] for source in ("booking", "calcom")}
    made["retell"] = webhook_endpoints.create_endpoint(actor, "retell", "retell-api-key-0123456789")[0]
    return {source: (endpoint.id, endpoint.public_id,
                     webhook_endpoints.valid_secrets(endpoint, datetime.now(UTC))[0][1])
            for source, endpoint in made.items()}


def _signature(source, secret, body):
    """The headers of ``body`` signed with ``secret`` the source's way: the booking tool signs text (with a
    webhook-id that is the body's hash, so a repeated body is a redelivery), Cal.com and Retell the raw bytes."""
    if source == "booking":
        text = body.decode("utf-8", "replace")  # signed bodies are UTF-8; the others fail verification anyway
        return sign_booking(secret, text, msg_id="msg_" + hashlib.sha256(body).hexdigest()[:32])
    if source == "calcom":
        return {"Content-Type": "application/json", "X-Cal-Signature-256": _hex_hmac(secret, body)}
    milliseconds = str(int(time.time() * 1000))
    return {"Content-Type": "application/json",
            "x-retell-signature": f"v={milliseconds},d={_hex_hmac(secret, body + milliseconds.encode())}"}


def _hex_hmac(secret, message):
    """Lowercase hex HMAC-SHA256 of ``message`` (bytes)."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


WRONG_SECRETS = {"booking": "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", "calcom": "not-the-secret",
                 "retell": "not-the-api-key"}


def _state(db):
    """(events stored, refused requests counted)."""
    events = db.session.scalar(select(func.count()).select_from(WebhookEvent))
    counted = db.session.scalar(select(func.coalesce(func.sum(WebhookRejection.count), 0)))
    return events, counted


def test_fuzzed_deliveries_never_cause_5xx_unsigned_ones_are_only_counted_signed_ones_stored_once(
        app, client, db, practice):
    endpoints = _endpoints(db, practice)
    figures = Counter()

    @seed(20261115)
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(delivery=deliveries)
    def deliver(delivery):
        kind, source, body = delivery[:3]
        endpoint_id, public_id, secret = endpoints[source]
        if kind == "unsigned":
            headers = {**delivery[3], "Content-Type": delivery[4]}
        else:
            headers = _signature(source, WRONG_SECRETS[source] if kind == "wrong secret" else secret, body)
        events, counted = _state(db)

        response = client.post(f"/api/webhooks/{source}/{public_id}", data=body, headers=headers)

        figures["requests"] += 1
        figures[f"{kind} {response.status_code}"] += 1
        assert response.status_code < 500, (kind, source, response.status_code, response.get_data(), body[:300])
        assert response.json["status"] in ("processed", "ignored", "duplicate", "accepted", "rejected")
        now_events, now_counted = _state(db)
        if kind != "signed":
            assert response.status_code in (401, 413, 415) and response.json["reason"], response.json
            assert (now_events, now_counted) == (events, counted + 1)  # counted, never stored or accepted
            return
        assert (now_events, now_counted) == (events + 1, counted), (response.json, body[:300])  # stored once
        latest = db.session.scalar(select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(1))
        assert latest.secret_version == 1 and latest.endpoint_id == endpoint_id
        if response.status_code == 400:
            reason = response.json["reason"]
            assert reason.startswith(("malformed JSON: ", "malformed event: ")), reason  # not the safety net
            assert (latest.outcome, latest.reject_reason, latest.payload is not None) == ("rejected", reason, True)
        else:
            assert response.status_code in (200, 202), response.json
            assert latest.outcome == ("duplicate" if response.json["status"] == "duplicate" else "accepted")
        db.session.remove()  # the next example reads afresh, as the next request would

    deliver()

    print(f"\nfuzz ({db.engine.dialect.name}): {figures['requests']} requests, "
          f"{sum(n for key, n in figures.items() if key.split()[-1].startswith('5'))} answered 5xx, "
          f"{sum(n for key, n in figures.items() if key.startswith(('unsigned 2', 'wrong secret 2')))} "
          f"unsigned accepted; {dict(sorted(figures.items()))}")
    assert figures["requests"] >= FUZZ_EXAMPLES * 0.9
