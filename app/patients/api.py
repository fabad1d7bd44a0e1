"""JSON API for patients: list with filters and pagination, detail, create, partial update and bulk import.
The same field rules, scoping and permissions as the UI (a therapist's token sees only own patients), and the same
duplicate check as the forms: a likely duplicate is refused with 409 unless the body confirms it with
``"create_anyway": true`` and a ``"reason"`` (audited with the patient's create or update entry)."""

from flask import current_app, g, request, url_for
from flask_babel import gettext as _

from app.api.blueprint import bp
from app.api.helpers import json_body, page_args, paged_json
from app.patients.fields import phone_needs_check
from app.patients.importing.service import import_records
from app.patients.service import (
    SORTS,
    DuplicatesFound,
    PatientValidationError,
    create_patient,
    get_patient,
    search_patients,
    update_patient,
)
from app.platform.errors import ServiceError, json_error
from app.platform.extensions import db
from app.platform.security.actor import Actor
from app.platform.security.guard import permission_required

WRITABLE = ("first_name", "last_name", "email", "phone", "birth_date", "booking_system_id", "therapist_id")
CONFIRMATION = ("create_anyway", "reason")  # saving a likely duplicate on purpose, and why
MAX_ID = 2**31 - 1  # the largest id an integer column holds


def patient_json(patient):
    """The API representation of a patient."""
    return {
        "id": patient.id,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "email": patient.email,
        "phone": patient.phone,
        # A phone kept as entered because it could not be normalised: a person should check it.
        "phone_needs_review": phone_needs_check(patient.phone),
        "birth_date": patient.birth_date.isoformat() if patient.birth_date else None,
        "therapist": {"id": patient.therapist.id, "name": patient.therapist.name} if patient.therapist else None,
        "booking_system_id": patient.booking_system_id,
        "booking_email": patient.booking_email,
        "source": patient.source,
        "archived_at": patient.archived_at.isoformat() if patient.archived_at else None,
        "created_at": patient.created_at.isoformat(),
        "updated_at": patient.updated_at.isoformat(),
    }


def _actor():
    """The token's user as an Actor, with the client address for the audit log."""
    return Actor(g.api_user, request.remote_addr, request.headers.get("User-Agent"))


def _validation_error(error):
    """422 with the message of each invalid field (a too long duplicate ``reason`` is named as such)."""
    if isinstance(error, PatientValidationError):
        fields = error.errors
    else:
        fields = {"reason" if error.field == "duplicate_reason" else error.field or "body": error.message}
    body, status, headers = json_error(422, "validation_failed", error.message)
    body["error"]["fields"] = fields
    return body, status, headers


def _duplicate_error(found, confirmed):
    """A likely duplicate: 409 listing the patients it may be; when ``create_anyway`` came without a reason, 422 on
    ``reason`` (with the same list)."""
    if confirmed:
        message = _("Please give a reason for saving this patient anyway.")
        body, status, headers = json_error(422, "validation_failed", message)
        body["error"]["fields"] = {"reason": message}
    else:
        body, status, headers = json_error(409, "duplicate", _(
            "This patient may already exist. To save anyway, send “create_anyway”: true with a “reason”."))
    body["error"]["duplicates"] = _duplicates_json(found.duplicates)
    return body, status, headers


def _duplicates_json(duplicates):
    """The likely duplicates as the 409 lists them: id, name and why (``identity``, ``email`` or ``phone``:
    the keys of app.patients.duplicates.REASON_LABELS)."""
    return [{"id": duplicate.patient.id, "name": duplicate.patient.full_name, "reasons": duplicate.reasons}
            for duplicate in duplicates]


def _confirmation(body):
    """Take ``create_anyway`` and ``reason`` out of ``body``: the reason to pass as the services' duplicate_reason
    (None unless ``create_anyway`` is true: likely duplicates then refuse the patient)."""
    confirmed = body.pop("create_anyway", False)
    reason = body.pop("reason", None)
    return (reason or "") if confirmed else None


def _patient_body():
    """The request's patient object, or a JSON error (415, 400, or 422 naming fields the API does not accept, so
    typos are reported instead of silently ignored, or fields of the wrong JSON type: text fields take a string
    or null, ``therapist_id`` a whole number or null)."""
    body, error = json_body(dict)
    if error:
        return None, error
    if unknown := sorted(set(body) - set(WRITABLE) - set(CONFIRMATION)):
        return None, json_error(422, "unknown_fields", _("Unknown fields: %(fields)s.", fields=", ".join(unknown)))
    if wrong := {name: reason for name, value in body.items() if (reason := _wrong_type(name, value))}:
        response, status, headers = json_error(422, "validation_failed", next(iter(wrong.values())))
        response["error"]["fields"] = wrong
        return None, (response, status, headers)
    return body, None


def _wrong_type(name, value):
    """Why ``value`` cannot be field ``name`` of a patient body, or None when its JSON type fits."""
    if value is None:
        return None
    if name == "create_anyway":
        return None if isinstance(value, bool) else _("Must be true or false.")
    if name == "therapist_id":
        fits = type(value) is int and 0 < value <= MAX_ID  # bool is an int subclass: true is refused too
        return None if fits else _("Must be the number of a therapist (a whole number) or null.")
    return None if isinstance(value, str) else _("Must be text (a JSON string) or null.")


def _patient_or_error(patient_id):
    """The patient if the token's user may read it, else the JSON 404 to return (never 403: ids cannot be probed)."""
    patient = get_patient(g.api_user, patient_id)
    if patient is None:
        return None, json_error(404, "not_found", _("This page or record does not exist."))
    return patient, None


@bp.get("/patients")
@permission_required("patients.read")
def patients_index():
    """JSON: ``{"count", "next", "previous", "results"}``; filters q, archived, booking_system_id, email; ``sort``
    name (German phone-book order, the default) or birth_date, with a leading "-" for descending."""
    page, per_page, error = page_args(25)
    if error:
        return error
    args = request.args
    sort = args.get("sort", "name")
    if sort.removeprefix("-") not in SORTS:
        return json_error(400, "invalid_sort", _("sort must be one of: %(sorts)s.", sorts=", ".join(
            f"{prefix}{name}" for name in SORTS for prefix in ("", "-"))))
    search = search_patients(g.api_user, args.get("q", ""), archived=args.get("archived") in ("1", "true"),
                             sort=sort.removeprefix("-"), descending=sort.startswith("-"),
                             booking_system_id=args.get("booking_system_id"), email=args.get("email"))
    return paged_json(page, search.page(per_page), patient_json)


@bp.get("/patients/<int:patient_id>")
@permission_required("patients.read")
def patients_detail(patient_id):
    """JSON: one patient, 404 outside the token user's scope."""
    patient, error = _patient_or_error(patient_id)
    return error or patient_json(patient)


@bp.post("/patients")
@permission_required("patients.write")
def patients_create():
    """JSON: create a patient; 201 with the patient and its Location, 422 with per-field errors, 409 with the
    likely duplicates unless ``create_anyway`` and a ``reason`` confirm it is another person."""
    body, error = _patient_body()
    if error:
        return error
    reason = _confirmation(body)
    try:
        patient = create_patient(_actor(), g.api_user.practice, body, body.get("therapist_id"),
                                 check_duplicates=True, duplicate_reason=reason)
    except DuplicatesFound as found:
        db.session.rollback()
        return _duplicate_error(found, confirmed=reason is not None)
    except ServiceError as service_error:
        db.session.rollback()
        return _validation_error(service_error)
    location = url_for("api.patients_detail", patient_id=patient.id)
    return patient_json(patient), 201, {"Location": location}


@bp.patch("/patients/<int:patient_id>")
@permission_required("patients.write")
def patients_update(patient_id):
    """JSON: change the given fields of a patient (the booking link changes only through the UI's link action); a
    change that makes it a likely duplicate of another record answers 409 as on create."""
    patient, error = _patient_or_error(patient_id)
    if error:
        return error
    body, error = _patient_body()
    if error:
        return error
    if "booking_system_id" in body:
        return json_error(422, "read_only", _("booking_system_id is changed with the link action, not with PATCH."))
    therapist = body.pop("therapist_id", ...)
    reason = _confirmation(body)
    try:
        update_patient(_actor(), patient, body, partial=True, therapist_id=therapist, check_duplicates=True,
                       duplicate_reason=reason)
    except DuplicatesFound as found:
        db.session.rollback()
        return _duplicate_error(found, confirmed=reason is not None)
    except ServiceError as service_error:
        db.session.rollback()
        return _validation_error(service_error)
    return patient_json(patient)


@bp.post("/patients/import")
@permission_required("patients.import")
def patients_import():
    """JSON: import an array of patients (or ``{"patients": [...], "dry_run": true, "valid_only": true}``) with
    the CSV rules and answer with the same report. ``dry_run`` writes nothing; with invalid rows nothing is
    imported (422, status "rejected") unless ``valid_only`` is set. Both flags also work as query parameters."""
    body, error = json_body((list, dict))
    if error:
        return error
    flags = {name: request.args.get(name) in ("1", "true") for name in ("dry_run", "valid_only")}
    if isinstance(body, dict):
        records = body.get("patients")
        flags = {name: bool(body.get(name, value)) for name, value in flags.items()}
    else:
        records = body
    if not isinstance(records, list):
        return json_error(400, "wrong_type", _("“patients” must be an array."))
    limit = current_app.config["PATIENT_IMPORT_MAX_RECORDS"]
    if len(records) > limit:
        return json_error(413, "too_many_records", _("At most %(n)d patients per request.", n=limit))
    try:
        report = import_records(_actor(), records, dry_run=flags["dry_run"], valid_only=flags["valid_only"])
    except ServiceError as service_error:
        db.session.rollback()
        return _validation_error(service_error)
    return report, 422 if report["status"] == "rejected" else 200
