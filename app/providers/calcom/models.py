"""What the Cal.com client returns: frozen dataclasses for the profile, event types, slots, reservations, bookings
and webhooks, and the vocabulary they share (the source name, the booking statuses).

They are a module of their own because every other part of the client builds or reads them: the readers in
app.providers.calcom.parsing, the resource parts that return them, and app.providers.calcom.mapping. The list-valued
fields are tuples so the records stay immutable."""

from dataclasses import dataclass
from datetime import datetime

# The source name on appointment records and on the errors the client raises.
SOURCE = "calcom"
# A booking's status in API v2 (lowercase); anything else is refused when reading.
BOOKING_STATUSES = ("accepted", "pending", "cancelled", "rejected")


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
