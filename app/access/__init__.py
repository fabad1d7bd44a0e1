"""Access providers per location (Fitpass, Friction, Wellhub, issue 19): memberships linked once, QR check-ins with
re-entry windows and staff override, the append-only check-in log and the statistics a location manager reads."""


def init_app(app):
    """Register the access domain's blueprint, API endpoints and hooks."""
