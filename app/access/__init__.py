"""Access providers per location (Fitpass, Friction, Wellhub, issue 19): memberships linked once, QR check-ins with
re-entry windows and staff override, the append-only check-in log and the statistics a location manager reads."""

from flask_babel import lazy_gettext as _l


def init_app(app):
    """Register the access domain's blueprint, API endpoints, navigation entry, the record's Mitgliedschaften tab
    and the names of its audit actions."""
    from app.access import api  # noqa: F401 (attaches the endpoints to the /api blueprint)
    from app.access.routes import bp
    from app.access.tab import memberships_context
    from app.patients.tabs import register_patient_tab
    from app.platform.audit.labels import register_action_labels, register_audit_labels
    from app.platform.templating import add_navigation

    app.register_blueprint(bp)
    add_navigation(app, 35, "access.checkin", _l("Check-in"), "access.validate")
    add_navigation(app, 36, "access.stats", _l("Check-in statistics"), "access.stats")
    register_patient_tab(app, "mitgliedschaften", memberships_context,
                         fragment=("patient-memberships", "access/_patient_memberships.html"))
    register_action_labels({
        "access.checkin.grant": _l("Check-in: let in by staff"),
        "access.checkin.deny": _l("Check-in: turned away by staff"),
        "access.checkin.confirm": _l("Check-in: grant confirmed by staff"),
        "access.membership.link": _l("Membership linked"),
        "access.membership.unlink": _l("Membership unlinked"),
        "access.provider.update": _l("Access provider settings changed"),
    })
    register_audit_labels(
        objects={"access_checkin": _l("Check-in"), "access_membership": _l("Membership"),
                 "access_provider": _l("Access provider")},
        meta={"checkin": _l("Check-in"), "decision": _l("Decision"), "provider": _l("Provider"),
              "location": _l("Location"), "secret_changed": _l("Secret changed"), "active": _l("Enabled")},
    )
