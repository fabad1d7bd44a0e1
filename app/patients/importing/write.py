"""Patient import, writing: new and changed patients, the import's rows and their outcomes, all in bulk.

Rows are written with executemany statements (COPY on PostgreSQL) in batches, so the number of statements does
not grow with the number of rows; the callers in service decide the batches and commit.
"""

from sqlalchemy import insert, update

from app.patients.importing.derive import search_text, sort_name
from app.patients.importing.models import PatientImportRow
from app.patients.importing.plan import VALUE_FIELDS
from app.patients.models import SQLITE_SEARCH_INDEX, Patient
from app.platform.database import bulk_insert, bulk_search_indexing, bulk_update, reserve_ids, utcnow
from app.platform.extensions import db

# Rows per executemany statement.
BATCH_SIZE = 5000
# Fewer new patients than this (a webhook's one, a small file) are inserted as such: SQLite's per-row index
# trigger costs less than the bulk path's DROP and CREATE TRIGGER, which also make every other connection read
# the schema again; on PostgreSQL an INSERT ... RETURNING is two round trips less than reserving ids and a COPY.
BULK_MIN_ROWS = 50


def new_patient(values, practice_id, therapist_id, source, now):
    """The column values of a new patient from a row (the booking email is the row's email when it has a booking
    id; the search text is kept in step)."""
    email = values["email"]
    return {
        "practice_id": practice_id, "first_name": values["first_name"], "last_name": values["last_name"],
        "email": email, "email_normalized": email.lower() if email else None, "phone": values["phone"],
        "birth_date": values["birth_date"], "therapist_id": therapist_id,
        "booking_system_id": values["booking_system_id"],
        "booking_email": email if values["booking_system_id"] else None, "source": source,
        "search_text": search_text(values["first_name"], values["last_name"], email, values["phone"],
                                   values["birth_date"], values["booking_system_id"]),
        "sort_name": sort_name(values["last_name"], values["first_name"]),
        "created_at": now, "updated_at": now,
    }


def _patient_update(row, now):
    """The UPDATE parameters of a matched row: its changes, the derived email and search text, and the time."""
    target, changes = row.target, dict(row.changes)
    if "email" in changes:
        changes["email_normalized"] = changes["email"].lower()
    merged = {name: changes.get(name, getattr(target, name)) for name in (*VALUE_FIELDS, "booking_system_id")}
    changes["search_text"] = search_text(merged["first_name"], merged["last_name"], merged["email"],
                                         merged["phone"], merged["birth_date"], merged["booking_system_id"])
    changes["sort_name"] = sort_name(merged["last_name"], merged["first_name"])
    return {"id": target.id, **changes, "updated_at": now}


def apply_rows(rows, practice_id, therapist_id, source):
    """Write one batch of planned rows: new patients with one bulk insert (bulk_insert: COPY on PostgreSQL) under
    ids reserved beforehand (reserve_ids), so each row knows its patient without reading the batch back, or below
    BULK_MIN_ROWS with one INSERT that returns the ids; changed ones with executemany UPDATEs by primary key
    (grouped by the set of changed columns). The caller commits."""
    now = utcnow()
    creates = [row for row in rows if row.operation == "create"]
    if creates:
        new_patients = [new_patient(row.values, practice_id, therapist_id, source, now) for row in creates]
        connection = db.session.connection()
        if len(creates) >= BULK_MIN_ROWS:
            with bulk_search_indexing(connection, "patients", "search_text", SQLITE_SEARCH_INDEX):
                ids = reserve_ids(connection, Patient.__table__, len(creates))
                for patient, patient_id in zip(new_patients, ids, strict=True):
                    patient["id"] = patient_id
                bulk_insert(connection, Patient.__table__, new_patients)
        else:
            # One statement: the ids come back in the rows' order (no round trip to reserve them first).
            ids = connection.execute(insert(Patient.__table__).returning(
                Patient.__table__.c.id, sort_by_parameter_order=True), new_patients).scalars().all()
        for row, patient_id in zip(creates, ids, strict=True):
            row.patient_id = patient_id
    updates = [_patient_update(row, now) for row in rows if row.operation == "update"]
    if updates:
        db.session.execute(update(Patient), updates)


ROW_TABLE = PatientImportRow.__table__


def _row_values(job_id, row):
    """The PatientImportRow columns of a row."""
    return {"job_id": job_id, "row_number": row.number, "raw": row.raw, "data": row.data, "action": row.action,
            "reason": row.reason, "patient_id": row.patient_id, "resolution": row.resolution,
            "outcome": row.outcome}


def insert_rows(job_id, rows):
    """Store rows as PatientImportRow in batches (bulk_insert: COPY on PostgreSQL)."""
    connection = db.session.connection()
    for start in range(0, len(rows), BATCH_SIZE):
        bulk_insert(connection, ROW_TABLE, [_row_values(job_id, row) for row in rows[start:start + BATCH_SIZE]])


def save_outcomes(rows):
    """Write the final action, reason, patient and outcome of a batch of stored rows, with one bulk update
    (bulk_update: one statement on PostgreSQL). One pass: each row is rewritten once."""
    bulk_update(db.session.connection(), ROW_TABLE, [
        {"id": row.db_id, "action": row.action, "reason": row.reason, "patient_id": row.patient_id,
         "outcome": row.outcome} for row in rows
    ])
