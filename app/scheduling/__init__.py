"""The practice's own scheduling (issue 18): appointment types, rooms and devices, hours, breaks, absences,
closures and public holidays, the one conflict check, slot suggestions and treatment series, with their JSON API
and settings pages. Local appointments live in the appointments table with ``source = "local"``."""


def init_app(app):
    """Register the scheduling domain's blueprint, API endpoints and hooks."""
