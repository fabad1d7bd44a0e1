"""One patient pushed by the booking tool (a webhook event), with exactly the rules of an import: validated by the
shared field rules, planned against the practice's patients (create, link, update, unchanged, flagged or
invalid) and written as an import writes it.

``apply_patient_record`` does all of it in the caller's transaction. ``new_patient_values`` only plans, for the
webhook receiver's fast path (app.webhooks.fast_patient), which writes a plain create in one statement with the
event itself and leaves every other case to ``apply_patient_record``."""

from app.patients.fields import PATIENT_FIELDS
from app.patients.importing import refusal
from app.patients.importing.models import PatientImportJob
from app.patients.importing.plan import PatientIndex, count_rows, finalise, plan_rows
from app.patients.importing.validate import api_rows
from app.patients.importing.write import apply_rows, insert_rows, new_patient
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.extensions import db
from app.tenancy.models import Practice
from app.tenancy.settings import default_therapist_id

# The source of the patients this module creates (Patient.source).
SOURCE = "booking"


def _planned(practice, fields):
    """The record as a one-row import, validated and planned: (rows, its row, the index it was planned with)."""
    rows = api_rows([fields], practice.country)
    row = rows[0]
    if row.values is None:
        return rows, row, None
    index = PatientIndex(practice.id, row.values)
    plan_rows(rows, index)
    return rows, row, index


def apply_patient_record(actor, fields: dict, *, origin="webhook", label="") -> tuple[str, int | None, int | None]:
    """Apply one patient pushed by the booking tool (a webhook event) with exactly the rules of an import:
    create (with the practice's default therapist), link, update or unchanged. A record that is *flagged* (same
    name and birth date as a patient with another email, and the other cases the import flags) is never merged:
    it is stored as a one-row import of origin ``origin`` awaiting the admin's decision in the import review UI
    (the row's reason names the patients, for that page only). An invalid record raises RecordRefused, whose code
    and ids say why without a personal value. Adds to the current transaction (the caller commits). Returns
    (action, patient id or None, the review import's id for a flagged record or None)."""
    practice = db.session.get(Practice, actor.practice_id)
    rows, row, index = _planned(practice, fields)
    if row.values is None:
        raise refusal.invalid_fields(fields, practice.country, row.data["errors"])
    if row.action == "invalid":
        raise refusal.conflict(row.values, index)
    if row.action == "flagged":
        job = PatientImportJob(practice_id=practice.id, origin=origin, file_name=label or origin,
                               headers=list(fields), mapping={name: name for name in PATIENT_FIELDS},
                               status="previewed", counts=count_rows(rows), progress_total=1)
        db.session.add(job)
        db.session.flush()
        insert_rows(job.id, rows)
        record("patients.import_flagged", actor, object_type="patient_import", object_id=job.id,
               patient_id=row.patient_id, meta={"origin": origin})
        return "flagged", row.patient_id, job.id
    finalise(row, row.patient_id)
    apply_rows(rows, practice.id, default_therapist_id(practice), SOURCE)
    if row.operation is not None:
        record("patient.create" if row.operation == "create" else "patient.update", actor, object_type="patient",
               object_id=row.patient_id, patient_id=row.patient_id, meta={"origin": origin, "action": row.action})
    return row.action, row.patient_id, None


def new_patient_values(practice, fields, therapist_id):
    """The column values of the patient of ``practice`` that ``apply_patient_record`` would create for ``fields``
    (the same validation, plan and derived columns) with the therapist ``therapist_id``, or None when the import's
    rules do anything else with the record (link, update, unchanged, flagged or invalid). Only reads. The webhook
    receiver passes the practice's chosen default therapist and checks it in the statement that writes the
    patient, as default_therapist_id would have."""
    _rows, row, _index = _planned(practice, fields)
    if row.values is None or row.action != "create":
        return None
    return new_patient(row.values, practice.id, therapist_id, SOURCE, utcnow())
