"""Access providers per location (Fitpass, Friction, Wellhub, issue 19): memberships linked once, QR check-ins with
re-entry windows and staff override, the append-only check-in log and the statistics a location manager reads."""

from flask_babel import lazy_gettext as _l


def init_app(app):
    """Register the access domain's blueprint, API endpoints, navigation entry, the record's Mitgliedschaften tab,
    its step of merging two patients and the names of its audit actions."""
    from app.access import api  # noqa: F401 (attaches the endpoints to the /api blueprint)
    from app.access.arrivals import arrivals
    from app.access.code_views import bp as codes_bp
    from app.access.hub import hub_locations
    from app.access.merge import move_memberships, return_memberships
    from app.access.rollup import access_cli  # also counts every new check-in in the statistics' roll-up
    from app.access.routes import bp
    from app.access.tab import memberships_context
    from app.appointments.home import register_arrivals
    from app.integrations.access_tab import use_location_reader
    from app.patients.merge import register_merge_step
    from app.patients.tabs import register_patient_tab
    from app.platform.audit.labels import register_action_labels, register_audit_labels
    from app.platform.templating import add_navigation

    app.register_blueprint(bp)
    app.register_blueprint(codes_bp)
    register_merge_step(app, move_memberships, reverse=return_memberships)  # a merge moves linked memberships
    use_location_reader(app, hub_locations)  # the Integration Hub's tab per access provider lists the locations
    app.cli.add_command(access_cli)
    register_arrivals(app, arrivals)
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
        "access.member_code.show": _l("Member code shown"),
        "access.provider.update": _l("Access provider settings changed"),
        "appointment.arrived": _l("Patient arrived (check-in)"),
        "appointment.arrival_cleared": _l("Arrival withdrawn (turned away at check-in)"),
    })
    register_audit_labels(
        objects={"access_checkin": _l("Check-in"), "access_membership": _l("Membership"),
                 "access_provider": _l("Access provider"), "appointment": _l("Appointment")},
        meta={"checkin": _l("Check-in"), "decision": _l("Decision"), "provider": _l("Provider"),
              "location": _l("Location"), "secret_changed": _l("Secret changed"), "active": _l("Enabled")},
    )
