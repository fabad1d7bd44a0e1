"""The scheduling domain's JSON API on the /api blueprint, in PraxiApp's shape (trailing slashes, paged lists)."""

from app.scheduling.api import appointments, calendar, catalogue, hours, series  # noqa: F401 (endpoints attach)
