"""Template helpers: permission checks, the navigation a user may see, and the htmx Vary header."""

from flask import url_for
from flask_babel import format_datetime, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.database import utcnow
from app.htmx import add_vary
from app.security import has_permission
from app.services.audit import action_label
from app.services.patient_fields import format_phone

ROLE_LABELS = {
    "admin": _l("Admin"),
    "assistant": _l("Front desk / assistant"),
    "therapist": _l("Therapist"),
    "billing": _l("Billing"),
}

# (endpoint, label, permission or None for any signed-in user). Later areas add their entries here.
NAVIGATION = (
    ("dashboard.index", _l("Dashboard"), None),
    ("patients.index", _l("Patients"), "patients.read"),
    ("users.index", _l("Users"), "users.manage"),
    ("hub.index", _l("Integrations"), "integrations.view"),
    ("webhooks.events", _l("Webhooks"), "webhooks.log"),
    ("audit.index", _l("Audit log"), "audit.read"),
    ("settings.index", _l("Settings"), "integrations.manage"),
    ("account.index", _l("My account"), None),
)


def visible_navigation(user):
    """The navigation entries ``user`` may open."""
    return [
        {"endpoint": endpoint, "url": url_for(endpoint), "label": label}
        for endpoint, label, permission in NAVIGATION
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
            "action_label": action_label,
            "now_utc": utcnow,
        }

    @app.template_filter("phone")
    def phone_filter(e164):
        """An E.164 number formatted for the signed-in user's practice (see format_phone)."""
        practice = getattr(current_user, "practice", None)
        return format_phone(e164, practice.country if practice is not None else "DE")

    app.after_request(add_vary)
