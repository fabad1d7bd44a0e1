"""The slots part of the Cal.com client: free slots of an event type and slot reservations (holds), under
cal-api-version 2024-09-04 (the /v2/slots paths, not the migration guide's legacy ones: CALCOM.md §10.5).

A part of its own, like each resource, so a resource's calls sit with the version they need;
app.providers.calcom.client.CalcomClient combines the parts."""

import re

from flask_babel import gettext as _

from app.providers.calcom.api import SLOTS_VERSION, CalcomApi, _query_time, _utc_text
from app.providers.calcom.parsing import _list, _reservation, _shape, _slot

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class SlotsApi(CalcomApi):
    """Free slots (``/v2/slots``) and reservations (``/v2/slots/reservations``)."""

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
            raise _shape("data", _("an object keyed by date"))
        slots = {}
        for day, items in data.items():
            if not _DAY.fullmatch(day):
                raise _shape(f"data.{day}", _("a key of the form YYYY-MM-DD"))
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


def _reservation_body(event_type_id, slot_start, slot_duration, reservation_duration):
    """The ReserveSlotInput_2024_09_04 body."""
    body = {"eventTypeId": int(event_type_id), "slotStart": _utc_text(slot_start)}
    if slot_duration is not None:
        body["slotDuration"] = int(slot_duration)
    if reservation_duration is not None:
        body["reservationDuration"] = int(reservation_duration)
    return body
