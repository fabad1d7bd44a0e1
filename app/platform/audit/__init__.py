"""The audit log: an append-only record of who did what (models, service), what each action means (labels, filled
by the domains) and the admins' viewer (routes)."""

from flask_babel import lazy_gettext as _l


def init_app(app):
    """Register the audit log viewer, its navigation entry and ``action_label`` for every template (the audit log
    and a patient's history name actions in words)."""
    from app.platform.audit.labels import action_label
    from app.platform.audit.routes import bp
    from app.platform.templating import add_navigation

    app.register_blueprint(bp)
    app.jinja_env.globals["action_label"] = action_label
    add_navigation(app, 60, "audit.index", _l("Audit log"), "audit.read")
