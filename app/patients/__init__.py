"""Patients: list and search, the record with its tabs, create, edit, archive, restore, the booking link, the
"Meine Termine" links, the import of the booking tool's export, and the JSON API."""

from flask_babel import lazy_gettext as _l

from app.platform.audit.labels import register_action_labels
from app.platform.templating import add_navigation


def init_app(app):
    """Register the patients blueprint (with the import views), the API endpoints, the import job, the phone
    filter and test, the navigation entry and the audit labels."""
    from flask_login import current_user

    from app.patients import api  # noqa: F401 (attaches the endpoints to the /api blueprint)
    from app.patients.fields import format_phone, phone_needs_check
    from app.patients.importing import routes as importing_routes  # noqa: F401 (attaches the import views)
    from app.patients.importing.service import run_import_job
    from app.patients.routes import bp
    from app.platform.jobs.registry import register_job_kind

    app.register_blueprint(bp)
    register_job_kind(app, "patient_import", run_import_job)
    add_navigation(app, 20, "patients.index", _l("Patients"), "patients.read")

    @app.template_filter("phone")
    def phone_filter(e164):
        """An E.164 number formatted for the signed-in user's practice (see format_phone)."""
        practice = getattr(current_user, "practice", None)
        return format_phone(e164, practice.country if practice is not None else "DE")

    # ``phone is phone_to_check``: a phone kept as entered, shown with "Check phone number".
    app.add_template_test(phone_needs_check, "phone_to_check")

    register_action_labels({
        "patient.create": _l("Patient created"),
        "patient.update": _l("Patient data changed"),
        "patient.view": _l("Record opened"),
        "patient.archive": _l("Patient archived"),
        "patient.restore": _l("Patient restored"),
        "patient.link": _l("Linked to the booking tool"),
        "patient.unlink": _l("Link to the booking tool removed"),
        "patient_access_link.create": _l("Link for the patient created"),
        "patient_access_link.revoke": _l("Link for the patient revoked"),
        "patients.import_upload": _l("Patient file uploaded"),
        "patients.import_resolve": _l("Import row decided"),
        "patients.import_queue": _l("Patient import started"),
        "patients.import": _l("Patient import run"),
        "patients.import_flagged": _l("Patient from the booking tool held for review"),
    })
