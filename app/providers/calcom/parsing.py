"""The strict readers of Cal.com's answers: the success envelope and every result of
app.providers.calcom.models, each read field by field.

Cal.com's OpenAPI document is wrong in places (CALCOM.md §10), so nothing in an answer is trusted: a missing or
ill-typed field raises ProviderBadResponse naming the field and what was expected, instead of surfacing later as an
AttributeError far from the call. The readers are kept apart from the HTTP plumbing so they can be tested on plain
JSON."""

from datetime import UTC, datetime

from flask_babel import gettext as _

from app.providers.base import ProviderBadResponse
from app.providers.calcom.models import (
    BOOKING_STATUSES,
    SOURCE,
    Attendee,
    Booking,
    CalcomProfile,
    EventType,
    Host,
    Reservation,
    Slot,
    Webhook,
)

# Strict readers: each raises ProviderBadResponse naming the field and what was expected.

def _shape(where, expected):
    """The error for a field of the answer that is missing or ill-typed: ``where`` is its path in the answer (as
    Cal.com names it), ``expected`` what it should be, already in the reader's language."""
    return ProviderBadResponse(_("Cal.com sent an answer this client does not understand: %(where)s should be "
                                 "%(expected)s.", where=where, expected=expected), provider=SOURCE)


def _envelope_data(body, action):
    """``data`` of ``{"status": "success", "data": ...}``."""
    if not isinstance(body, dict) or body.get("status") != "success" or "data" not in body:
        raise _shape(_("the answer"), _('an object with "status": "success" and "data"'))
    return body["data"]


def _object(value, where):
    """``value`` when it is a JSON object."""
    if not isinstance(value, dict):
        raise _shape(where, _("an object"))
    return value


def _list(value, where):
    """``value`` when it is a JSON array."""
    if not isinstance(value, list):
        raise _shape(where, _("a list"))
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
        raise _shape(f"{where}.{key}", _("a whole number"))
    return int(value)


def _str(obj, key, where, *, optional=False, allow_empty=False):
    """A string field (non-empty unless ``allow_empty``); None for a missing or null optional one."""
    value = obj.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or (not value and not allow_empty):
        raise _shape(f"{where}.{key}", _("a non-empty string") if not allow_empty else _("a string"))
    return value


def _bool(obj, key, where, *, default=None):
    """A boolean field; ``default`` when it is missing and a default is given."""
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise _shape(f"{where}.{key}", _("true or false"))
    return value


def _parse_time(value, where):
    """An aware datetime from ISO 8601 text with an offset ("Z" included)."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _shape(where, _("an ISO 8601 date-time with offset"))
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
        raise _shape(f"{where}.status", _("one of %(values)s", values=", ".join(BOOKING_STATUSES)))
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
        raise _shape(f"{where}.triggers", _("a list of trigger names"))
    return Webhook(id=_str(data, "id", where), subscriber_url=_str(data, "subscriberUrl", where),
                   active=_bool(data, "active", where), triggers=tuple(triggers))
