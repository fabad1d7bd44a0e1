"""Patient import: a CSV upload (or a JSON array through the API) becomes a dry-run report per row, and then, in the
background, new, linked and updated patients.

This module holds the use cases; each step of an import has its own module beside it: decode (reading the file),
headers (the column mapping), validate (the field rules per row), plan (what each row becomes: create, link,
update, unchanged, flagged or invalid), write (the bulk writes) and report (what the admin reads afterwards).

The flow for a file: ``create_csv_import`` checks and stores the upload and guesses the column mapping;
``preview_import`` reads every row with the admin's mapping, validates it with the shared field rules
(``patient_fields``) and plans it against the practice's patients without writing any patient; the admin resolves
flagged rows (``resolve_flagged_row``) and queues the import (``queue_import``); the worker calls
``run_import_job``, which plans again against the database as it is then and writes in batches.

Row numbers are those a spreadsheet shows: the header is row 1, the first patient row 2 (a quoted cell with line
breaks still counts as one row). For the API they are positions in the array, starting at 1. One record pushed by
the booking tool goes through the same rules in app.patients.importing.single.
"""

import gc
import json
import os
from contextlib import contextmanager

from flask_babel import gettext as _
from sqlalchemy import Text, cast, delete, func, select

from app.patients.fields import PATIENT_FIELDS
from app.patients.importing.decode import ImportFileError, parse_csv
from app.patients.importing.headers import REQUIRED_FIELDS, check_mapping, field_labels, guess_mapping
from app.patients.importing.models import PatientImportJob, PatientImportRow
from app.patients.importing.plan import PatientIndex, count_rows, finalise, patient_name, plan_rows
from app.patients.importing.report import (
    REPORT_ROW_LIMIT,
    flagged_note,
    import_report,
    is_problem,
    needs_phone_check,
    phone_check_row,
    report_row,
    unresolved_count,
)
from app.patients.importing.validate import Row, api_rows, csv_rows, values_from_data
from app.patients.importing.write import BATCH_SIZE, ROW_TABLE, apply_rows, insert_rows, save_outcomes
from app.patients.models import Patient
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.errors import ServiceError, loggable_error
from app.platform.extensions import db
from app.platform.jobs import queue as job_queue
from app.platform.security.actor import Actor
from app.tenancy.models import Practice
from app.tenancy.settings import default_therapist_id

# The background commit commits and reports progress per batch, sized for about PROGRESS_STEPS steps within
# MIN_BATCH_SIZE..MAX_BATCH_SIZE rows. Few, large batches: on SQLite every commit writes back (checkpoints) each
# index page the batch touched, and with rows in random name order that is about one page per row and index; 20
# commits of 5,000 rows made the writes of 100,000 patients take 1.8 times as long as one commit, and 8 commits of
# 12,500 rows took 1.16 times the CPU time of 5 commits of 20,000. A batch of 20,000 still holds SQLite's write
# lock well below the 5 s other writers wait for it (busy_timeout).
MIN_BATCH_SIZE, MAX_BATCH_SIZE, PROGRESS_STEPS = 1000, 20_000, 5
RESOLUTIONS = ("link", "create", "skip")


@contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector for one step of an import (as a decorator). A large file becomes
    millions of small objects (cells, rows, values), and each full collection walks all of them again: 15 % of the
    CPU time of a 100,000-row import went into collections that found nothing, since those objects hold no
    cycles. Collection resumes when the step ends (other threads' garbage waits for those seconds); when it was
    already paused, it stays so."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _own_job(actor, job):
    """Refuse a job of another practice as "not found" (ids cannot be probed)."""
    if job is None or job.practice_id != actor.practice_id:
        raise ServiceError(_("This import does not exist."), code="not_found")
    return job


@_collector_paused()
def create_csv_import(actor, file_name: str, content: bytes) -> PatientImportJob:
    """Check and store an uploaded CSV file with its encoding, delimiter, headers and a guessed column mapping
    (status "uploaded"), and audit the upload. The whole file is parsed now, so every problem with the file itself
    (size, empty, not text, not a CSV, no rows, no name columns) is reported at once as an ImportFileError and
    nothing is stored then. The file is kept in the job so that any worker host can read it."""
    content = bytes(content or b"")
    table = parse_csv(content)
    mapping = guess_mapping(table.headers)
    labels = field_labels()
    missing = [labels[name] for name in REQUIRED_FIELDS if mapping[name] is None]
    if missing:
        raise ImportFileError(
            _("The file has no column for %(fields)s. Name the columns for example “Vorname” and “Nachname” (or "
              "“First name” and “Last name”).", fields=" / ".join(missing)),
            code="missing_column",
        )
    name = os.path.basename((file_name or "").replace("\\", "/"))[:255] or "import.csv"
    job = PatientImportJob(
        practice_id=actor.practice_id, user_id=actor.user.id if actor.user is not None else None, origin="csv",
        file_name=name, content=content, encoding=table.encoding, delimiter=table.delimiter, headers=table.headers,
        mapping=mapping, status="uploaded", counts={"total": len(table.rows)}, progress_done=0, progress_total=0,
    )
    db.session.add(job)
    db.session.flush()
    record("patients.import_upload", actor, object_type="patient_import", object_id=job.id,
           meta={"file_name": name, "bytes": len(content), "rows": len(table.rows), "encoding": table.encoding,
                 "delimiter": table.delimiter})
    db.session.commit()
    return job


@_collector_paused()
def preview_import(actor, job, mapping: dict[str, str | None]) -> PatientImportJob:
    """The dry run: read every row of the stored file with ``mapping`` (field -> header or None), validate it with
    the shared field rules and plan it against the practice's patients, without writing any patient. Replaces the
    job's rows (so earlier resolutions are dropped: a new mapping can change what a row means), sets the counts
    and status "previewed", and commits. Allowed while the job is uploaded or previewed."""
    _own_job(actor, job)
    if job.status not in ("uploaded", "previewed"):
        raise ServiceError(_("This import can no longer be changed."), code="wrong_status")
    mapping = check_mapping(mapping, job.headers)
    practice = db.session.get(Practice, job.practice_id)
    rows = csv_rows(parse_csv(job.content), mapping, practice.country)
    plan_rows(rows, PatientIndex(job.practice_id))
    db.session.execute(delete(PatientImportRow).where(PatientImportRow.job_id == job.id),
                       execution_options={"synchronize_session": False})
    insert_rows(job.id, rows)
    job.mapping = mapping
    job.counts = count_rows(rows)
    job.progress_total, job.progress_done = len(rows), 0
    job.status = "previewed"
    db.session.commit()
    return job


def resolve_flagged_row(actor, job, row: PatientImportRow, resolution: str) -> PatientImportRow:
    """Record the admin's decision for a flagged row before the commit: ``link`` (to the patient it resembles:
    sets the booking link, fills only empty fields, restores an archived record), ``create`` (a new patient anyway)
    or ``skip``. A decision can be changed until the import is queued. Audited with the row number and patient."""
    _own_job(actor, job)
    if row is None or row.job_id != job.id:
        raise ServiceError(_("This row does not belong to the import."), code="not_found")
    if job.status != "previewed":
        raise ServiceError(_("Rows can only be resolved after the preview and before the import starts."),
                           code="wrong_status")
    if row.action != "flagged":
        raise ServiceError(_("Only flagged rows need a decision."), code="not_flagged")
    if resolution not in RESOLUTIONS:
        raise ServiceError(_("Please choose link, create or skip."), field="resolution")
    if resolution == "link" and row.patient_id is None:
        raise ServiceError(_("There is no single patient to link this row to; create it or skip it."),
                           field="resolution")
    if resolution == "link":
        patient = db.session.get(Patient, row.patient_id)
        booking = row.data.get("booking_system_id")
        if booking and patient.booking_system_id and patient.booking_system_id != booking:
            raise ServiceError(_("%(name)s (no. %(id)d) is linked to patient ID %(other)s, not %(booking)s.",
                                 name=patient_name(patient), id=patient.id, other=patient.booking_system_id,
                                 booking=booking), field="resolution")
    row.resolution = resolution
    record("patients.import_resolve", actor, object_type="patient_import", object_id=job.id,
           patient_id=row.patient_id if resolution == "link" else None,
           meta={"row": row.row_number, "resolution": resolution, "patient_id": row.patient_id})
    db.session.commit()
    return row


def queue_import(actor, job, valid_only: bool) -> PatientImportJob:
    """Hand a previewed import to the worker (status "queued"). Refused while flagged rows await a decision, when
    invalid rows exist and the admin did not choose to import only the valid rows, and when no row is valid.
    A failed import may be queued again: the commit plans afresh, so rows written before the failure come out
    unchanged."""
    _own_job(actor, job)
    if job.status not in ("previewed", "failed"):
        raise ServiceError(_("Only a previewed import can be started."), code="wrong_status")
    counts = dict(db.session.execute(
        select(PatientImportRow.action, func.count()).where(PatientImportRow.job_id == job.id)
        .group_by(PatientImportRow.action)
    ).all())
    unresolved = unresolved_count(job)
    if unresolved:
        raise ServiceError(_("%(count)d flagged rows still need a decision: link, create or skip.",
                             count=unresolved), code="unresolved")
    invalid = counts.get("invalid", 0)
    if invalid and not valid_only:
        raise ServiceError(_("%(count)d rows are invalid. Correct the file and upload it again, or import only the "
                             "valid rows.", count=invalid), code="invalid_rows")
    if sum(counts.values()) - invalid == 0:
        raise ServiceError(_("There are no valid rows to import."), code="no_valid_rows")
    job.valid_only = bool(valid_only)
    job.status, job.error, job.progress_done, job.finished_at = "queued", None, 0, None
    job_queue.enqueue("patient_import", {"import_job_id": job.id}, practice_id=job.practice_id)
    record("patients.import_queue", actor, object_type="patient_import", object_id=job.id,
           meta={"valid_only": job.valid_only, "rows": sum(counts.values())})
    db.session.commit()
    return job


def _load_rows(job_id):
    """The stored rows of a previewed import (values rebuilt from ``data``, so nothing is validated twice).
    ``data`` is cast to text in SQL and decoded here, all rows in one JSON array, which is faster than the JSON
    type's per-row result processing and than one ``json.loads`` per row (and the same on SQLite and PostgreSQL,
    whose driver would otherwise decode json itself)."""
    query = (
        select(ROW_TABLE.c.id, ROW_TABLE.c.row_number, cast(ROW_TABLE.c.data, Text), ROW_TABLE.c.action,
               ROW_TABLE.c.reason, ROW_TABLE.c.resolution, ROW_TABLE.c.patient_id)
        .where(ROW_TABLE.c.job_id == job_id).order_by(ROW_TABLE.c.row_number)
    )
    stored = db.session.execute(query).all()
    decoded = json.loads(f"[{','.join(text or '{}' for _id, _number, text, *_rest in stored)}]")
    rows = []
    for (row_id, number, _text, action, reason, resolution, patient_id), data in zip(stored, decoded, strict=True):
        valid = "errors" not in data
        rows.append(Row(number=number, raw={}, data=data, values=values_from_data(data) if valid else None,
                         reason=None if valid else reason, action=action, patient_id=patient_id,
                         resolution=resolution, db_id=row_id))
    return rows


@_collector_paused()
def run_import_job(job, progress):
    """Worker handler for "patient_import": ``job.payload["import_job_id"]`` names the PatientImportJob.

    Plans every row again against the database as it is now (patients may have changed since the preview; the
    admin's resolutions are kept by row number), then writes in batches of 1,000 to 20,000 rows; each batch is
    committed with the job's progress and reported through ``progress(done, total)``. A row that has become
    invalid since the preview (say its booking id now belongs to another patient) is reported, not written. Ends
    with the final counts, status "succeeded" and an audit entry "patients.import" in the name of the admin who
    uploaded the file. On an exception the job is marked failed with the error and the exception re-raised; since
    every run plans afresh, running it again completes the rest without duplicates. A job that already succeeded
    is left alone. The worker's JobLost (a BaseException: another worker took the job over) passes through without
    marking the import failed."""
    import_job = db.session.get(PatientImportJob, (job.payload or {}).get("import_job_id"))
    worker_practice = getattr(job, "practice_id", None)
    if import_job is None or (worker_practice is not None and worker_practice != import_job.practice_id):
        raise ServiceError(_("This import does not exist."), code="not_found")
    if import_job.status == "succeeded":
        return import_job
    if import_job.status not in ("queued", "running", "failed"):
        raise ServiceError(_("This import has not been queued."), code="wrong_status")
    import_job_id = import_job.id
    actor = Actor(user=import_job.user, practice_id=import_job.practice_id)
    import_job.status, import_job.error = "running", None
    db.session.commit()
    try:
        practice = db.session.get(Practice, import_job.practice_id)
        practice_id, therapist_id = practice.id, default_therapist_id(practice)
        rows = _load_rows(import_job_id)
        plan_rows(rows, PatientIndex(practice_id), final=True)
        total = len(rows)
        batch_size = max(MIN_BATCH_SIZE, min(MAX_BATCH_SIZE, total // PROGRESS_STEPS))
        import_job.progress_total, import_job.progress_done = total, 0
        db.session.commit()
        progress(0, total)
        for start in range(0, total, batch_size):
            batch = rows[start:start + batch_size]
            apply_rows(batch, practice_id, therapist_id, "import")
            save_outcomes(batch)
            import_job.progress_done = start + len(batch)
            db.session.commit()
            progress(start + len(batch), total)
        counts = count_rows(rows, final=True)
        import_job.counts, import_job.status, import_job.finished_at = counts, "succeeded", utcnow()
        record("patients.import", actor, object_type="patient_import", object_id=import_job_id,
               meta={"origin": "csv", "file_name": import_job.file_name, "valid_only": import_job.valid_only,
                     "status": "succeeded", "counts": counts})
        db.session.commit()
        return import_job
    except Exception as error:
        db.session.rollback()
        import_job = db.session.get(PatientImportJob, import_job_id)
        import_job.status, import_job.finished_at = "failed", utcnow()
        # Our own refusals say what to do; anything else only its class and place, never its text (a database
        # error quotes the statement's parameters: the file's names and emails).
        import_job.error = error.message if isinstance(error, ServiceError) else loggable_error(error)
        record("patients.import", actor, object_type="patient_import", object_id=import_job_id,
               meta={"origin": "csv", "file_name": import_job.file_name, "status": "failed",
                     "error": type(error).__name__})
        db.session.commit()
        raise



@_collector_paused()
def import_records(actor, records: list, dry_run: bool, *, valid_only: bool = False) -> dict:
    """The JSON API import: ``records`` is a list of patient dicts (keys first_name, last_name, email, phone,
    birth_date, booking_system_id; ``patient_id`` is accepted for booking_system_id), planned with the same rules
    as a file. Rows are numbered from 1 in the order given.

    ``dry_run`` writes nothing at all (not even an audit entry) and answers with the plan. Otherwise the rows are
    applied at once in one transaction and the job is stored (origin "api") and audited as "patients.import";
    new patients get ``source="booking"``. As for files, nothing is written when a row is invalid unless
    ``valid_only`` is set (the report then has status "rejected"). Flagged rows are never applied through the API:
    they are reported (outcome "skipped") for an admin to link or create by hand, and the report's ``note`` says
    so. Returns the report (see import_report) with ``dry_run`` added."""
    if not isinstance(records, list):
        raise ServiceError(_("Send a JSON array of patients."), code="invalid", field="records")
    if not records:
        raise ServiceError(_("The list of patients is empty."), code="empty", field="records")
    practice = db.session.get(Practice, actor.practice_id)
    rows = api_rows(records, practice.country)
    plan_rows(rows, PatientIndex(practice.id))
    counts = count_rows(rows)
    if dry_run or (counts["invalid"] and not valid_only):
        status = "dry_run" if dry_run else "rejected"
        problems = [row for row in rows if is_problem(row)]
        phones = [row for row in rows if needs_phone_check(row)]
        report = {"id": None, "status": status, "counts": counts, "error": None,
                  "rows": [report_row(row) for row in problems[:REPORT_ROW_LIMIT]],
                  "rows_truncated": len(problems) > REPORT_ROW_LIMIT,
                  "phone_check_rows": [phone_check_row(row) for row in phones[:REPORT_ROW_LIMIT]],
                  "phone_check_truncated": len(phones) > REPORT_ROW_LIMIT, "dry_run": bool(dry_run)}
        if status == "rejected":
            report["error"] = _("%(count)d rows are invalid, so nothing was imported. Correct them, or import only "
                                "the valid rows.", count=counts["invalid"])
        if counts["flagged"]:
            report["note"] = flagged_note(counts["flagged"])
        return report
    for row in rows:
        if row.action == "flagged":
            row.outcome = "skipped"
            row.reason = _("%(reason)s Not imported through the API; an admin decides.", reason=row.reason)
        else:
            finalise(row, row.patient_id)
    headers = list(dict.fromkeys(key for item in records if isinstance(item, dict) for key in item))
    job = PatientImportJob(
        practice_id=practice.id, user_id=actor.user.id if actor.user is not None else None, origin="api",
        file_name="API", headers=headers, mapping={name: name for name in PATIENT_FIELDS}, status="running",
        valid_only=bool(valid_only), progress_total=len(rows),
    )
    db.session.add(job)
    db.session.flush()
    therapist_id = default_therapist_id(practice)
    for start in range(0, len(rows), BATCH_SIZE):
        apply_rows(rows[start:start + BATCH_SIZE], practice.id, therapist_id, "booking")
    insert_rows(job.id, rows)
    job.counts = count_rows(rows, final=True)
    job.status, job.progress_done, job.finished_at = "succeeded", len(rows), utcnow()
    record("patients.import", actor, object_type="patient_import", object_id=job.id,
           meta={"origin": "api", "valid_only": job.valid_only, "status": "succeeded", "counts": job.counts})
    db.session.commit()
    report = import_report(job)
    report["dry_run"] = False
    if counts["flagged"]:
        report["note"] = flagged_note(counts["flagged"])
    return report
