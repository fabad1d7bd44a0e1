"""Patient import, the report: counts and problem rows for the UI and the API, the problem rows as a CSV file for
Excel, and the words a person reads for each row's action and outcome.

Kept apart from the use cases because the report only reads what an import stored; the CSV is written by
app.platform.csv_export, which makes every cell formula-safe, headers included, since they hold whatever the
uploaded file contained.
"""

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.patients.fields import phone_needs_check
from app.patients.importing.models import PatientImportRow
from app.platform.csv_export import spreadsheet_csv
from app.platform.extensions import db

REPORT_ROW_LIMIT = 1000
PROBLEM_ACTIONS = ("flagged", "invalid")
PROBLEM_OUTCOMES = ("skipped", "invalid")
# A phone in E.164, as fields.phone_needs_check tells it, for SQL (REGEXP on SQLite, ~ on PostgreSQL).
E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"


def report_row(row):
    """One problem row of a report."""
    return {"row": row.number, "action": row.action, "reason": row.reason, "patient_id": row.patient_id,
            "outcome": row.outcome, "resolution": row.resolution}


def is_problem(row):
    """Flagged, invalid or skipped rows are the ones a person has to look at."""
    return row.action in PROBLEM_ACTIONS or row.outcome in PROBLEM_OUTCOMES


def needs_phone_check(row):
    """Whether a row (a plan's Row) is valid and its phone number was kept as entered ("Check phone number")."""
    return (row.values is not None and "invalid" not in (row.action, row.outcome)
            and phone_needs_check(row.values["phone"]))


def phone_check_row(row):
    """One row of a report's ``phone_check_rows``: its number, the phone as kept, the patient and what happened."""
    return {"row": row.number, "phone": row.values["phone"], "patient_id": row.patient_id, "action": row.action,
            "outcome": row.outcome}


def _phone_check_condition():
    """The SQL condition for stored rows that are valid and whose phone was kept as entered (not E.164)."""
    phone = PatientImportRow.data["phone"].as_string()
    return ((PatientImportRow.action != "invalid")
            & (PatientImportRow.outcome.is_(None) | (PatientImportRow.outcome != "invalid"))
            & phone.is_not(None) & (phone != "") & ~phone.regexp_match(E164_PATTERN))


def flagged_note(count):
    """The API report's note that flagged rows were not applied."""
    return _("%(count)d rows resemble an existing patient and were not imported; an admin must link or create "
             "them by hand.", count=count)


def _checks_phones(job):
    """Whether the job has valid rows whose phone was kept as entered (counted at the preview and the commit), so
    that the reports look for them only then."""
    return bool((job.counts or {}).get("phone_check"))


def _problem_rows_query(job, phones=False):
    """A select of the job's flagged, invalid and skipped rows in row order; with ``phones`` also the rows whose
    phone number was kept as entered."""
    condition = PatientImportRow.action.in_(PROBLEM_ACTIONS) | PatientImportRow.outcome.in_(PROBLEM_OUTCOMES)
    if phones and _checks_phones(job):
        condition = condition | _phone_check_condition()
    return select(PatientImportRow).where(PatientImportRow.job_id == job.id, condition).order_by(
        PatientImportRow.row_number)


def plan_problem_rows(job, limit):
    """The first ``limit`` rows of the job a person has to look at, by row number: flagged and invalid rows, and
    the rows whose phone number was kept as entered (shown with "Check phone number"): what the preview and the
    finished import list."""
    condition = PatientImportRow.action.in_(PROBLEM_ACTIONS)
    if _checks_phones(job):
        condition = condition | _phone_check_condition()
    return db.session.scalars(
        select(PatientImportRow).where(PatientImportRow.job_id == job.id, condition)
        .order_by(PatientImportRow.row_number).limit(limit)
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
    at most REPORT_ROW_LIMIT of them (``rows_truncated`` says when there are more; the CSV has all); and
    ``phone_check_rows``, the valid rows whose phone number was kept as entered, for a person to check (row number,
    phone as stored, patient, action, outcome; as many at most, ``phone_check_truncated`` likewise)."""
    stored = db.session.scalars(_problem_rows_query(job).limit(REPORT_ROW_LIMIT + 1)).all()
    rows = [{"row": row.row_number, "action": row.action, "reason": row.reason, "patient_id": row.patient_id,
             "outcome": row.outcome, "resolution": row.resolution} for row in stored[:REPORT_ROW_LIMIT]]
    phones = []
    if _checks_phones(job):
        phones = db.session.execute(
            select(PatientImportRow.row_number, PatientImportRow.data["phone"].as_string(),
                   PatientImportRow.patient_id, PatientImportRow.action, PatientImportRow.outcome)
            .where(PatientImportRow.job_id == job.id, _phone_check_condition())
            .order_by(PatientImportRow.row_number).limit(REPORT_ROW_LIMIT + 1)
        ).all()
    return {"id": job.id, "status": job.status, "counts": dict(job.counts or {}), "error": job.error,
            "rows": rows, "rows_truncated": len(stored) > REPORT_ROW_LIMIT,
            "phone_check_rows": [{"row": number, "phone": phone, "patient_id": patient_id, "action": action,
                                  "outcome": outcome} for number, phone, patient_id, action, outcome
                                 in phones[:REPORT_ROW_LIMIT]],
            "phone_check_truncated": len(phones) > REPORT_ROW_LIMIT}


def row_state_labels():
    """What a person reads for each row action and outcome (and "total" for the row count), in the current
    language: for the import's counts, its table and the problem-rows CSV, which never show the codes."""
    return {"total": _("rows"), "create": _("new"), "link": _("link"), "update": _("update"),
            "unchanged": _("unchanged"), "flagged": _("to check"), "invalid": _("invalid"), "created": _("created"),
            "linked": _("linked"), "updated": _("updated"), "skipped": _("skipped"),
            "phone_check": _("Check phone number")}


def problem_rows_csv(job) -> str:
    """The flagged, invalid and skipped rows, and those whose phone number was kept as entered, as CSV for Excel
    (see spreadsheet_csv; encode the string as UTF-8): row number, action and outcome (as row_state_labels words),
    reason ("Check phone number" for a phone kept as entered), then the row's raw cells under the file's headers.
    The headers and cells come from the uploaded file, so all of them are written formula-safe."""
    headers = list(job.headers or [])
    stored = db.session.scalars(_problem_rows_query(job, phones=True)).all()
    extra = list(dict.fromkeys(key for row in stored for key in (row.raw or {}) if key not in headers))
    labels = row_state_labels()
    header_row = [_("Row"), _("Action"), _("Outcome"), _("Reason"), *headers, *extra]
    return spreadsheet_csv([header_row, *([row.row_number, labels[row.action], labels.get(row.outcome, ""),
                                           _csv_reason(row, labels),
                                           *((row.raw or {}).get(name) for name in (*headers, *extra))]
                                          for row in stored)])


def _csv_reason(row, labels):
    """A stored row's reason for the CSV; "Check phone number" is added for a valid row whose phone was kept as
    entered."""
    if "invalid" in (row.action, row.outcome) or not phone_needs_check((row.data or {}).get("phone")):
        return row.reason
    return f"{row.reason} {labels['phone_check']}" if row.reason else labels["phone_check"]
