"""Contract test: every request the Cal.com client sends is checked against Cal.com's own OpenAPI document
(tests/fixtures/contracts/calcom/openapi-v2.json, a copy of the shared contract).

For each request captured by the fake: the path matches a path template of the document and the method is declared
for it; where the operation declares a ``cal-api-version`` header, the value sent is one it allows (its enum, or its
default, which is the only version the document describes); headers the operation marks required are present;
every query parameter is declared for the operation and its value fits the parameter's schema; path parameters fit
theirs; and the JSON body validates against the operation's requestBody schema (``$ref``s resolved, OpenAPI 3.0
``nullable`` turned into JSON Schema), or is absent when the operation takes none.

One deliberate strictness: object schemas that list ``properties`` are closed (``additionalProperties: false``).
Cal.com validates with ``whitelist: true`` and silently drops unknown properties (CALCOM.md §1), so a misspelt or
invented field would be lost without an error; here it fails the test.

The document's known errors are corrected in SPEC_CORRECTIONS below, each with its reason, and nowhere else."""

import json
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from app.providers.calcom.client import BOOKING_TRIGGERS, CalcomClient
from tests.fakes.calcom import CalcomFake, RecordedRequest, demo_seed

SPEC_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "contracts" / "calcom" / "openapi-v2.json"
SPEC_URI = "urn:calcom:openapi-v2"
NOW = datetime(2029, 12, 1, tzinfo=UTC)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _webhook_triggers(spec, schema_name):
    """§10.2: ``triggers`` is typed as a string, but the API takes (and the example shows) an array of names."""
    documented = spec["components"]["schemas"][schema_name]["properties"]["triggers"]
    return {"type": "array", "items": {"type": "string", "enum": documented["enum"]}}


def _any_of_create_booking(spec, _):
    """The create-booking body is ``oneOf`` Create, Instant and Recurring inputs, but Create and Recurring have
    the same required fields (Recurring only adds the optional ``recurrenceCount``), so a plain booking matches
    both and ``oneOf`` can never pass. Cal.com tells them apart by the event type, not by the body: at least one of
    the documented inputs must match (``anyOf``), and each still validates strictly."""
    schema = spec["paths"]["/v2/bookings"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return {"anyOf": schema["oneOf"]}


# The OpenAPI document's known errors (CALCOM.md §10, the code wins), as (JSON pointer, corrected schema built from
# the document, section). Only request-side errors need a correction here:
# - §10.1 (slot items are objects) and §10.3 (a self-referencing reservation output) concern answers;
# - §10.4 (rate-limit headers, 429, error shapes undocumented) concerns answers;
# - §10.5 (the migration guide's legacy slot paths): the client uses /v2/slots and /v2/slots/reservations, which the
#   document describes correctly, so it needs none;
# - §10.6 (Authorization optional on create, get, reschedule and cancel) is right as documented.
SPEC_CORRECTIONS = [
    ("/components/schemas/CreateWebhookInputDto/properties/triggers",
     lambda spec: _webhook_triggers(spec, "CreateWebhookInputDto"), "§10.2 webhook triggers are an array"),
    ("/components/schemas/UpdateWebhookInputDto/properties/triggers",
     lambda spec: _webhook_triggers(spec, "UpdateWebhookInputDto"), "§10.2 webhook triggers are an array"),
    ("/paths/~1v2~1bookings/post/requestBody/content/application~1json/schema",
     lambda spec: _any_of_create_booking(spec, None),
     "found by this test (not in §10): the create-booking oneOf is ambiguous"),
]

# The operations the client uses; the exercise below must reach every one, so no method escapes the check.
CLIENT_OPERATIONS = {
    "MeController_getMe",
    "EventTypesController_2024_06_14_getEventTypes", "EventTypesController_2024_06_14_getEventTypeById",
    "EventTypesController_2024_06_14_createEventType", "EventTypesController_2024_06_14_updateEventType",
    "EventTypesController_2024_06_14_deleteEventType",
    "SlotsController_2024_09_04_getAvailableSlots", "SlotsController_2024_09_04_reserveSlot",
    "SlotsController_2024_09_04_getReservedSlot", "SlotsController_2024_09_04_updateReservedSlot",
    "SlotsController_2024_09_04_deleteReservedSlot",
    "BookingsController_2024_08_13_getBookings", "BookingsController_2024_08_13_getBooking",
    "BookingsController_2024_08_13_createBooking", "BookingsController_2024_08_13_rescheduleBooking",
    "BookingsController_2024_08_13_cancelBooking",
    "WebhooksController_getWebhooks", "WebhooksController_createWebhook", "WebhooksController_updateWebhook",
    "WebhooksController_deleteWebhook",
}


def _pointer_set(document, pointer, value):
    """Replace the value at JSON ``pointer`` in ``document`` (it must exist: a stale correction fails loudly)."""
    parts = [part.replace("~1", "/").replace("~0", "~") for part in pointer.strip("/").split("/")]
    target = document
    for part in parts[:-1]:
        target = target[part]
    assert parts[-1] in target, f"correction target {pointer} is not in the document"
    target[parts[-1]] = value


def _to_json_schema(node):
    """OpenAPI 3.0 schema objects -> JSON Schema (draft 4 semantics): ``nullable`` becomes a null type, and object
    schemas with ``properties`` are closed (see the module docstring)."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _to_json_schema(value) for key, value in node.items()}
    if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    if node.pop("nullable", False):
        if "enum" in node:
            node["enum"] = [*node["enum"], None]
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        elif "type" not in node:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def contract():
    """The corrected, converted document and a registry that resolves its ``$ref``s."""
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    for pointer, corrected, _reason in SPEC_CORRECTIONS:
        _pointer_set(spec, pointer, corrected(spec))
    spec["components"]["schemas"] = _to_json_schema(spec["components"]["schemas"])
    for item in spec["paths"].values():
        for method in METHODS:
            operation = item.get(method)
            if operation:
                for parameter in operation.get("parameters", []):
                    parameter["schema"] = _to_json_schema(parameter.get("schema", {}))
                body = operation.get("requestBody", {}).get("content", {}).get("application/json")
                if body:
                    body["schema"] = _to_json_schema(body["schema"])
    registry = Registry().with_resource(SPEC_URI, DRAFT4.create_resource(spec))
    templates = sorted(((template, _template_pattern(template)) for template in spec["paths"]),
                       key=lambda pair: pair[0].count("{"))
    return spec, registry, templates


def _template_pattern(template):
    """A regex for an OpenAPI path template; ``{name}`` matches one segment."""
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")


def _escape(part):
    """A JSON-pointer token."""
    return part.replace("~", "~0").replace("/", "~1")


def _validate(value, pointer, registry):
    """Schema errors of ``value`` against the schema at ``pointer`` in the document, as messages."""
    validator = Draft4Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=registry)
    messages = []
    for error in validator.iter_errors(value):
        # For anyOf/oneOf the reasons are in the context: why each alternative failed.
        for detail in error.context or [error]:
            messages.append(f"{'/'.join(map(str, detail.absolute_path)) or '(root)'}: {detail.message}")
    return messages


def _coerce(text, schema):
    """A query or path value (text) as the JSON type its schema wants, so it can be validated."""
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind in ("number", "integer"):
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if kind == "array":
        return text.split(",")
    return text


def violations(recorded):
    """Everything in ``recorded`` (a RecordedRequest) that the OpenAPI document does not allow; empty when the
    request is valid. Returns (operationId or None, messages)."""
    spec, registry, templates = contract()
    match = next(((template, found) for template, pattern in templates if (found := pattern.match(recorded.path))),
                 None)
    if match is None:
        return None, [f"{recorded.method} {recorded.path}: no such path in the document"]
    template, found = match
    method = recorded.method.lower()
    operation = spec["paths"][template].get(method)
    if operation is None:
        return None, [f"{recorded.method} {template}: method not declared"]
    where = f"{recorded.method} {template}"
    op_pointer = f"/paths/{_escape(template)}/{method}"
    problems = []
    parameters = operation.get("parameters", [])
    by_place = {place: {p["name"]: (index, p) for index, p in enumerate(parameters) if p["in"] == place}
                for place in ("header", "query", "path")}
    headers = {name.lower(): value for name, value in recorded.headers.items()}
    for name, (_index, parameter) in by_place["header"].items():
        value = headers.get(name.lower())
        if name.lower() == "cal-api-version":
            schema = parameter["schema"]
            allowed = schema.get("enum") or [schema.get("default")]
            if value not in allowed:
                problems.append(f"{where}: cal-api-version {value!r} is not one of {allowed}")
        elif parameter.get("required") and not value:
            problems.append(f"{where}: required header {name} missing")
    for name, value in recorded.query.items():
        if name not in by_place["query"]:
            problems.append(f"{where}: query parameter {name!r} is not declared")
            continue
        index, parameter = by_place["query"][name]
        problems += [f"{where}: query {name}: {text}" for text in _validate(
            _coerce(value, parameter["schema"]), f"{op_pointer}/parameters/{index}/schema", registry)]
    for name, (_index, parameter) in by_place["query"].items():
        if parameter.get("required") and name not in recorded.query:
            problems.append(f"{where}: required query parameter {name!r} missing")
    for name, (index, parameter) in by_place["path"].items():
        problems += [f"{where}: path {name}: {text}" for text in _validate(
            _coerce(found.group(name), parameter["schema"]), f"{op_pointer}/parameters/{index}/schema", registry)]
    body_spec = operation.get("requestBody")
    if body_spec is None:
        if recorded.json is not None:
            problems.append(f"{where}: sends a body, but the operation takes none")
    elif recorded.json is None:
        if body_spec.get("required"):
            problems.append(f"{where}: the required body is missing")
    else:
        pointer = f"{op_pointer}/requestBody/content/application~1json/schema"
        problems += [f"{where}: body {text}" for text in _validate(recorded.json, pointer, registry)]
    return operation.get("operationId"), problems


def exercise(client):
    """Call every method of the client once (the webhook list and a booking list page included)."""
    client.me()
    event_types = client.list_event_types()
    client.get_event_type(event_types[0].id)
    created = client.create_event_type("Hausbesuch", "hausbesuch", 60, description="Zu Hause", hidden=False,
                                       minimum_booking_notice=120, before_event_buffer=10)
    client.update_event_type(created.id, title="Hausbesuch Umland", length_in_minutes=75)
    client.delete_event_type(created.id)
    slots = client.get_slots(101, "2030-01-07", "2030-01-11", "Europe/Berlin", slot_format="range")
    starts = [slot.start for day in sorted(slots) for slot in slots[day]]
    held = client.reserve_slot(101, starts[0], slot_duration=30, reservation_duration=10)
    client.get_reservation(held.uid)
    client.update_reservation(held.uid, 101, starts[1])
    client.delete_reservation(held.uid)
    booking = client.create_booking(starts[2], "Ida Roth", "ida@example.com", "Europe/Berlin", 101,
                                    attendee_phone="+4915112345678", attendee_language="de", notes="Knie",
                                    metadata={"hub": "1"}, location={"type": "attendeePhone",
                                                                     "phone": "+4915112345678"})
    client.get_booking(booking.uid)
    page = client.list_bookings(after_start="2030-01-01T00:00:00Z", before_end="2030-12-31T00:00:00Z",
                                after_updated_at="2029-01-01T00:00:00Z", take=2, skip=0,
                                attendee_email="ida@example.com", sort_created="asc")
    assert page.items
    list(client.iter_bookings(page_size=2))
    moved = client.reschedule_booking(booking.uid, starts[5], reason="Passt nicht",
                                      rescheduled_by="termine@praxis-am-see.example")
    client.cancel_booking(moved.uid, "Patientin ist erkrankt")
    webhook = client.create_webhook("https://hub.example.test/api/webhooks/calcom/x", BOOKING_TRIGGERS, "whsec_1")
    client.list_webhooks()
    client.update_webhook(webhook.id, active=False, triggers=["BOOKING_CREATED"], subscriber_url=webhook.subscriber_url,
                          secret="whsec_2")
    client.delete_webhook(webhook.id)


@pytest.fixture(scope="module")
def captured():
    """The requests the client sent while exercising every method against the fake (its clock set to 2029, so the
    fixed 2030 dates lie in the future)."""
    with CalcomFake(clock=lambda: NOW, **demo_seed(NOW)) as fake:
        exercise(CalcomClient(fake.url, "cal_test_valid", timeout=(1.0, 2.0)))
        return list(fake.requests)


def test_every_request_follows_the_openapi_document(captured):
    """No request of the client violates the (corrected) document."""
    problems = [problem for recorded in captured for problem in violations(recorded)[1]]
    assert problems == []


def test_every_client_operation_was_checked(captured):
    """The exercise reached every operation the client implements, so none is left unchecked."""
    assert {violations(recorded)[0] for recorded in captured} == CLIENT_OPERATIONS


def test_every_correction_still_applies():
    """Each correction names a place that exists in the document (a refreshed document would show it)."""
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    for pointer, corrected, reason in SPEC_CORRECTIONS:
        _pointer_set(spec, pointer, corrected(spec))
        assert reason


def _request(method, path, query=None, version=None, body=None, auth=True):
    """A RecordedRequest as the fake would log it."""
    headers = {"authorization": "Bearer cal_test_valid"} if auth else {}
    if version:
        headers["cal-api-version"] = version
    return RecordedRequest(method, path, query or {}, headers, body)


GOOD_BOOKING = {"start": "2030-01-07T09:00:00Z", "eventTypeId": 101,
                "attendee": {"name": "Ida", "email": "ida@example.com", "timeZone": "Europe/Berlin"}}


@pytest.mark.parametrize(("recorded", "expected"), [
    (_request("GET", "/v2/slots/available", {"eventTypeId": "1"}, "2024-09-04"), "no such path"),
    (_request("PUT", "/v2/bookings/abc"), "method not declared"),
    (_request("GET", "/v2/slots", {"eventTypeId": "1", "start": "2030-01-01", "end": "2030-01-02"}),
     "cal-api-version None"),
    (_request("GET", "/v2/bookings", {}, "2024-06-14"), "cal-api-version '2024-06-14'"),
    (_request("GET", "/v2/bookings", {"pageSize": "5"}, "2024-08-13"), "'pageSize' is not declared"),
    (_request("GET", "/v2/bookings", {"sortStart": "up"}, "2024-08-13"), "query sortStart"),
    (_request("GET", "/v2/bookings", {}, "2024-08-13", auth=False), "required header Authorization"),
    (_request("GET", "/v2/slots", {"eventTypeId": "1", "start": "2030-01-01"}, "2024-09-04"),
     "required query parameter 'end'"),
    (_request("POST", "/v2/bookings", None, "2024-08-13", {**GOOD_BOOKING, "attendee": {"name": "Ida"}}),
     "timeZone"),
    (_request("POST", "/v2/bookings", None, "2024-08-13", {**GOOD_BOOKING, "attendeeEmail": "ida@example.com"}),
     "attendeeEmail"),
    (_request("POST", "/v2/bookings", None, "2024-08-13", {**GOOD_BOOKING, "eventTypeId": "101"}), "eventTypeId"),
    (_request("POST", "/v2/bookings", None, "2024-08-13"), "required body is missing"),
    (_request("POST", "/v2/webhooks", None, None, {"subscriberUrl": "https://x", "active": True,
                                                   "triggers": "BOOKING_CREATED"}), "triggers"),
    (_request("POST", "/v2/webhooks", None, None, {"subscriberUrl": "https://x", "active": True,
                                                   "triggers": ["BOOKING_CONFIRMED"]}), "BOOKING_CONFIRMED"),
    (_request("PATCH", "/v2/event-types/abc", None, "2024-06-14", {"title": "x"}), "path eventTypeId"),
    (_request("DELETE", "/v2/webhooks/abc", None, None, {"x": 1}), "takes none"),
])
def test_the_validator_rejects_wrong_requests(recorded, expected):
    """The check cannot pass vacuously: each kind of wrong request is reported."""
    problems = violations(recorded)[1]
    assert any(expected in problem for problem in problems), problems


def test_the_validator_accepts_a_correct_request():
    """The counterpart: a correct booking is accepted (with the ambiguous oneOf corrected)."""
    assert violations(_request("POST", "/v2/bookings", None, "2024-08-13", GOOD_BOOKING)) == (
        "BookingsController_2024_08_13_createBooking", [])
