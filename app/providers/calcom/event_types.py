"""The event-type part of the Cal.com client: list, read, create, change and delete event types (the bookable
services), under cal-api-version 2024-06-14.

A part of its own, like each resource, so a resource's calls sit with the version they need;
app.providers.calcom.client.CalcomClient combines the parts."""

from app.providers.calcom.api import EVENT_TYPES_VERSION, CalcomApi, _camel_fields
from app.providers.calcom.parsing import _event_type, _list


class EventTypesApi(CalcomApi):
    """Event types (``/v2/event-types``)."""

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
