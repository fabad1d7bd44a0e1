"""The Cal.com client against the fake Cal.com server (real HTTP on 127.0.0.1): every method, every failure
scenario mapped to its error, the lookup instead of a second POST after an ambiguous booking failure, the strict
parsing of answers, the mapping of bookings to appointments, and the fake's own control surface."""

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests

from app.providers.base import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderTimeout,
    ProviderUnreachable,
)
from app.providers.calcom.client import (
    BOOKING_TRIGGERS,
    Booking,
    BookingConflict,
    CalcomClient,
    CalcomProfile,
    EventType,
    Slot,
    Webhook,
    WebhookExists,
    appointment_record,
)
from app.providers.calcom.webhooks import TRIGGER_STATUS
from app.providers.events import CANCELLED, PENDING, REJECTED, RESCHEDULED, SCHEDULED
from tests.fakes.calcom import CalcomFake, demo_seed

ROOT = Path(__file__).resolve().parents[3]
HUB_URL = "https://hub.example.test/api/webhooks/calcom/abc"


@pytest.fixture
def fake():
    """The fake, seeded with the demo practice, served for one test."""
    with CalcomFake(slow_seconds=1.5, rate_limit_reset=2, **demo_seed()) as server:
        yield server


@pytest.fixture
def sleeps():
    """The waits the client asked for (it never really sleeps in these tests)."""
    return []


@pytest.fixture
def metrics():
    """The call metrics the client reported."""
    return []


@pytest.fixture
def calcom(fake, sleeps, metrics):
    """A client of the fake with short timeouts, two retries, recorded waits and metrics."""
    return CalcomClient(fake.url, "cal_test_valid", timeout=(1.0, 0.3), max_retries=2, backoff_seconds=0.01,
                        sleep=sleeps.append, on_call=metrics.append)


def next_slot(calcom, event_type_id=101, index=0):
    """A free slot start (aware datetime) on the coming days."""
    day = date.today() + timedelta(days=1)
    slots = calcom.get_slots(event_type_id, day, day + timedelta(days=6))
    return [slot.start for items in slots.values() for slot in items][index]


def test_me(calcom):
    """The profile of the key."""
    assert calcom.me() == CalcomProfile(id=1, username="praxis-am-see", email="termine@praxis-am-see.example",
                                        name="Praxis am See", time_zone="Europe/Berlin")


def test_wrong_key_is_an_auth_error(fake):
    """The fake accepts only its configured keys."""
    with pytest.raises(ProviderAuthError) as caught:
        CalcomClient(fake.url, "cal_live_wrong", max_retries=0).me()
    assert caught.value.status_code == 401
    assert "cal_live_wrong" not in caught.value.message


def test_configurable_keys():
    """valid_keys replaces the default key."""
    with CalcomFake(valid_keys={"cal_live_other"}) as server:
        assert CalcomClient(server.url, "cal_live_other").me().id == 1
        with pytest.raises(ProviderAuthError):
            CalcomClient(server.url, "cal_test_valid").me()


def test_event_type_crud(calcom):
    """List, create (with snake_case extras), get, update and delete event types; bookingUrl is read."""
    listed = calcom.list_event_types()
    assert [item.title for item in listed] == ["Erstgespräch", "Physiotherapie", "Manuelle Therapie", "Lymphdrainage"]
    assert listed[3].hidden is True
    created = calcom.create_event_type("Hausbesuch", "hausbesuch", 60, minimum_booking_notice=120,
                                       description="Behandlung zu Hause")
    assert created.length_in_minutes == 60
    assert created.booking_url == "https://cal.example/praxis-am-see/hausbesuch"
    assert calcom.get_event_type(created.id) == created
    updated = calcom.update_event_type(created.id, title="Hausbesuch (Umland)", hidden=True)
    assert (updated.title, updated.hidden) == ("Hausbesuch (Umland)", True)
    deleted = calcom.delete_event_type(created.id)
    assert deleted == EventType(created.id, "Hausbesuch (Umland)", "hausbesuch", 60, None, False)
    with pytest.raises(ProviderNotFound):
        calcom.get_event_type(created.id)


def test_slots_are_objects_in_the_requested_zone(calcom, fake):
    """Slots come back as Slot objects keyed by day, with the requested zone's offset; format=range adds end."""
    day = date.today() + timedelta(days=1)
    slots = calcom.get_slots(101, day, day + timedelta(days=6), "Europe/Berlin")
    first_day = min(slots)
    first = slots[first_day][0]
    assert isinstance(first, Slot) and first.end is None
    assert first.start.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    assert first.start.date().isoformat() == first_day
    ranged = calcom.get_slots(101, day, day + timedelta(days=6), slot_format="range")
    slot = next(iter(ranged.values()))[0]
    assert slot.end - slot.start == timedelta(minutes=30)
    sent = fake.requests[-1]
    assert sent.headers["cal-api-version"] == "2024-09-04"
    assert sent.query["start"] == day.isoformat()


def test_booked_times_are_not_offered(calcom):
    """A booking removes its slot from the answer."""
    start = next_slot(calcom)
    calcom.create_booking(start, "Ida Roth", "ida@example.com", "Europe/Berlin", 101)
    assert next_slot(calcom) != start


def test_reservation_lifecycle(calcom):
    """Reserve, read, move and release a slot."""
    start, later = next_slot(calcom, index=0), next_slot(calcom, index=1)
    held = calcom.reserve_slot(101, start)
    assert held.slot_start == start and held.slot_duration == 30 and held.event_type_id == 101
    assert calcom.get_reservation(held.uid) == held
    moved = calcom.update_reservation(held.uid, 101, later)
    assert moved.slot_start == later and moved.uid == held.uid
    assert calcom.delete_reservation(held.uid) is None
    assert calcom.get_reservation(held.uid) is None
    with pytest.raises(ProviderNotFound):
        calcom.delete_reservation(held.uid)


def test_list_bookings_page_and_filters(calcom):
    """One page: items plus has_next; filters by start and attendee email."""
    page = calcom.list_bookings(take=4)
    assert len(page.items) == 4 and page.has_next is True and page.total_items == 6
    assert all(isinstance(item, Booking) for item in page.items)
    last = calcom.list_bookings(take=4, skip=4)
    assert len(last.items) == 2 and last.has_next is False
    mine = calcom.list_bookings(attendee_email="lena.mueller@example.com")
    assert [item.uid for item in mine.items] == ["demo-bk-erst-mueller"]
    later = calcom.list_bookings(after_start=page.items[3].start)
    assert {item.uid for item in later.items} == {item.uid for item in page.items[3:] + last.items}
    with pytest.raises(ValueError):
        calcom.list_bookings(take=251)


def test_iter_bookings_pages_with_take_and_skip(calcom, fake):
    """iter_bookings walks every page with take/skip."""
    uids = [booking.uid for booking in calcom.iter_bookings(page_size=4)]
    assert len(uids) == len(set(uids)) == 6
    pages = [(r.query["take"], r.query["skip"]) for r in fake.requests if r.path == "/v2/bookings"]
    assert pages == [("4", "0"), ("4", "4")]


def test_iter_bookings_since_last_change(calcom):
    """after_updated_at finds what changed since a sync."""
    before = datetime.now(UTC) - timedelta(seconds=1)
    calcom.cancel_booking("demo-bk-mt-fischer", "Patientin hat abgesagt")
    changed = [booking.uid for booking in calcom.iter_bookings(after_updated_at=before)]
    assert "demo-bk-mt-fischer" in changed


def test_get_booking(calcom):
    """One booking by uid, with hosts, attendees and the event type."""
    booking = calcom.get_booking("demo-bk-physio-schneider")
    assert booking.status == "accepted" and booking.event_type_id == 102
    assert booking.event_type_slug == "physiotherapie"
    assert booking.hosts[0].name == "Jonas Wolf"
    assert booking.attendees[0].email == "peter.schneider@example.com"
    assert booking.end - booking.start == timedelta(minutes=45)
    with pytest.raises(ProviderNotFound):
        calcom.get_booking("no-such-uid")


def test_create_booking(calcom, fake):
    """A booking is created (201) with the attendee, notes and the event type; it is POSTed once."""
    start = next_slot(calcom)
    booking = calcom.create_booking(start, "Ida Roth", "ida@example.com", "Europe/Berlin", 101,
                                    attendee_language="de", notes="Knie links")
    assert booking.start == start and booking.status == "accepted"
    assert booking.attendees[0].name == "Ida Roth"
    sent = fake.requests[-1]
    assert sent.json["attendee"] == {"name": "Ida Roth", "email": "ida@example.com", "timeZone": "Europe/Berlin",
                                     "language": "de"}
    assert sent.json["bookingFieldsResponses"] == {"notes": "Knie links"}
    assert sent.json["start"].endswith("Z")
    assert fake.request_count("/v2/bookings") == 1


def test_create_booking_on_a_taken_slot_is_a_conflict(calcom):
    """The 400 "already has booking / not available" becomes BookingConflict with Cal.com's reason."""
    start = next_slot(calcom)
    calcom.create_booking(start, "Ida Roth", "ida@example.com", "Europe/Berlin", 101)
    with pytest.raises(BookingConflict) as caught:
        calcom.create_booking(start, "Max Kurz", "max@example.com", "Europe/Berlin", 101)
    assert caught.value.status_code == 400
    assert "not available" in caught.value.provider_message


def test_create_booking_409_is_a_conflict(calcom, fake):
    """The race-condition 409 booking_conflict_error (plain shape) becomes BookingConflict."""
    start = next_slot(calcom)
    fake.set_scenario("409", times=1)
    with pytest.raises(BookingConflict) as caught:
        calcom.create_booking(start, "Ida Roth", "ida@example.com", "Europe/Berlin", 101)
    assert caught.value.provider_message == "booking_conflict_error"


def test_create_booking_in_the_past_is_a_request_error(calcom):
    """Cal.com's reason reaches the message."""
    with pytest.raises(ProviderRequestError, match="in the past") as caught:
        calcom.create_booking(datetime(2020, 1, 6, 9, tzinfo=UTC), "Ida", "ida@example.com", "Europe/Berlin", 101)
    assert not isinstance(caught.value, BookingConflict)


def test_create_booking_timeout_looks_the_booking_up_instead_of_posting_again(calcom, fake):
    """The answer is late (the booking was made): the client finds it by attendee email and start."""
    start = next_slot(calcom)
    fake.set_scenario("slow", times=1)
    booking = calcom.create_booking(start, "Ida Roth", "ida@example.com", "Europe/Berlin", 101)
    assert booking.start == start and booking.attendees[0].email == "ida@example.com"
    posts = [r for r in fake.requests if r.method == "POST" and r.path == "/v2/bookings"]
    lookups = [r for r in fake.requests if r.method == "GET" and r.path == "/v2/bookings"]
    assert len(posts) == 1
    assert lookups[-1].query["attendeeEmail"] == "ida@example.com"
    assert lookups[-1].query["afterStart"] == posts[0].json["start"]


def test_create_booking_timeout_without_a_booking_raises_timeout(calcom, fake):
    """Nothing was created (the late answer is an error): ProviderTimeout, still a single POST."""
    fake.set_scenario("slow", times=1)
    with pytest.raises(ProviderTimeout) as caught:
        calcom.create_booking(datetime.now(UTC) + timedelta(days=1), "Ida", "ida@example.com", "Europe/Berlin", 999)
    assert caught.value.ambiguous is True
    assert "not found" in caught.value.message
    assert len([r for r in fake.requests if r.method == "POST"]) == 1


def test_create_booking_connection_drop_is_checked_not_repeated(calcom, fake):
    """A dropped connection: one POST, then the lookup; nothing found, so the connection error is raised."""
    start = next_slot(calcom)
    fake.set_scenario("down", times=1)
    with pytest.raises(ProviderUnreachable) as caught:
        calcom.create_booking(start, "Ida", "ida@example.com", "Europe/Berlin", 101)
    assert not isinstance(caught.value, ProviderTimeout)
    assert len([r for r in fake.requests if r.method == "POST"]) == 1
    assert fake.request_count("/v2/bookings") == 2


def test_reschedule_booking(calcom):
    """Rescheduling returns the new booking; the old one is cancelled and points to it."""
    start = next_slot(calcom, index=3)
    new = calcom.reschedule_booking("demo-bk-erst-mueller", start, reason="Termin passt nicht",
                                    rescheduled_by="termine@praxis-am-see.example")
    assert new.uid != "demo-bk-erst-mueller" and new.start == start
    assert new.rescheduled_from_uid == "demo-bk-erst-mueller"
    old = calcom.get_booking("demo-bk-erst-mueller")
    assert old.status == "cancelled" and old.rescheduled_to_uid == new.uid
    with pytest.raises(ProviderRequestError, match=new.uid):
        calcom.reschedule_booking("demo-bk-erst-mueller", next_slot(calcom, index=4))


def test_reschedule_onto_a_taken_slot_is_a_conflict(calcom):
    """The new time must be free."""
    taken = calcom.get_booking("demo-bk-physio-schneider").start
    with pytest.raises(BookingConflict):
        calcom.reschedule_booking("demo-bk-erst-mueller", taken)


def test_cancel_booking(calcom, fake):
    """Cancel with a reason; a second cancel is refused with Cal.com's reason (plain error shape)."""
    cancelled = calcom.cancel_booking("demo-bk-physio-schneider", "Patient ist umgezogen")
    assert cancelled.status == "cancelled" and cancelled.cancellation_reason == "Patient ist umgezogen"
    assert fake.requests[-1].json == {"cancellationReason": "Patient ist umgezogen"}
    with pytest.raises(ProviderRequestError, match="already been cancelled"):
        calcom.cancel_booking("demo-bk-physio-schneider", "again")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_cancel_booking_needs_a_reason_before_anything_is_sent(calcom, fake, reason):
    """Cal.com refuses a host's cancel without a reason; the client refuses it first, sending nothing."""
    with pytest.raises(ValueError, match="reason is required"):
        calcom.cancel_booking("demo-bk-physio-schneider", reason)
    assert fake.request_count() == 0


def test_webhook_crud(calcom, fake):
    """Create (UUID id, triggers as a list), list, update and delete a webhook."""
    created = calcom.create_webhook(HUB_URL, BOOKING_TRIGGERS, "whsec_123")
    assert isinstance(created, Webhook) and len(created.id) == 36
    assert created.triggers == BOOKING_TRIGGERS and created.active is True
    assert fake.requests[-1].json["triggers"] == list(BOOKING_TRIGGERS)
    assert calcom.list_webhooks() == [created]
    updated = calcom.update_webhook(created.id, active=False, triggers=["BOOKING_CREATED"])
    assert (updated.active, updated.triggers) == (False, ("BOOKING_CREATED",))
    assert calcom.delete_webhook(created.id).id == created.id
    assert calcom.list_webhooks() == []
    with pytest.raises(ProviderNotFound):
        calcom.delete_webhook(created.id)


def test_duplicate_webhook_is_webhook_exists(calcom):
    """409 on a second webhook for the same subscriberUrl."""
    calcom.create_webhook(HUB_URL, BOOKING_TRIGGERS, "whsec_123")
    with pytest.raises(WebhookExists) as caught:
        calcom.create_webhook(HUB_URL, BOOKING_TRIGGERS, "whsec_456")
    assert caught.value.status_code == 409 and "already exists" in caught.value.provider_message


@pytest.mark.parametrize("triggers", [["BOOKING_CONFIRMED"], [], ["BOOKING_CREATED", "BOOKING_NO_SHOW"]])
def test_unknown_triggers_are_refused_before_sending(calcom, fake, triggers):
    """The OpenAPI example's made-up trigger names never reach Cal.com."""
    with pytest.raises(ValueError):
        calcom.create_webhook(HUB_URL, triggers, "whsec_123")
    assert fake.request_count() == 0


def test_booking_triggers_are_the_ones_the_webhooks_apply():
    """We subscribe to exactly the triggers app.providers.calcom.webhooks turns into appointments."""
    assert set(BOOKING_TRIGGERS) == set(TRIGGER_STATUS)


@pytest.mark.parametrize(("scenario", "error", "attempts"), [
    ("401", ProviderAuthError, 1),
    ("409", ProviderRequestError, 1),
    ("429", ProviderRateLimited, 3),
    ("500", ProviderUnreachable, 3),
    ("slow", ProviderTimeout, 3),
    ("html", ProviderBadResponse, 1),
    ("bad_shape", ProviderBadResponse, 1),
    ("down", ProviderUnreachable, 3),
])
def test_scenarios_map_to_errors(calcom, fake, sleeps, scenario, error, attempts):
    """Each failure of a GET becomes its error after the retries that make sense for it."""
    fake.set_scenario(scenario, slow_seconds=0.6)
    with pytest.raises(error) as caught:
        calcom.me()
    assert fake.request_count() == attempts
    assert len(sleeps) == attempts - 1
    assert caught.value.provider == "calcom"
    if scenario == "429":
        assert caught.value.retry_after == 2.0 and sleeps == [2.0, 2.0]


@pytest.mark.parametrize("scenario", ["401", "409", "500", "html", "bad_shape"])
def test_scenarios_on_a_write(calcom, fake, scenario):
    """A POST is never retried on these (a 429 would be: see the next test)."""
    fake.set_scenario(scenario)
    with pytest.raises((ProviderAuthError, ProviderRequestError, ProviderUnreachable, ProviderBadResponse)):
        calcom.create_event_type("Neu", "neu", 30)
    assert fake.request_count("/v2/event-types") == 1


def test_429_is_retried_even_for_a_post_and_then_succeeds(calcom, fake, sleeps):
    """One throttled answer, then success, after waiting X-RateLimit-Reset-Default."""
    fake.set_scenario("429", times=1)
    assert calcom.create_event_type("Neu", "neu", 30).slug == "neu"
    assert sleeps == [2.0] and fake.request_count("/v2/event-types") == 2


def test_scenario_times_then_back_to_ok(calcom, fake):
    """A scenario limited to ``times`` answers, then the fake recovers: a GET retried through a 500 succeeds."""
    fake.set_scenario("500", times=2)
    assert calcom.me().id == 1
    assert fake.request_count() == 3 and fake.scenario == "ok"


def test_stopped_server_is_unreachable_not_ambiguous(fake):
    """A refused connection: ProviderUnreachable, and nothing can have been processed."""
    client = CalcomClient(fake.url, "cal_test_valid", max_retries=0)
    fake.stop()
    with pytest.raises(ProviderUnreachable) as caught:
        client.me()
    assert caught.value.ambiguous is False


def test_error_shapes_are_both_read(calcom):
    """The envelope's error.message (404 here) and the plain message (cancel twice) both reach the error."""
    with pytest.raises(ProviderNotFound, match="Booking with uid=nope was not found"):
        calcom.get_booking("nope")
    with pytest.raises(ProviderRequestError, match="Cancellation reason is required"):
        calcom.request("POST", "/v2/bookings/demo-bk-erst-mueller/cancel", action="raw",
                       headers={"cal-api-version": "2024-08-13"}, json={})


def test_validation_errors_name_the_constraint(calcom):
    """class-validator's details.errors are shown instead of the bare "Bad Request Exception"."""
    with pytest.raises(ProviderRequestError, match="start must be"):
        calcom.request("POST", "/v2/bookings/demo-bk-erst-mueller/reschedule", action="raw",
                       headers={"cal-api-version": "2024-08-13"}, json={})


def test_metrics_count_records(calcom, metrics):
    """Each call reports its action and the records it returned."""
    calcom.list_bookings(take=4)
    calcom.me()
    assert [(m.action, m.success, m.status_code, m.records) for m in metrics] == [
        ("bookings.list", True, 200, 4), ("me", True, 200, 1)]


@pytest.mark.parametrize(("data", "field"), [
    ({"id": "1", "username": "u", "email": "e", "name": None, "timeZone": "UTC"}, "data.id"),
    ({"id": 1, "username": "u", "email": "e", "name": None}, "data.timeZone"),
    ({"id": 1, "username": "u", "email": None, "name": None, "timeZone": "UTC"}, "data.email"),
    ([], "data"),
])
def test_ill_typed_answers_name_the_field(calcom, data, field):
    """Strict parsing: the message names the field and what was expected."""
    from app.providers.calcom import parsing as module

    with pytest.raises(ProviderBadResponse, match=field.replace(".", r"\.")):
        module._profile(data)


def test_booking_parsing_is_strict():
    """A booking with an unknown status, a naive time or no attendees list is refused, naming the field."""
    from app.providers.calcom import parsing as module

    good = CalcomFake(**demo_seed()).bookings["demo-bk-erst-mueller"]
    assert module._booking(good, "data").uid == "demo-bk-erst-mueller"
    for change, field in (({"status": "ACCEPTED"}, "data.status"), ({"start": "2026-01-01T09:00:00"}, "data.start"),
                          ({"attendees": None}, "data.attendees"), ({"uid": 5}, "data.uid")):
        with pytest.raises(ProviderBadResponse, match=field.replace(".", r"\.")):
            module._booking({**good, **change}, "data")


def test_webhook_id_must_be_a_string():
    """The OpenAPI number id is wrong (CALCOM.md §10); a number is not accepted silently."""
    from app.providers.calcom import parsing as module

    with pytest.raises(ProviderBadResponse, match=r"data\.id"):
        module._webhook({"id": 5, "subscriberUrl": HUB_URL, "active": True, "triggers": []}, "data")
    with pytest.raises(ProviderBadResponse, match=r"data\.triggers"):
        module._webhook({"id": "x", "subscriberUrl": HUB_URL, "active": True, "triggers": "BOOKING_CREATED"}, "data")


@pytest.mark.parametrize(("status", "rescheduled_to", "expected"), [
    ("accepted", None, SCHEDULED), ("pending", None, PENDING), ("cancelled", None, CANCELLED),
    ("rejected", None, REJECTED), ("cancelled", "newuid", RESCHEDULED),
])
def test_appointment_record_status(status, rescheduled_to, expected):
    """Lowercase API statuses map like the webhook's; a booking moved elsewhere is rescheduled."""
    fake = CalcomFake(**demo_seed())
    seeded = {**fake.bookings["demo-bk-erst-mueller"], "status": status}
    if rescheduled_to:
        seeded["rescheduledToUid"] = rescheduled_to
    from app.providers.calcom import parsing as module

    assert appointment_record(module._booking(seeded, "data")).status == expected


def test_appointment_record_fields(calcom):
    """Attendee, therapist, service (event type title when known) and times, as the webhooks map them."""
    booking = calcom.get_booking("demo-bk-physio-schneider")
    record = appointment_record(booking)
    assert (record.source, record.external_id) == ("calcom", "demo-bk-physio-schneider")
    assert (record.attendee_name, record.attendee_email) == ("Peter Schneider", "peter.schneider@example.com")
    assert (record.therapist_name, record.therapist_email) == ("Jonas Wolf", "jonas.wolf@praxis-am-see.example")
    assert record.service_name == booking.title
    assert (record.starts_at, record.ends_at) == (booking.start, booking.end)
    assert record.source_updated_at == booking.updated_at and record.replaces_external_id is None
    titles = {event_type.id: event_type.title for event_type in calcom.list_event_types()}
    assert appointment_record(booking, titles).service_name == "Physiotherapie"
    new = calcom.reschedule_booking(booking.uid, next_slot(calcom, 102))
    assert appointment_record(new).replaces_external_id == booking.uid


def test_missing_version_header_finds_no_slots_route(fake):
    """Like the real API: without cal-api-version, GET /v2/slots is the legacy controller's 404."""
    answer = requests.get(f"{fake.url}/v2/slots", params={"eventTypeId": 101, "start": "2030-01-01",
                                                          "end": "2030-01-02"}, timeout=5)
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "Cannot GET /v2/slots"
    assert answer.headers["X-RateLimit-Limit-Default"] == "120"
    assert "Retry-After" not in answer.headers


def test_rate_limit_headers_on_every_answer(fake):
    """X-RateLimit-*-Default on success and error answers; the 429 has no Retry-After."""
    headers = {"Authorization": "Bearer cal_test_valid"}
    ok = requests.get(f"{fake.url}/v2/me", headers=headers, timeout=5)
    fake.set_scenario("429", times=1)
    limited = requests.get(f"{fake.url}/v2/me", headers=headers, timeout=5)
    assert int(ok.headers["X-RateLimit-Remaining-Default"]) < 120
    assert limited.status_code == 429 and limited.headers["X-RateLimit-Remaining-Default"] == "0"
    assert limited.headers["X-RateLimit-Reset-Default"] == "2" and "Retry-After" not in limited.headers
    assert limited.json()["error"]["code"] == "ThrottlerException"


def test_control_endpoints_for_other_processes(fake):
    """Scenario switching, the request log and reset over HTTP."""
    assert requests.post(f"{fake.url}/__fake/scenario", json={"scenario": "500", "times": 1}, timeout=5).ok
    assert requests.get(f"{fake.url}/v2/me", timeout=5).status_code == 500
    assert requests.post(f"{fake.url}/__fake/scenario", json={"scenario": "nope"}, timeout=5).status_code == 400
    logged = requests.get(f"{fake.url}/__fake/requests", timeout=5).json()
    assert [(item["method"], item["path"]) for item in logged] == [("GET", "/v2/me")]
    client = CalcomClient(fake.url, "cal_test_valid")
    client.cancel_booking("demo-bk-erst-mueller", "weg")
    assert requests.post(f"{fake.url}/__fake/reset", timeout=5).ok
    assert fake.requests == [] and fake.scenario == "ok"
    assert client.get_booking("demo-bk-erst-mueller").status == "accepted"


def test_fake_runs_as_a_separate_process():
    """``python -m tests.fakes.calcom --demo`` prints its URL and serves the demo practice until terminated."""
    process = subprocess.Popen([sys.executable, "-m", "tests.fakes.calcom", "--port", "0", "--demo"], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("CALCOM_FAKE_URL=http://127.0.0.1:")
        client = CalcomClient(line.split("=", 1)[1], "cal_test_valid")
        assert [item.slug for item in client.list_event_types()][0] == "erstgespraech"
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
    assert process.returncode == 0
