"""The practice's own scheduling (issue 18): appointment types, rooms and devices, hours, breaks, absences,
closures and public holidays, the one conflict check, slot suggestions and treatment series, with their JSON API
and settings pages. Local appointments live in the appointments table with ``source = "local"``."""


def init_app(app):
    """Register the scheduling domain's tables, JSON API endpoints (on the /api blueprint), settings page, its
    navigation entry, audit labels and ``series_units_of`` for templates (the Termine tab's "unit 3 of 10")."""
    from flask_babel import lazy_gettext as _l

    from app.platform.templating import add_navigation
    from app.scheduling import api, hours, models  # noqa: F401  (tables and endpoints register on import)
    from app.scheduling.labels import register_labels
    from app.scheduling.prescriptions import series_units_of
    from app.scheduling.routes import bp

    app.register_blueprint(bp)
    app.add_template_global(series_units_of)
    add_navigation(app, 65, "scheduling.index", _l("Scheduling"), "scheduling.hours")
    register_labels()
