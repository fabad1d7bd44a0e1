"""The plumbing every part of the Cal.com client shares: the base URL, the ``cal-api-version`` of each resource,
the hooks that read Cal.com's rate-limit headers and error shapes, ``_call`` (a request unwrapped from the success
envelope) and the builders of request values.

It carries the transport facts of CALCOM.md §1: a resource answers from a legacy controller unless it gets its own
``cal-api-version``; success comes in a ``{"status": "success", "data": ...}`` envelope; errors come in two shapes;
429 brings no ``Retry-After`` but ``X-RateLimit-Reset-<Name>``. Each resource part (event types, slots, bookings,
webhook subscriptions) subclasses CalcomApi; app.providers.calcom.client.CalcomClient combines them."""

from datetime import UTC, date, datetime

from app.providers.base import ProviderClient
from app.providers.calcom.parsing import _envelope_data

DEFAULT_BASE_URL = "https://api.cal.com"

# The cal-api-version each resource needs (CALCOM.md §1); /v2/me and /v2/webhooks accept any or none.
SLOTS_VERSION = "2024-09-04"
BOOKINGS_VERSION = "2024-08-13"
EVENT_TYPES_VERSION = "2024-06-14"

MAX_TAKE = 250
# Cal.com blocks a client for 60 s once it is over the limit, so no reset is ever longer.
MAX_RESET_SECONDS = 60.0


class CalcomApi(ProviderClient):
    """Cal.com API v2 with an API key (``cal_…`` or ``cal_live_…``) sent as a bearer token: the identity, the hooks
    and the plumbing; the resource methods are in the subclasses."""

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


# Request builders.

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


# Error and header readers.

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
