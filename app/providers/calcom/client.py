"""The Cal.com API v2 client: profile, event types, slots and reservations, bookings and webhooks, with typed
results parsed strictly from the answers.

Facts from contracts/calcom/CALCOM.md (the contract; the code wins over the OpenAPI document, §10):
- every resource needs its own ``cal-api-version`` header; a missing one silently selects a legacy controller (§1);
- success answers are ``{"status": "success", "data": ...}``; errors come as ``{"error": {"message": ...}}`` or as a
  plain ``{"statusCode", "message"}`` (§1), both read by ``error_message``;
- 429 has no ``Retry-After``; the wait is in ``X-RateLimit-Reset-<Name>``, probably seconds (§1, §11);
- bookings are addressed by uid and changed through POST sub-resources; creating one is not idempotent, so after an
  ambiguous failure the booking is looked up instead of being sent again (§3, §9);
- a host cancelling needs a non-empty reason (§3); webhook ids are UUID strings and triggers an array (§5, §10).

The results are frozen dataclasses; their list-valued fields are tuples so the records stay immutable."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from app.providers.base import (
    ProviderBadResponse,
    ProviderClient,
    ProviderError,
    ProviderRequestError,
    ProviderTimeout,
    ProviderUnreachable,
)
from app.providers.events import CANCELLED, PENDING, REJECTED, RESCHEDULED, SCHEDULED, AppointmentRecord

SOURCE = "calcom"
DEFAULT_BASE_URL = "https://api.cal.com"

# The cal-api-version each resource needs (CALCOM.md §1); /v2/me and /v2/webhooks accept any or none.
SLOTS_VERSION = "2024-09-04"
BOOKINGS_VERSION = "2024-08-13"
EVENT_TYPES_VERSION = "2024-06-14"

# The booking triggers a practice's webhook subscribes to: exactly those app.providers.calcom.webhooks applies.
BOOKING_TRIGGERS = ("BOOKING_CREATED", "BOOKING_REQUESTED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED",
                    "BOOKING_REJECTED")
# Every trigger name Cal.com accepts (Prisma enum WebhookTriggerEvents, CALCOM.md §5). The OpenAPI example's
# BOOKING_CONFIRMED, BOOKING_COMPLETED, BOOKING_NO_SHOW and BOOKING_REOPENED do not exist.
WEBHOOK_TRIGGERS = frozenset({
    "BOOKING_CREATED", "BOOKING_PAYMENT_INITIATED", "BOOKING_PAID", "BOOKING_RESCHEDULED", "BOOKING_REQUESTED",
    "BOOKING_CANCELLED", "BOOKING_REJECTED", "BOOKING_NO_SHOW_UPDATED", "FORM_SUBMITTED", "FORM_SUBMITTED_NO_EVENT",
    "MEETING_ENDED", "MEETING_STARTED", "RECORDING_READY", "INSTANT_MEETING", "RECORDING_TRANSCRIPTION_GENERATED",
    "AFTER_HOSTS_CAL_VIDEO_NO_SHOW", "AFTER_GUESTS_CAL_VIDEO_NO_SHOW", "OOO_CREATED", "DELEGATION_CREDENTIAL_ERROR",
})
BOOKING_STATUSES = ("accepted", "pending", "cancelled", "rejected")
# Booking status (lowercase in API v2) -> appointment status; a booking with rescheduledToUid is RESCHEDULED.
STATUS_MAP = {"accepted": SCHEDULED, "pending": PENDING, "cancelled": CANCELLED, "rejected": REJECTED}

MAX_TAKE = 250
# Cal.com blocks a client for 60 s once it is over the limit, so no reset is ever longer.
MAX_RESET_SECONDS = 60.0
# The 400 message of an occupied slot ("User either already has booking at this time or is not available").
_UNAVAILABLE = re.compile(r"already has booking|not available", re.IGNORECASE)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class BookingConflict(ProviderRequestError):
    """The slot is taken: 409 ``booking_conflict_error`` or 400 "already has booking ... or is not available"."""


class WebhookExists(ProviderRequestError):
    """409 on webhook creation: this Cal.com user already has a webhook for the subscriber URL."""


@dataclass(frozen=True)
class CalcomProfile:
    """The account behind the API key (GET /v2/me)."""

    id: int
    username: str
    email: str
    name: str | None
    time_zone: str


@dataclass(frozen=True)
class EventType:
    """A bookable service. ``booking_url`` is the public booking page (None when Cal.com does not send it, as in
    the answer to DELETE); ``hidden`` event types are not listed on the profile page."""

    id: int
    title: str
    slug: str
    length_in_minutes: int
    booking_url: str | None
    hidden: bool


@dataclass(frozen=True)
class Slot:
    """A free start time, in the offset of the requested time zone; ``end`` only with ``slot_format="range"``."""

    start: datetime
    end: datetime | None = None


@dataclass(frozen=True)
class Reservation:
    """A held slot (POST /v2/slots/reservations): it blocks other bookers until ``reservation_until``."""

    uid: str
    event_type_id: int
    slot_start: datetime
    slot_end: datetime
    slot_duration: int
    reservation_duration: int
    reservation_until: datetime


@dataclass(frozen=True)
class Host:
    """A booking's host (the therapist)."""

    id: int | None
    name: str
    email: str
    username: str | None = None
    time_zone: str | None = None


@dataclass(frozen=True)
class Attendee:
    """A booking's attendee; the booker is the first."""

    name: str
    email: str | None
    time_zone: str | None = None
    phone_number: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Booking:
    """A booking as API v2 (2024-08-13) describes it; times are aware datetimes in UTC, ``status`` is lowercase
    (``accepted``, ``pending``, ``cancelled``, ``rejected``). A rescheduled booking is ``cancelled`` with
    ``rescheduled_to_uid`` set; its successor has ``rescheduled_from_uid``."""

    uid: str
    id: int
    title: str
    status: str
    start: datetime
    end: datetime
    event_type_id: int | None
    event_type_slug: str | None
    hosts: tuple
    attendees: tuple
    created_at: datetime | None
    updated_at: datetime | None
    rescheduled_from_uid: str | None = None
    rescheduled_to_uid: str | None = None
    cancellation_reason: str | None = None


@dataclass(frozen=True)
class BookingPage:
    """One page of GET /v2/bookings: the bookings, whether another page follows, and the total when given."""

    items: tuple
    has_next: bool
    total_items: int | None = None


@dataclass(frozen=True)
class Webhook:
    """A user-level webhook subscription. ``id`` is a UUID string; ``triggers`` a tuple of trigger names."""

    id: str
    subscriber_url: str
    active: bool
    triggers: tuple


class CalcomClient(ProviderClient):
    """Cal.com API v2 with an API key (``cal_…`` or ``cal_live_…``) sent as a bearer token."""

    provider = "calcom"
    label = "Cal.com"

    def __init__(self, base_url=DEFAULT_BASE_URL, api_key="", **options):
        """As ProviderClient; the base URL defaults to the hosted service."""
        super().__init__(base_url, api_key, **options)

    # Hooks.

    def retry_after(self, response):
        """Seconds until the throttle window resets, from ``X-RateLimit-Reset-<Name>`` (``Default`` preferred),
        capped at the 60 s block; Cal.com sends no ``Retry-After`` (CALCOM.md §1)."""
        resets = {name.lower(): value for name, value in response.headers.items()
                  if name.lower().startswith("x-ratelimit-reset")}
        value = resets.get("x-ratelimit-reset-default") or next(iter(resets.values()), None)
        seconds = _float(value)
        return None if seconds is None else min(max(seconds, 0.0), MAX_RESET_SECONDS)

    def error_message(self, response, body):
        """The reason in either error shape: ``error.message`` (with ``error.details.message`` when the first is
        Nest's generic "Bad Request Exception"), else the plain ``message``; the HTTP reason as a last resort."""
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict):
                message = _text(error.get("message"))
                details = error.get("details")
                detail = _details_text(details) if isinstance(details, dict) else ""
                if detail and detail != message and (not message or message.endswith("Exception")):
                    return f"{message}: {detail}" if message else detail
                if message:
                    return message
            message = _text(body.get("message"))
            if message:
                return message
        return response.reason or ""

    def count_records(self, action, body):
        """Records in a success envelope: the items of a list, the slots of all days, 1 for one object."""
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, list):
            return len(data)
        if action == "slots.get" and isinstance(data, dict):
            return sum(len(day) for day in data.values() if isinstance(day, list))
        return 0 if data is None else 1

    # Plumbing.

    def _call(self, method, path, *, action, version=None, **kwargs):
        """``request`` with the resource's ``cal-api-version``; returns the ``data`` of the success envelope."""
        headers = {"cal-api-version": version} if version else {}
        body = self.request(method, path, action=action, headers=headers, **kwargs)
        return _envelope_data(body, action)

    # Profile.

    def me(self):
        """The profile of the key's user (the cheapest call that proves a key works)."""
        return _profile(self._call("GET", "/v2/me", action="me"))

    # Event types.

    def list_event_types(self):
        """The key owner's event types."""
        data = self._call("GET", "/v2/event-types", action="event_types.list", version=EVENT_TYPES_VERSION)
        return [_event_type(item, f"data[{index}]") for index, item in enumerate(_list(data, "data"))]

    def get_event_type(self, event_type_id):
        """One event type by id."""
        data = self._call("GET", f"/v2/event-types/{int(event_type_id)}", action="event_types.get",
                          version=EVENT_TYPES_VERSION)
        return _event_type(data, "data")

    def create_event_type(self, title, slug, length_in_minutes, **extra):
        """Create an event type; ``extra`` takes further fields of CreateEventTypeInput_2024_06_14, in snake_case
        or camelCase (``minimum_booking_notice=120``, ``hidden=True``, ``locations=[...]``)."""
        body = {"title": title, "slug": slug, "lengthInMinutes": int(length_in_minutes), **_camel_fields(extra)}
        data = self._call("POST", "/v2/event-types", action="event_types.create", version=EVENT_TYPES_VERSION,
                          json=body)
        return _event_type(data, "data")

    def update_event_type(self, event_type_id, **fields):
        """Change the given fields of an event type (snake_case or camelCase names) and return it."""
        data = self._call("PATCH", f"/v2/event-types/{int(event_type_id)}", action="event_types.update",
                          version=EVENT_TYPES_VERSION, json=_camel_fields(fields))
        return _event_type(data, "data")

    def delete_event_type(self, event_type_id):
        """Delete an event type; the answer carries only id, title, slug and length (no URL; hidden is False)."""
        data = self._call("DELETE", f"/v2/event-types/{int(event_type_id)}", action="event_types.delete",
                          version=EVENT_TYPES_VERSION)
        return _event_type(data, "data", partial=True)

    # Slots and reservations.

    def get_slots(self, event_type_id, start, end, time_zone=None, *, slot_format=None):
        """Free slots of an event type between ``start`` and ``end`` (dates or aware datetimes), keyed by day
        ("YYYY-MM-DD"); times are in ``time_zone`` (default UTC). Days without slots are absent."""
        params = {"eventTypeId": int(event_type_id), "start": _query_time(start), "end": _query_time(end)}
        if time_zone:
            params["timeZone"] = time_zone
        if slot_format:
            params["format"] = slot_format
        data = self._call("GET", "/v2/slots", action="slots.get", version=SLOTS_VERSION, params=params)
        if not isinstance(data, dict):
            raise _shape("data", "an object keyed by date")
        slots = {}
        for day, items in data.items():
            if not _DAY.fullmatch(day):
                raise _shape(f"data.{day}", "a key of the form YYYY-MM-DD")
            slots[day] = [_slot(item, f"data.{day}[{index}]") for index, item in enumerate(_list(items, f"data.{day}"))]
        return slots

    def reserve_slot(self, event_type_id, slot_start, *, slot_duration=None, reservation_duration=None):
        """Hold a slot for a few minutes so nobody else books it while the patient confirms."""
        data = self._call("POST", "/v2/slots/reservations", action="slots.reserve", version=SLOTS_VERSION,
                          json=_reservation_body(event_type_id, slot_start, slot_duration, reservation_duration))
        return _reservation(data, "data")

    def get_reservation(self, uid):
        """A reservation by uid, or None when Cal.com has none (expired or released)."""
        data = self._call("GET", f"/v2/slots/reservations/{uid}", action="slots.get_reservation",
                          version=SLOTS_VERSION)
        return None if data is None else _reservation(data, "data")

    def update_reservation(self, uid, event_type_id, slot_start, *, slot_duration=None, reservation_duration=None):
        """Move or extend a reservation (the body is the same as for reserving)."""
        data = self._call("PATCH", f"/v2/slots/reservations/{uid}", action="slots.update_reservation",
                          version=SLOTS_VERSION,
                          json=_reservation_body(event_type_id, slot_start, slot_duration, reservation_duration))
        return _reservation(data, "data")

    def delete_reservation(self, uid):
        """Release a reservation (the answer has no data)."""
        body = self.request("DELETE", f"/v2/slots/reservations/{uid}", action="slots.delete_reservation",
                            headers={"cal-api-version": SLOTS_VERSION})
        if not isinstance(body, dict) or body.get("status") != "success":
            raise _shape("status", '"success"')

    # Bookings.

    def list_bookings(self, after_start=None, before_end=None, after_updated_at=None, take=100, skip=0, *,
                      attendee_email=None, sort_created=None):
        """One page of the key owner's bookings, filtered by start, end, last change or attendee email."""
        if not 1 <= int(take) <= MAX_TAKE:
            raise ValueError(f"take must be between 1 and {MAX_TAKE}")
        params = {"take": int(take), "skip": int(skip)}
        for name, value in (("afterStart", after_start), ("beforeEnd", before_end),
                            ("afterUpdatedAt", after_updated_at)):
            if value is not None:
                params[name] = _query_time(value)
        if attendee_email:
            params["attendeeEmail"] = attendee_email
        if sort_created:
            params["sortCreated"] = sort_created
        body = self.request("GET", "/v2/bookings", action="bookings.list", params=params,
                            headers={"cal-api-version": BOOKINGS_VERSION})
        data = _envelope_data(body, "bookings.list")
        items = tuple(_booking(item, f"data[{index}]") for index, item in enumerate(_list(data, "data")))
        pagination = body.get("pagination")
        if not isinstance(pagination, dict):
            raise _shape("pagination", "an object")
        has_next = pagination.get("hasNextPage")
        if not isinstance(has_next, bool):
            raise _shape("pagination.hasNextPage", "true or false")
        total = pagination.get("totalItems")
        return BookingPage(items=items, has_next=has_next, total_items=total if _is_int(total) else None)

    def iter_bookings(self, after_start=None, before_end=None, after_updated_at=None, *, attendee_email=None,
                      page_size=100):
        """Every matching booking, page by page (take/skip, oldest created first so pages stay stable)."""
        skip = 0
        while True:
            page = self.list_bookings(after_start, before_end, after_updated_at, take=page_size, skip=skip,
                                      attendee_email=attendee_email, sort_created="asc")
            yield from page.items
            if not page.has_next:
                return
            if not page.items:
                raise _shape("pagination.hasNextPage", "false when a page is empty")
            skip += len(page.items)

    def get_booking(self, uid):
        """One booking by uid."""
        data = self._call("GET", f"/v2/bookings/{uid}", action="bookings.get", version=BOOKINGS_VERSION)
        return _booking(data, "data")

    def create_booking(self, start, attendee_name, attendee_email, attendee_time_zone, event_type_id, *,
                       attendee_phone=None, attendee_language=None, notes=None, length_in_minutes=None,
                       metadata=None, location=None):
        """Book ``start`` (an aware datetime or ISO UTC string) for the attendee. Never sent twice: after a timeout
        or a lost connection the booking is looked up by attendee email and start, and returned when it exists;
        otherwise the original error is raised (ProviderTimeout after a timeout). BookingConflict when the slot
        is taken. For a recurring event type Cal.com answers with a list; its first booking is returned."""
        attendee = {"name": attendee_name, "email": attendee_email, "timeZone": attendee_time_zone}
        if attendee_phone:
            attendee["phoneNumber"] = attendee_phone
        if attendee_language:
            attendee["language"] = attendee_language
        body = {"start": _utc_text(start), "attendee": attendee, "eventTypeId": int(event_type_id)}
        if notes:
            body["bookingFieldsResponses"] = {"notes": notes}
        if length_in_minutes:
            body["lengthInMinutes"] = int(length_in_minutes)
        if metadata:
            body["metadata"] = dict(metadata)
        if location:
            body["location"] = location
        try:
            data = self._call("POST", "/v2/bookings", action="bookings.create", version=BOOKINGS_VERSION,
                              json=body, retry=False, expect=(201, 200))
        except ProviderRequestError as exc:
            raise _conflict_or(exc) from exc
        except ProviderUnreachable as exc:
            found = self._find_created_booking(body["start"], attendee_email, int(event_type_id))
            if found is not None:
                return found
            if isinstance(exc, ProviderTimeout):
                raise ProviderTimeout(
                    "Cal.com did not answer in time and the booking was not found there. Check the calendar in "
                    "Cal.com before booking again.", provider=self.provider, ambiguous=exc.ambiguous) from exc
            raise
        if isinstance(data, list) and data:
            data = data[0]
        return _booking(data, "data")

    def _find_created_booking(self, start, attendee_email, event_type_id):
        """The live booking at ``start`` for ``attendee_email`` and the event type, if a create that failed
        ambiguously did reach Cal.com; None when there is none or the lookup fails too."""
        wanted = _parse_time(start, "start")
        try:
            page = self.list_bookings(after_start=start, attendee_email=attendee_email, take=MAX_TAKE)
        except ProviderError:
            return None
        for booking in page.items:
            if (booking.start == wanted and booking.status in ("accepted", "pending")
                    and booking.event_type_id in (None, event_type_id)):
                return booking
        return None

    def reschedule_booking(self, uid, start, reason=None, rescheduled_by=None):
        """Move a booking to ``start``; returns the *new* booking (new uid, ``rescheduled_from_uid`` = ``uid``).
        BookingConflict when the new slot is taken."""
        body = {"start": _utc_text(start)}
        if reason:
            body["reschedulingReason"] = reason
        if rescheduled_by:
            body["rescheduledBy"] = rescheduled_by
        try:
            data = self._call("POST", f"/v2/bookings/{uid}/reschedule", action="bookings.reschedule",
                              version=BOOKINGS_VERSION, json=body, expect=(201, 200))
        except ProviderRequestError as exc:
            raise _conflict_or(exc) from exc
        return _booking(data, "data")

    def cancel_booking(self, uid, reason):
        """Cancel a booking; returns it, cancelled. ``reason`` is required: Cal.com refuses a host's cancel
        without one, so ValueError is raised before anything is sent."""
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("A cancellation reason is required to cancel a Cal.com booking as its host.")
        data = self._call("POST", f"/v2/bookings/{uid}/cancel", action="bookings.cancel", version=BOOKINGS_VERSION,
                          json={"cancellationReason": reason.strip()})
        return _booking(data, "data")

    # Webhooks.

    def list_webhooks(self):
        """All of the user's webhooks (pages of 250 until a short one; the answer has no pagination object)."""
        webhooks, skip = [], 0
        while True:
            data = self._call("GET", "/v2/webhooks", action="webhooks.list", params={"take": MAX_TAKE, "skip": skip})
            items = _list(data, "data")
            webhooks += [_webhook(item, f"data[{skip + index}]") for index, item in enumerate(items)]
            if len(items) < MAX_TAKE:
                return webhooks
            skip += len(items)

    def create_webhook(self, subscriber_url, triggers, secret, active=True):
        """Subscribe ``subscriber_url`` to ``triggers``, signed with ``secret``. WebhookExists when the user
        already has a webhook for this URL; ValueError for a trigger name Cal.com does not know."""
        body = {"subscriberUrl": subscriber_url, "triggers": _triggers(triggers), "active": bool(active),
                "secret": secret}
        try:
            data = self._call("POST", "/v2/webhooks", action="webhooks.create", json=body)
        except ProviderRequestError as exc:
            if exc.status_code == 409:
                raise WebhookExists(
                    "Cal.com already has a webhook for this address. Remove it in Cal.com or keep using it.",
                    status_code=409, provider=self.provider, provider_message=exc.provider_message) from exc
            raise
        return _webhook(data, "data")

    def update_webhook(self, webhook_id, **fields):
        """Change the given fields (``subscriber_url``, ``triggers``, ``active``, ``secret``; camelCase works too)."""
        body = _camel_fields(fields)
        if "triggers" in body:
            body["triggers"] = _triggers(body["triggers"])
        data = self._call("PATCH", f"/v2/webhooks/{webhook_id}", action="webhooks.update", json=body)
        return _webhook(data, "data")

    def delete_webhook(self, webhook_id):
        """Delete a webhook; returns what it was."""
        data = self._call("DELETE", f"/v2/webhooks/{webhook_id}", action="webhooks.delete")
        return _webhook(data, "data")


def appointment_record(booking, event_type_titles=None):
    """The AppointmentRecord of an API booking, mapped as the webhooks map theirs (app.providers.calcom.webhooks):
    the first attendee is the patient, the first host the therapist; the service is the event type's title when
    ``event_type_titles`` (id -> title) knows it, else the booking title. A booking moved elsewhere
    (``rescheduled_to_uid``) is RESCHEDULED; one moved here names its predecessor in ``replaces_external_id``.
    ``source_updated_at`` is ``updatedAt``, or ``createdAt`` for a booking never changed."""
    status = RESCHEDULED if booking.rescheduled_to_uid else STATUS_MAP[booking.status]
    attendee = booking.attendees[0] if booking.attendees else None
    host = booking.hosts[0] if booking.hosts else None
    title = (event_type_titles or {}).get(booking.event_type_id) if booking.event_type_id is not None else None
    return AppointmentRecord(
        source=SOURCE,
        external_id=booking.uid,
        starts_at=booking.start,
        ends_at=booking.end,
        status=status,
        attendee_name=attendee.name if attendee else "",
        attendee_email=attendee.email if attendee else None,
        therapist_name=host.name if host else "",
        therapist_email=host.email if host else None,
        service_name=title or booking.title,
        source_updated_at=booking.updated_at or booking.created_at,
        replaces_external_id=booking.rescheduled_from_uid,
    )


# Strict readers: each raises ProviderBadResponse naming the field and what was expected.

def _shape(where, expected):
    """The error for a field of the answer that is missing or ill-typed."""
    return ProviderBadResponse(f"Cal.com sent an answer this client does not understand: {where} should be "
                               f"{expected}.", provider=SOURCE)


def _envelope_data(body, action):
    """``data`` of ``{"status": "success", "data": ...}``."""
    if not isinstance(body, dict) or body.get("status") != "success" or "data" not in body:
        raise _shape("the answer", 'an object with "status": "success" and "data"')
    return body["data"]


def _object(value, where):
    """``value`` when it is a JSON object."""
    if not isinstance(value, dict):
        raise _shape(where, "an object")
    return value


def _list(value, where):
    """``value`` when it is a JSON array."""
    if not isinstance(value, list):
        raise _shape(where, "a list")
    return value


def _is_int(value):
    """Whether ``value`` is a JSON integer (not a boolean, not a fraction)."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer())


def _int(obj, key, where, *, optional=False):
    """An integer field; None for a missing or null optional one."""
    value = obj.get(key)
    if value is None and optional:
        return None
    if not _is_int(value):
        raise _shape(f"{where}.{key}", "a whole number")
    return int(value)


def _str(obj, key, where, *, optional=False, allow_empty=False):
    """A string field (non-empty unless ``allow_empty``); None for a missing or null optional one."""
    value = obj.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or (not value and not allow_empty):
        raise _shape(f"{where}.{key}", "a non-empty string" if not allow_empty else "a string")
    return value


def _bool(obj, key, where, *, default=None):
    """A boolean field; ``default`` when it is missing and a default is given."""
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise _shape(f"{where}.{key}", "true or false")
    return value


def _parse_time(value, where):
    """An aware datetime from ISO 8601 text with an offset ("Z" included)."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _shape(where, "an ISO 8601 date-time with offset")
    return parsed


def _time(obj, key, where, *, optional=False, utc=True):
    """A date-time field, in UTC unless ``utc`` is False (slots keep the requested zone's offset)."""
    value = obj.get(key)
    if value is None and optional:
        return None
    parsed = _parse_time(value, f"{where}.{key}")
    return parsed.astimezone(UTC) if utc else parsed


def _profile(data):
    """CalcomProfile from GET /v2/me."""
    data = _object(data, "data")
    return CalcomProfile(id=_int(data, "id", "data"), username=_str(data, "username", "data"),
                         email=_str(data, "email", "data"), name=_str(data, "name", "data", optional=True,
                                                                       allow_empty=True),
                         time_zone=_str(data, "timeZone", "data"))


def _event_type(data, where, *, partial=False):
    """EventType from an EventTypeOutput_2024_06_14 (or the short answer of DELETE when ``partial``)."""
    data = _object(data, where)
    return EventType(
        id=_int(data, "id", where), title=_str(data, "title", where), slug=_str(data, "slug", where),
        length_in_minutes=_int(data, "lengthInMinutes", where),
        booking_url=_str(data, "bookingUrl", where, optional=True),
        hidden=_bool(data, "hidden", where, default=False if partial else None),
    )


def _slot(item, where):
    """Slot from one ``{"start": …[, "end": …]}`` object (objects, not the strings of the OpenAPI schema)."""
    item = _object(item, where)
    return Slot(start=_time(item, "start", where, utc=False), end=_time(item, "end", where, optional=True, utc=False))


def _reservation(data, where):
    """Reservation from a ReserveSlotOutput_2024_09_04."""
    data = _object(data, where)
    return Reservation(
        uid=_str(data, "reservationUid", where), event_type_id=_int(data, "eventTypeId", where),
        slot_start=_time(data, "slotStart", where), slot_end=_time(data, "slotEnd", where),
        slot_duration=_int(data, "slotDuration", where),
        reservation_duration=_int(data, "reservationDuration", where),
        reservation_until=_time(data, "reservationUntil", where),
    )


def _booking(data, where):
    """Booking from a BookingOutput_2024_08_13."""
    data = _object(data, where)
    status = _str(data, "status", where)
    if status not in BOOKING_STATUSES:
        raise _shape(f"{where}.status", "one of " + ", ".join(BOOKING_STATUSES))
    event_type = data.get("eventType")
    if event_type is not None:
        event_type = _object(event_type, f"{where}.eventType")
        event_type_id = _int(event_type, "id", f"{where}.eventType")
        event_type_slug = _str(event_type, "slug", f"{where}.eventType", optional=True)
    else:
        event_type_id, event_type_slug = _int(data, "eventTypeId", where, optional=True), None
    hosts = tuple(_host(host, f"{where}.hosts[{index}]")
                  for index, host in enumerate(_list(data.get("hosts"), f"{where}.hosts")))
    attendees = tuple(_attendee(person, f"{where}.attendees[{index}]")
                      for index, person in enumerate(_list(data.get("attendees"), f"{where}.attendees")))
    return Booking(
        uid=_str(data, "uid", where), id=_int(data, "id", where), title=_str(data, "title", where, allow_empty=True),
        status=status, start=_time(data, "start", where), end=_time(data, "end", where),
        event_type_id=event_type_id, event_type_slug=event_type_slug, hosts=hosts, attendees=attendees,
        created_at=_time(data, "createdAt", where, optional=True),
        updated_at=_time(data, "updatedAt", where, optional=True),
        rescheduled_from_uid=_str(data, "rescheduledFromUid", where, optional=True),
        rescheduled_to_uid=_str(data, "rescheduledToUid", where, optional=True),
        cancellation_reason=_str(data, "cancellationReason", where, optional=True, allow_empty=True),
    )


def _host(data, where):
    """Host from a BookingHost."""
    data = _object(data, where)
    return Host(id=_int(data, "id", where, optional=True), name=_str(data, "name", where, allow_empty=True),
                email=_str(data, "email", where), username=_str(data, "username", where, optional=True),
                time_zone=_str(data, "timeZone", where, optional=True))


def _attendee(data, where):
    """Attendee from a BookingAttendee."""
    data = _object(data, where)
    return Attendee(name=_str(data, "name", where, allow_empty=True),
                    email=_str(data, "email", where, optional=True, allow_empty=True),
                    time_zone=_str(data, "timeZone", where, optional=True),
                    phone_number=_str(data, "phoneNumber", where, optional=True),
                    language=_str(data, "language", where, optional=True))


def _webhook(data, where):
    """Webhook from a webhook output (id a UUID string, triggers an array: CALCOM.md §10)."""
    data = _object(data, where)
    triggers = _list(data.get("triggers"), f"{where}.triggers")
    if not all(isinstance(trigger, str) for trigger in triggers):
        raise _shape(f"{where}.triggers", "a list of trigger names")
    return Webhook(id=_str(data, "id", where), subscriber_url=_str(data, "subscriberUrl", where),
                   active=_bool(data, "active", where), triggers=tuple(triggers))


# Request builders.

def _conflict_or(exc):
    """BookingConflict for a taken slot (409, or the 400 "already has booking / not available"), else ``exc``."""
    if exc.status_code == 409 or (exc.status_code == 400 and _UNAVAILABLE.search(exc.provider_message or "")):
        return BookingConflict("The time is no longer free in Cal.com. Choose another slot.",
                               status_code=exc.status_code, provider=SOURCE, provider_message=exc.provider_message)
    return exc


def _reservation_body(event_type_id, slot_start, slot_duration, reservation_duration):
    """The ReserveSlotInput_2024_09_04 body."""
    body = {"eventTypeId": int(event_type_id), "slotStart": _utc_text(slot_start)}
    if slot_duration is not None:
        body["slotDuration"] = int(slot_duration)
    if reservation_duration is not None:
        body["reservationDuration"] = int(reservation_duration)
    return body


def _triggers(triggers):
    """The trigger list, checked against the names Cal.com knows (an unknown one would be a 400)."""
    triggers = [triggers] if isinstance(triggers, str) else list(triggers)
    if not triggers:
        raise ValueError("A Cal.com webhook needs at least one trigger.")
    unknown = sorted(set(triggers) - WEBHOOK_TRIGGERS)
    if unknown:
        raise ValueError("Unknown Cal.com webhook triggers: " + ", ".join(unknown))
    return triggers


def _utc_text(value):
    """ISO 8601 UTC text ("2026-02-03T09:00:00Z") from an aware datetime; text passes unchanged. A naive datetime
    is refused, since its instant is unknown."""
    if isinstance(value, str):
        return value
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError("expected an aware datetime or ISO 8601 text")
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{value.microsecond // 1000:03d}Z" if value.microsecond else "Z")


def _query_time(value):
    """A time for a query parameter: a date as YYYY-MM-DD, a datetime as UTC text, text unchanged."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return _utc_text(value)


def _camel_fields(fields):
    """``fields`` with snake_case names turned into the API's camelCase (camelCase names pass unchanged)."""
    return {_camel(name): value for name, value in fields.items()}


def _camel(name):
    """``minimum_booking_notice`` -> ``minimumBookingNotice``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _text(value):
    """A message as text: a string, or a list of strings joined (class-validator sends lists)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "; ".join(value)
    return ""


def _details_text(details):
    """The reasons in ``error.details``: class-validator's ``errors[].constraints`` texts, else its ``message``."""
    errors = details.get("errors")
    if isinstance(errors, list):
        texts = [text for item in errors if isinstance(item, dict) and isinstance(item.get("constraints"), dict)
                 for text in item["constraints"].values() if isinstance(text, str)]
        if texts:
            return "; ".join(texts)
    return _text(details.get("message"))


def _float(value):
    """A number from header text, or None."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
