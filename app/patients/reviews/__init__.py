"""The review list of patients created by a sync or webhook: accept, link to an existing patient, or ignore;
a count in the navigation and a "Zu prüfende Patienten" panel on the home page for admins."""

from flask_babel import lazy_gettext as _l

from app.platform.audit.labels import register_action_labels
from app.platform.templating import add_navigation


def init_app(app):
    """Register the review list's blueprint, navigation entry with the pending count, home page panel and audit
    labels."""
    from app.accounts.home import register_home_panel
    from app.patients.reviews.routes import bp
    from app.patients.reviews.service import pending_count, pending_panel

    app.register_blueprint(bp)
    add_navigation(app, 22, "patient_reviews.index", _l("To review"), "patients.link", count=pending_count)
    register_home_panel(app, "pending_reviews", permission="patients.link",
                        template="patients/reviews/_home_panel.html", context=pending_panel, order=40)
    register_action_labels({
        "patient_review.accept": _l("Patient created from outside accepted"),
        "patient_review.link": _l("Patient created from outside linked to an existing patient"),
        "patient_review.ignore": _l("Patient created from outside ignored"),
    })
