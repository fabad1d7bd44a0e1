"""The receiver under attack: generated malformed requests (hypothesis) never cause a 5xx and nothing unsigned is
ever accepted; signed nonsense gets a 400 with a reason or is ignored."""

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.platform.security.actor import Actor
from app.webhooks import endpoints as webhook_endpoints
from app.webhooks.models import WebhookEvent
from tests.signers import compact, sign_booking, sign_calcom, sign_retell


def _count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "X-Cal-Signature-256",
                     "x-retell-signature")
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120)
bodies = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=400).map(str.encode),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children,
                                                                                   max_size=4),
                 max_leaves=12).map(lambda value: compact(value).encode()),
)
malformed_requests = st.tuples(
    st.sampled_from(("booking", "calcom", "retell")),
    bodies,
    st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), header_text, max_size=5),
    st.sampled_from(("application/json", "application/json; charset=utf-8", "text/plain", "")),
)


@settings(max_examples=10_000, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=malformed_requests)
def test_generated_unsigned_requests_never_cause_5xx_and_are_never_accepted(app, client, db, practice, request):
    endpoints = _endpoints(db, practice)
    source, body, headers, content_type = request
    endpoint = endpoints[source]

    response = client.post(f"/api/webhooks/{source}/{endpoint.public_id}", data=body,
                           headers={**headers, "Content-Type": content_type})

    assert response.status_code in (401, 413, 415), (response.status_code, response.get_data())
    assert response.json["status"] == "rejected" and response.json["reason"]
    assert _count(db, WebhookEvent, WebhookEvent.outcome != "rejected") == 0


def _endpoints(db, practice):
    """The practice's endpoints by source, created on the first example (hypothesis runs every example of a test
    on the same database) and then remembered for the test's session."""
    cached = db.session.info.get("endpoints")
    if cached is not None:
        return cached
    existing = webhook_endpoints.practice_endpoints(practice.id)
    actor = Actor(practice_id=practice.id)
    for source in ("booking", "calcom", "retell"):
        if source not in existing:
            secret = "retell-api-key-0123456789" if source == "retell" else None
            existing[source] = webhook_endpoints.create_endpoint(actor, source, secret)[0]
    db.session.info["endpoints"] = existing
    return existing


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=15,
)
envelopes = st.one_of(
    json_values,
    st.fixed_dictionaries({"id": json_values, "type": st.sampled_from(("patient.created", "appointment.created",
                                                                       "appointment.cancelled", "x")),
                           "data": json_values}),
    st.fixed_dictionaries({"triggerEvent": st.sampled_from(("BOOKING_CREATED", "BOOKING_RESCHEDULED", "PING")),
                           "payload": json_values}),
    st.fixed_dictionaries({"event": st.sampled_from(("call_started", "call_ended", "call_analyzed")),
                           "call": json_values}),
)


@settings(max_examples=1_500, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(source=st.sampled_from(("booking", "calcom", "retell")), payload=envelopes)
def test_signed_but_nonsensical_events_get_400_or_are_ignored_never_5xx(client, db, practice, source, payload):
    endpoint = _endpoints(db, practice)[source]
    body = compact(payload)
    secret = webhook_endpoints.valid_secrets(endpoint, datetime.now(UTC))[0][1]
    headers = {"booking": lambda: sign_booking(secret, body, msg_id=f"m{hash(body)}"),
               "calcom": lambda: sign_calcom(secret, body),
               "retell": lambda: sign_retell(secret, body)}[source]()

    response = client.post(f"/api/webhooks/{source}/{endpoint.public_id}", data=body.encode(), headers=headers)

    assert response.status_code in (200, 202, 400), (response.status_code, response.get_data(), body)
    if response.status_code == 400:
        assert response.json["reason"].startswith(("malformed", "the body"))
