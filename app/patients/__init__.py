"""Patients: list and search, the record with its tabs, create, edit, archive, restore, the booking link, the
"Meine Termine" links, the import of the booking tool's export, and the JSON API."""

from flask_babel import lazy_gettext as _l

from app.platform.audit.labels import (
    names_from,
    register_action_labels,
    register_audit_labels,
    register_object_names,
)
from app.platform.templating import add_navigation


def init_app(app):
    """Register the patients blueprint (with the import views), the API endpoints, the import job, the phone
    filter and test, the navigation entry and the audit labels."""
    from flask_login import current_user

    # api attaches the endpoints to the /api blueprint; merge_views the duplicate check and merge views to bp.
    from app.patients import api, merge_views  # noqa: F401
    from app.patients.fields import format_phone, phone_needs_check
    from app.patients.importing import routes as importing_routes  # noqa: F401 (attaches the import views)
    from app.patients.importing.service import run_import_job
    from app.patients.routes import bp
    from app.platform.jobs.registry import register_job_kind

    app.register_blueprint(bp)
    from app.patients.reviews import init_app as init_reviews

    init_reviews(app)
    register_job_kind(app, "patient_import", run_import_job)
    from app.patients.home import register_panels as register_home_panels

    register_home_panels(app)  # flagged patients and import reviews on the home page (app.accounts.home)
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
        "patient_access_link.mail": _l("Link for the patient sent by e-mail"),
        "patients.import_upload": _l("Patient file uploaded"),
        "patients.import_resolve": _l("Import row decided"),
        "patients.import_fix": _l("Import row corrected"),
        "patients.import_queue": _l("Patient import started"),
        "patients.import": _l("Patient import run"),
        "patients.import_flagged": _l("Patient from the booking tool held for review"),
    })
    from app.patients.models import Patient

    register_audit_labels(
        objects={"patient": _l("Patient"), "patient_access_link": _l("Link for the patient"),
                 "patient_import": _l("Patient import")},
        meta={"booking_system_id": _l("Booking tool id"), "valid_only": _l("Valid rows only"),
              "resolution": _l("Decision"), "encoding": _l("Encoding"), "delimiter": _l("Delimiter"),
              "service_name": _l("Service"), "created": _l("created"), "updated": _l("updated"),
              "linked": _l("linked"), "skipped": _l("skipped"), "flagged": _l("flagged"), "invalid": _l("invalid"),
              "unchanged": _l("unchanged")},
        values={"first_name": _l("First name"), "last_name": _l("Last name"), "email": _l("Email"),
                "phone": _l("Phone"), "birth_date": _l("Birth date"), "therapist_id": _l("Therapist"),
                "booking_email": _l("Email in the booking tool"), "booking": _l("Booking tool"),
                "create": _l("create"), "update": _l("update"), "link": _l("link"), "skip": _l("skip")})
    register_object_names("patient", names_from(Patient.id, Patient.first_name + " " + Patient.last_name,
                                                Patient.practice_id))
    from app.patients.merge import merged_records_history
    from app.platform.audit.history import register_history_source

    register_history_source(app, merged_records_history)  # a merged record's history stays on the survivor
    register_action_labels({"patient.merge": _l("Records merged"),
                            "patient.merged": _l("Merged into another record"),
                            "patient.unmerge": _l("Merge undone")})
    register_audit_labels(
        meta={"duplicate_id": _l("Merged record no."), "survivor_id": _l("Merged into record no."),
              "moved": _l("Moved"), "filled": _l("Filled in"), "duplicates": _l("Similar records no."),
              "appointments": _l("Appointments"), "calls": _l("Calls"), "access_links": _l("“Meine Termine” links"),
              "merged_records": _l("Records merged earlier"), "archived_before": _l("Archived before"),
              "returned": _l("Went back"), "left": _l("Stayed (changed since)"), "emptied": _l("Emptied again"),
              "kept": _l("Kept (changed since)"), "booking_left": _l("Booking tool link stayed")})
