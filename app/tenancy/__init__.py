"""Practices (the tenants), their locations and settings: the settings blueprint."""

from flask_babel import lazy_gettext as _l

from app.platform.audit.labels import register_action_labels, register_audit_labels
from app.platform.templating import add_navigation


def init_app(app):
    """Register the settings blueprint, its navigation entry and the audit labels of practice changes."""
    from app.tenancy.routes import bp

    app.register_blueprint(bp)
    add_navigation(app, 70, "settings.index", _l("Settings"), "integrations.manage")
    register_action_labels({
        "location.create": _l("Location created"),
        "location.update": _l("Location changed"),
        "location.delete": _l("Location deleted"),
        "practice.settings.update": _l("Practice settings changed"),
    })
    register_audit_labels(
        objects={"practice": _l("Practice"), "location": _l("Location")},
        meta={"address": _l("Address")},
        values={"timezone": _l("Time zone"), "default_therapist_id": _l("Default therapist"),
                "booking_url_template": _l("Booking page address")})
