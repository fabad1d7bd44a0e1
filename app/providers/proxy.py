"""The read operations an integration lets the outbound proxy (``/api/proxy/<provider>/<operation>``) perform.

The proxy is an allow-list, never a pass-through: each provider names its operations, the query parameters each
takes (parsed and validated here, before any call) and how long an answer may be cached."""

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class Operation:
    """One allowed read. ``call(client, **params)`` returns JSON-serialisable data; ``params`` maps each query
    parameter to a parser that raises ValueError with a message for a bad value; ``required`` lists the ones that
    must be present; ``ttl`` overrides PROXY_CACHE_SECONDS."""

    call: object
    params: dict = field(default_factory=dict)
    required: tuple = ()
    ttl: int | None = None

    def parse(self, query):
        """The operation's parameters read from ``query`` (a mapping of strings); ValueError names the first
        missing, unknown or malformed parameter."""
        unknown = sorted(set(query) - set(self.params))
        if unknown:
            raise ValueError(f"unknown parameter: {unknown[0]}")
        missing = [name for name in self.required if not query.get(name)]
        if missing:
            raise ValueError(f"missing parameter: {missing[0]}")
        parsed = {}
        for name, parser in self.params.items():
            value = query.get(name)
            if value in (None, ""):
                continue
            try:
                parsed[name] = parser(value)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
        return parsed


def positive_int(value):
    """A positive integer id."""
    number = int(value)
    if number <= 0:
        raise ValueError("expected a positive integer")
    return number


def iso_date(value):
    """A day as YYYY-MM-DD (or a full ISO 8601 time, of which the day is kept)."""
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError("expected a date as YYYY-MM-DD") from None


def time_zone(value):
    """An IANA time zone name such as Europe/Berlin."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as Europe/Berlin") from None
    return value


def to_json(value):
    """Dataclasses, lists, dicts, dates and datetimes as JSON-ready values (ISO 8601 for times)."""
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value):
        return to_json(asdict(value))
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value
