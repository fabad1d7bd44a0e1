"""Patient import, the report: counts and problem rows for the UI and the API, the problem rows as a CSV file for
Excel, and the words a person reads for each row's action and outcome.

Kept apart from the use cases because the report only reads what an import stored; the CSV is written by
app.platform.csv_export, which makes every cell formula-safe, headers included, since they hold whatever the
uploaded file contained.
"""

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.patients.importing.models import PatientImportRow
from app.platform.csv_export import spreadsheet_csv
from app.platform.extensions import db

REPORT_ROW_LIMIT = 1000
PROBLEM_ACTIONS = ("flagged", "invalid")
PROBLEM_OUTCOMES = ("skipped", "invalid")


def report_row(row):
    """One problem row of a report."""
    return {"row": row.number, "action": row.action, "reason": row.reason, "patient_id": row.patient_id,
            "outcome": row.outcome, "resolution": row.resolution}


def is_problem(row):
    """Flagged, invalid or skipped rows are the ones a person has to look at."""
    return row.action in PROBLEM_ACTIONS or row.outcome in PROBLEM_OUTCOMES


def flagged_note(count):
    """The API report's note that flagged rows were not applied."""
    return _("%(count)d rows resemble an existing patient and were not imported; an admin must link or create "
             "them by hand.", count=count)


def _problem_rows_query(job):
    """A select of the job's flagged, invalid and skipped rows in row order."""
    return (
        select(PatientImportRow)
        .where(PatientImportRow.job_id == job.id,
               PatientImportRow.action.in_(PROBLEM_ACTIONS) | PatientImportRow.outcome.in_(PROBLEM_OUTCOMES))
        .order_by(PatientImportRow.row_number)
    )


def plan_problem_rows(job, limit):
    """The first ``limit`` flagged and invalid rows of the job's plan by row number: what the preview and the
    finished import list for a person to look at."""
    return db.session.scalars(
        select(PatientImportRow)
        .where(PatientImportRow.job_id == job.id, PatientImportRow.action.in_(PROBLEM_ACTIONS))
        .order_by(PatientImportRow.row_number)
        .limit(limit)
    ).all()


def unresolved_count(job):
    """How many flagged rows of the job still await a decision (link, create or skip); the import cannot start
    before it is 0."""
    return db.session.scalar(
        select(func.count()).select_from(PatientImportRow)
        .where(PatientImportRow.job_id == job.id, PatientImportRow.action == "flagged",
               PatientImportRow.resolution.is_(None))
    )


def import_report(job) -> dict:
    """The report of an import for the UI and the API: id, status, counts, the error of a failed run, and the
    problem rows (flagged, invalid, skipped) with row number, action, reason, patient, resolution and outcome,
    at most REPORT_ROW_LIMIT of them (``rows_truncated`` says when there are more; the CSV has all)."""
    stored = db.session.scalars(_problem_rows_query(job).limit(REPORT_ROW_LIMIT + 1)).all()
    rows = [{"row": row.row_number, "action": row.action, "reason": row.reason, "patient_id": row.patient_id,
             "outcome": row.outcome, "resolution": row.resolution} for row in stored[:REPORT_ROW_LIMIT]]
    return {"id": job.id, "status": job.status, "counts": dict(job.counts or {}), "error": job.error,
            "rows": rows, "rows_truncated": len(stored) > REPORT_ROW_LIMIT}


def row_state_labels():
    """What a person reads for each row action and outcome (and "total" for the row count), in the current
    language: for the import's counts, its table and the problem-rows CSV, which never show the codes."""
    return {"total": _("rows"), "create": _("new"), "link": _("link"), "update": _("update"),
            "unchanged": _("unchanged"), "flagged": _("to check"), "invalid": _("invalid"), "created": _("created"),
            "linked": _("linked"), "updated": _("updated"), "skipped": _("skipped")}


def problem_rows_csv(job) -> str:
    """The flagged, invalid and skipped rows as CSV for Excel (see spreadsheet_csv; encode the string as UTF-8):
    row number, action and outcome (as row_state_labels words), reason, then the row's raw cells under the file's
    headers. The headers and cells come from the uploaded file, so all of them are written formula-safe."""
    headers = list(job.headers or [])
    stored = db.session.scalars(_problem_rows_query(job)).all()
    extra = list(dict.fromkeys(key for row in stored for key in (row.raw or {}) if key not in headers))
    labels = row_state_labels()
    header_row = [_("Row"), _("Action"), _("Outcome"), _("Reason"), *headers, *extra]
    return spreadsheet_csv([header_row, *([row.row_number, labels[row.action], labels.get(row.outcome, ""),
                                           row.reason, *((row.raw or {}).get(name) for name in (*headers, *extra))]
                                          for row in stored)])
