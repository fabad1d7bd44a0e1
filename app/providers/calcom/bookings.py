"""The bookings part of the Cal.com client: list (page by page or all), read, create, reschedule and cancel
bookings, under cal-api-version 2024-08-13.

Facts from contracts/calcom/CALCOM.md this module carries: bookings are addressed by uid and changed through POST
sub-resources; creating one is not idempotent, so after an ambiguous failure the booking is looked up instead of
being sent again (§3, §9); a taken slot is a 409 or a 400 "already has booking / not available", raised as
BookingConflict; a host cancelling needs a non-empty reason (§3)."""

import re

from flask_babel import gettext as _

from app.providers.base import ProviderError, ProviderRequestError, ProviderTimeout, ProviderUnreachable
from app.providers.calcom.api import BOOKINGS_VERSION, MAX_TAKE, CalcomApi, _query_time, _utc_text
from app.providers.calcom.models import SOURCE, BookingPage
from app.providers.calcom.parsing import _booking, _envelope_data, _is_int, _list, _parse_time, _shape

# The 400 message of an occupied slot ("User either already has booking at this time or is not available").
_UNAVAILABLE = re.compile(r"already has booking|not available", re.IGNORECASE)


class BookingConflict(ProviderRequestError):
    """The slot is taken: 409 ``booking_conflict_error`` or 400 "already has booking ... or is not available"."""


class BookingsApi(CalcomApi):
    """Bookings (``/v2/bookings``)."""

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
            raise _shape("pagination", _("an object"))
        has_next = pagination.get("hasNextPage")
        if not isinstance(has_next, bool):
            raise _shape("pagination.hasNextPage", _("true or false"))
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
                raise _shape("pagination.hasNextPage", _("false when a page is empty"))
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


def _conflict_or(exc):
    """BookingConflict for a taken slot (409, or the 400 "already has booking / not available"), else ``exc``."""
    if exc.status_code == 409 or (exc.status_code == 400 and _UNAVAILABLE.search(exc.provider_message or "")):
        return BookingConflict("The time is no longer free in Cal.com. Choose another slot.",
                               status_code=exc.status_code, provider=SOURCE, provider_message=exc.provider_message)
    return exc
