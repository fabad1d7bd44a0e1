"""The calls inbox: every voice-agent call of the practice for the front desk and admins, unmatched ones
highlighted, assigned to a patient (existing or new) and marked done; a count of open calls in the navigation and
an "Offene Anrufe" panel on the home page."""

from flask_babel import lazy_gettext as _l

from app.platform.audit.labels import register_action_labels
from app.platform.templating import add_navigation


def init_app(app):
    """Register the calls blueprint, its navigation entry with the open count, the sentiment filter, the audit
    labels, the home page's panel, and the move of appointments and calls when a synced patient is linked to an
    existing one (app.patients.reviews)."""
    from app.accounts.home import register_home_panel
    from app.appointments.calls.routes import bp
    from app.appointments.calls.service import move_patient_records, open_calls_panel, open_count, sentiment_label
    from app.patients.reviews.service import register_patient_move

    app.register_blueprint(bp)
    add_navigation(app, 25, "calls.index", _l("Calls"), "calls.manage", count=open_count)
    app.add_template_filter(sentiment_label, "sentiment_label")
    register_patient_move(app, move_patient_records)
    register_home_panel(app, "open_calls", permission="calls.manage", template="calls/_home_panel.html",
                        context=open_calls_panel, order=30)
    register_action_labels({
        "call.assign": _l("Call assigned to a patient"),
        "call.done": _l("Call marked done"),
        "call.reopen": _l("Call opened again"),
    })
