"""Template helpers: permission checks, the navigation a user may see, and the htmx Vary header. Each domain adds
its entries to the navigation with ``add_navigation`` in its ``init_app``; the menu is ordered by ``position``."""

from flask import current_app, url_for
from flask_babel import get_locale
from flask_login import current_user

from app.platform.database import utcnow
from app.platform.formatting import format_datetime
from app.platform.htmx import add_vary
from app.platform.security.permissions import ROLE_LABELS, has_permission

NAVIGATION = "praxis.navigation"


def add_navigation(app, position, endpoint, label, permission=None, count=None):
    """Show ``label`` linking to ``endpoint`` in the main navigation at ``position`` (ascending) to users with
    ``permission`` (None: every signed-in user). ``count(user)``: a number shown beside the label (open calls,
    say); it runs on every page of those users, so it must be one cheap indexed query and never a provider call."""
    entries = app.extensions.setdefault(NAVIGATION, [])
    entries.append((position, endpoint, label, permission, count))
    entries.sort(key=lambda entry: entry[0])


def nav_count_id(endpoint):
    """The DOM id of an entry's count, so a response can swap it out of band (``hx-swap-oob``) after a change."""
    return "nav-count-" + endpoint.replace(".", "-").replace("_", "-")


def visible_navigation(user):
    """The navigation entries ``user`` may open, each with its count (None for an entry without one)."""
    return [
        {"endpoint": endpoint, "url": url_for(endpoint), "label": label, "count_id": nav_count_id(endpoint),
         "count": count(user) if count is not None else None}
        for _position, endpoint, label, permission, count in current_app.extensions.get(NAVIGATION, ())
        if permission is None or has_permission(user, permission)
    ]


def init_app(app):
    """Register context processors and the Vary hook."""

    @app.context_processor
    def inject_helpers():
        """``can(permission)`` and ``navigation`` for every template."""
        return {
            "can": lambda permission: has_permission(current_user, permission),
            "navigation": lambda: visible_navigation(current_user),
            "get_locale": get_locale,
            "role_label": lambda role: ROLE_LABELS.get(role, role),
            "format_datetime": format_datetime,
            "now_utc": utcnow,
        }

    app.after_request(add_vary)
