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

The results are frozen dataclasses; their list-valued fields are tuples so the records stay immutable.

The client is split by resource so no module grows past a readable size: ``api`` holds the plumbing every part
shares (CalcomApi: versions, hooks, ``_call``), and ``event_types``, ``slots``, ``bookings`` and ``subscriptions``
(webhooks) each add one resource's methods to it; CalcomClient below combines them. ``models`` defines the results,
``parsing`` reads them from the answers, ``mapping`` turns bookings into appointment records. This module stays the
one callers import from: it re-exports the public names of the parts."""

from app.providers.calcom.api import (
    BOOKINGS_VERSION,
    DEFAULT_BASE_URL,
    EVENT_TYPES_VERSION,
    MAX_RESET_SECONDS,
    MAX_TAKE,
    SLOTS_VERSION,
)
from app.providers.calcom.bookings import BookingConflict, BookingsApi
from app.providers.calcom.event_types import EventTypesApi
from app.providers.calcom.mapping import BOOKING_TRIGGERS, STATUS_MAP, appointment_record
from app.providers.calcom.models import (
    BOOKING_STATUSES,
    SOURCE,
    Attendee,
    Booking,
    BookingPage,
    CalcomProfile,
    EventType,
    Host,
    Reservation,
    Slot,
    Webhook,
)
from app.providers.calcom.parsing import _profile
from app.providers.calcom.slots import SlotsApi
from app.providers.calcom.subscriptions import WEBHOOK_TRIGGERS, WebhookExists, WebhookSubscriptionsApi

__all__ = [
    "BOOKINGS_VERSION", "BOOKING_STATUSES", "BOOKING_TRIGGERS", "DEFAULT_BASE_URL", "EVENT_TYPES_VERSION",
    "MAX_RESET_SECONDS", "MAX_TAKE", "SLOTS_VERSION", "SOURCE", "STATUS_MAP", "WEBHOOK_TRIGGERS",
    "Attendee", "Booking", "BookingConflict", "BookingPage", "CalcomClient", "CalcomProfile", "EventType", "Host",
    "Reservation", "Slot", "Webhook", "WebhookExists", "appointment_record",
]


class CalcomClient(EventTypesApi, SlotsApi, BookingsApi, WebhookSubscriptionsApi):
    """Cal.com API v2 with an API key (``cal_…`` or ``cal_live_…``) sent as a bearer token."""

    # Profile.

    def me(self):
        """The profile of the key's user (the cheapest call that proves a key works)."""
        return _profile(self._call("GET", "/v2/me", action="me"))
