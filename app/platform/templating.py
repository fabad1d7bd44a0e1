"""Template helpers: permission checks, the navigation a user may see, and the htmx Vary header. Each domain adds
its entries to the navigation with ``add_navigation`` in its ``init_app``; the menu is ordered by ``position``."""

from flask import current_app, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.platform.database import utcnow
from app.platform.formatting import format_datetime
from app.platform.htmx import add_vary
from app.platform.security.permissions import ROLE_LABELS, has_permission

NAVIGATION = "praxis.navigation"

# How the bar is laid out, in one place (issue 17: fourteen entries for an admin ran over three lines at 1280 px).
# The entries of a group are shown in one drop-down menu at the group's position (a group of one entry is shown as
# that entry, so the front desk finds "Integrationen" in the bar); an entry "reached from" another page is left out
# of the bar for users who may open that page, which links to it (billing, who may only read the check-in
# statistics, still finds them in the bar).
NAVIGATION_GROUPS = {"admin": (75, _l("Administration"))}
GROUPED_ENTRIES = {"hub.index": "admin", "users.index": "admin", "audit.index": "admin", "webhooks.events": "admin",
                   "mail.index": "admin", "settings.index": "admin"}
REACHED_FROM = {"access.stats": "access.checkin"}


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
    """The navigation entries ``user`` may open, each with its count (None for an entry without one) and whether
    it is the page shown; the entries of a group (NAVIGATION_GROUPS) gathered into one item with ``children`` (and
    ``current`` when one of them is shown), placed at the group's position."""
    allowed = [(position, endpoint, label, count)
               for position, endpoint, label, permission, count in current_app.extensions.get(NAVIGATION, ())
               if permission is None or has_permission(user, permission)]
    endpoints = {endpoint for _position, endpoint, _label, _count in allowed}
    items, grouped = [], {}
    for position, endpoint, label, count in allowed:
        if REACHED_FROM.get(endpoint) in endpoints:
            continue
        item = {"endpoint": endpoint, "url": url_for(endpoint), "label": label, "count_id": nav_count_id(endpoint),
                "count": count(user) if count is not None else None, "current": request.endpoint == endpoint}
        if endpoint in GROUPED_ENTRIES:
            grouped.setdefault(GROUPED_ENTRIES[endpoint], []).append((position, item))
        else:
            items.append((position, item))
    for group, members in grouped.items():
        if len(members) == 1:
            items.append(members[0])
            continue
        position, label = NAVIGATION_GROUPS[group]
        children = [item for _position, item in members]
        items.append((position, {"group": group, "label": label, "children": children,
                                 "current": any(child["current"] for child in children)}))
    return [item for _position, item in sorted(items, key=lambda pair: pair[0])]


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
