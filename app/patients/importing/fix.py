"""Patient import, fixing a row in place: an admin corrects an invalid row of a previewed import in the preview
table instead of editing the file and uploading it again, and sees at once what the row becomes.

The corrected cells go through exactly what a row of the file goes through: the shared field rules (validate),
the "duplicate of row N" check against the other rows of the file, and the plan against the practice's patients
(plan, narrowed to the patients this one row can match). The row keeps its number; its raw cells are replaced
under the file's column names, so the problem-rows CSV shows what the admin typed. Audited without values.

Also here: the counts of a previewed import as its decisions stand (a flagged row the admin decided to link counts
as "link", one to skip as "skipped"), so the counters follow every decision and fix.
"""

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.patients.fields import PATIENT_FIELDS, phone_needs_check, validate_patient_fields
from app.patients.importing.models import PatientImportRow
from app.patients.importing.plan import ACTIONS, PHONE_CHECK, PatientIndex, _duplicate_reason, plan_rows
from app.patients.importing.service import _load_rows, _own_job
from app.patients.importing.validate import Row, _json_value
from app.platform.audit.service import record
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.tenancy.models import Practice


class RowFixError(ServiceError):
    """The corrected cells still break a field rule; ``errors`` maps field names to messages."""

    def __init__(self, errors):
        super().__init__(_("Please correct the marked fields."), code="invalid")
        self.errors = errors


def fixable_fields(job):
    """The fields a row of ``job`` can be corrected in: those the mapping reads from a column, in field order."""
    return [name for name in PATIENT_FIELDS if (job.mapping or {}).get(name)]


def row_cells(job, row):
    """{field: the row's cell as the file has it} for the fixable fields (what the edit form starts from)."""
    raw = row.raw or {}
    return {name: raw.get(job.mapping[name]) or "" for name in fixable_fields(job)}


def _check_fixable(actor, job, row):
    """Refuse rows that are not an invalid row of this practice's previewed import."""
    _own_job(actor, job)
    if row is None or row.job_id != job.id:
        raise ServiceError(_("This row does not belong to the import."), code="not_found")
    if job.status != "previewed":
        raise ServiceError(_("Rows can only be corrected after the preview and before the import starts."),
                           code="wrong_status")
    if row.action != "invalid":
        raise ServiceError(_("Only invalid rows can be corrected here."), code="not_invalid")


def fix_invalid_row(actor, job, row: PatientImportRow, cells: dict) -> PatientImportRow:
    """Replace an invalid row's cells with ``cells`` (field -> text) and plan it again: RowFixError when a field
    still breaks a rule (nothing is stored then); otherwise the row is stored with its new action (create, link,
    update, unchanged, flagged, or invalid again when it now duplicates another row or conflicts), the import's
    counts follow, and the fix is audited (row number and the fields changed, no values)."""
    _check_fixable(actor, job, row)
    practice = db.session.get(Practice, job.practice_id)
    fields = {name: (cells.get(name) or "").strip() for name in fixable_fields(job)}
    result = validate_patient_fields(fields, country=practice.country, today=date.today())
    if result.errors:
        raise RowFixError(dict(result.errors))
    values = {name: result.values.get(name) for name in PATIENT_FIELDS}
    fixed = Row(number=row.row_number, raw={}, data={name: _json_value(values[name]) for name in PATIENT_FIELDS},
                values=values)
    seen = {}
    for other in _load_rows(job.id):
        if other.db_id != row.id and other.values is not None:
            _duplicate_reason(other, seen)
    duplicate = _duplicate_reason(fixed, seen)
    if duplicate:
        fixed.action, fixed.reason = "invalid", duplicate
    else:
        plan_rows([fixed], PatientIndex(practice.id, values))
    before = row_cells(job, row)
    row.raw = {**(row.raw or {}), **{job.mapping[name]: value for name, value in fields.items()}}
    row.data, row.action, row.reason = fixed.data, fixed.action, fixed.reason
    row.patient_id, row.resolution, row.outcome = fixed.patient_id, None, None
    counts = {**(job.counts or {}), **action_counts(job)}
    if fixed.action != "invalid" and phone_needs_check(values["phone"]):
        counts[PHONE_CHECK] = counts.get(PHONE_CHECK, 0) + 1
    job.counts = counts
    record("patients.import_fix", actor, object_type="patient_import", object_id=job.id,
           meta={"row": row.row_number, "action": row.action,
                 "fields": [name for name in fields if fields[name] != (before.get(name) or "")]})
    db.session.commit()
    return row


def action_counts(job):
    """{"total": rows, action: rows} of the job's stored rows, in one statement."""
    found = dict(db.session.execute(
        select(PatientImportRow.action, func.count()).where(PatientImportRow.job_id == job.id)
        .group_by(PatientImportRow.action)
    ).all())
    return {"total": sum(found.values()), **{action: found.get(action, 0) for action in ACTIONS}}


def decided_counts(job):
    """The counts of a previewed import as its decisions stand, in one statement: total, then what each row will
    become: new, link, update, unchanged, to check (flagged rows without a decision), skipped (flagged rows the admin
    skips), invalid, and the valid rows whose phone number was kept as entered (as stored at the preview and kept
    up by fixes). A flagged row decided "create" counts as new, "link" as link."""
    found = db.session.execute(
        select(PatientImportRow.action, PatientImportRow.resolution, func.count())
        .where(PatientImportRow.job_id == job.id)
        .group_by(PatientImportRow.action, PatientImportRow.resolution)
    ).all()
    counts = dict.fromkeys(("total", "create", "link", "update", "unchanged", "flagged", "skipped", "invalid"), 0)
    decided = {"create": "create", "link": "link", "skip": "skipped", None: "flagged"}
    for action, resolution, count in found:
        counts["total"] += count
        key = decided.get(resolution, "flagged") if action == "flagged" else action
        counts[key] += count
    if (job.counts or {}).get(PHONE_CHECK):
        counts[PHONE_CHECK] = job.counts[PHONE_CHECK]
    return counts
