"""The audit log: an append-only record of who did what (models, service), what each action means (labels, filled
by the domains) and the admins' viewer (routes)."""

from flask_babel import lazy_gettext as _l


def init_app(app):
    """Register the audit log viewer, its navigation entry and the labels for every template (the audit log and a
    patient's history name actions, objects and details in words)."""
    from app.platform.audit import labels
    from app.platform.audit.routes import bp
    from app.platform.templating import add_navigation

    app.register_blueprint(bp)
    labels.init_app(app)
    add_navigation(app, 60, "audit.index", _l("Audit log"), "audit.read")
