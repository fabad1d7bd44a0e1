"""bulk_insert and bulk_update (app.platform.database): the import's write paths, COPY and unnest on PostgreSQL and
executemany elsewhere, must store exactly what an ordinary INSERT or UPDATE would."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import StatementError

from app.patients.importing.models import PatientImportJob, PatientImportRow
from app.platform.database import bulk_insert, bulk_update, reserve_ids

ROWS = PatientImportRow.__table__


def _job(db, practice):
    job = PatientImportJob(practice_id=practice.id, file_name="f.csv", status="previewed")
    db.session.add(job)
    db.session.commit()
    return job


def _stored(db, job):
    columns = (ROWS.c.row_number, ROWS.c.raw, ROWS.c.data, ROWS.c.action, ROWS.c.reason, ROWS.c.patient_id,
               ROWS.c.outcome)
    return [tuple(row) for row in db.session.execute(select(*columns).where(ROWS.c.job_id == job.id)
                                                     .order_by(ROWS.c.row_number))]


def test_bulk_insert_stores_what_an_insert_stores(db, practice, make_patient):
    """JSON, text with tabs, newlines, backslashes and quotes, umlauts, NULLs and integers come back as an
    ordinary INSERT stores them, on either database (COPY's text format escapes them on PostgreSQL)."""
    job = _job(db, practice)
    patient = make_patient()
    tricky = 'Tab\there\nnew line; "quoted" \\ backslash, \\N, Müller'
    rows = [
        {"job_id": job.id, "row_number": 1, "raw": {"Vorname": tricky, "leer": None}, "data": {"n": [1, 2]},
         "action": "create", "reason": None, "patient_id": None, "outcome": None},
        {"job_id": job.id, "row_number": 2, "raw": {}, "data": {"text": tricky}, "action": "invalid",
         "reason": tricky, "patient_id": patient.id, "outcome": "invalid"},
    ]
    connection = db.session.connection()
    bulk_insert(connection, ROWS, rows)
    bulk_insert(connection, ROWS, [])
    db.session.commit()
    copied = _stored(db, job)
    other = _job(db, practice)
    db.session.execute(insert(ROWS), [dict(row, job_id=other.id) for row in rows])
    db.session.commit()
    assert copied == _stored(db, other)
    assert copied[0][1] == {"Vorname": tricky, "leer": None} and copied[1][4] == tricky


def test_bulk_insert_converts_timestamps_like_the_column_type(db, practice):
    """UTC timestamps go through the column type (UTCDateTime), and a naive one is refused as in an INSERT."""
    from app.patients.models import Patient

    moment = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
    values = {"practice_id": practice.id, "first_name": "Ada", "last_name": "Lovelace", "source": "import",
              "search_text": "ada lovelace", "birth_date": date(1990, 12, 10), "created_at": moment,
              "updated_at": moment}
    bulk_insert(db.session.connection(), Patient.__table__, [values])
    db.session.commit()
    stored = db.session.scalars(select(Patient).where(Patient.last_name == "Lovelace")).one()
    assert (stored.created_at, stored.birth_date) == (moment, date(1990, 12, 10))
    naive = dict(values, last_name="Naiv", created_at=moment.replace(tzinfo=None))
    with pytest.raises((ValueError, StatementError), match="naive datetime"):
        bulk_insert(db.session.connection(), Patient.__table__, [naive])
    db.session.rollback()


def test_bulk_update_changes_the_given_rows_and_columns_only(db, practice, make_patient):
    """Each row is updated by its id with its own values; columns not given and rows not named stay."""
    job = _job(db, practice)
    patient = make_patient()
    rows = [{"job_id": job.id, "row_number": number, "raw": {}, "data": {}, "action": "create", "reason": None,
             "patient_id": None, "outcome": None} for number in (1, 2, 3)]
    bulk_insert(db.session.connection(), ROWS, rows)
    db.session.commit()
    ids = db.session.scalars(select(ROWS.c.id).where(ROWS.c.job_id == job.id).order_by(ROWS.c.row_number)).all()
    connection = db.session.connection()
    bulk_update(connection, ROWS, [{"id": ids[0], "outcome": "created", "patient_id": patient.id},
                                   {"id": ids[2], "outcome": "skipped", "patient_id": None}])
    bulk_update(connection, ROWS, [])
    db.session.commit()
    assert [(action, patient_id, outcome) for _n, _r, _d, action, _reason, patient_id, outcome
            in _stored(db, job)] == [("create", patient.id, "created"), ("create", None, None),
                                     ("create", None, "skipped")]


def _patient_values(practice, last_name, patient_id=None):
    """The columns of a new patient for bulk_insert, with ``patient_id`` as its id when given."""
    from app.patients.models import build_search_text

    moment = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
    values = {"practice_id": practice.id, "first_name": "Ada", "last_name": last_name, "source": "import",
              "search_text": build_search_text("Ada", last_name, None, None, None, None), "created_at": moment,
              "updated_at": moment}
    return values if patient_id is None else dict(values, id=patient_id)


def test_reserved_ids_are_fresh_and_never_handed_out_again(db, practice, make_patient):
    """reserve_ids gives ids no patient has; a bulk insert under them stores them, and the next ordinary insert
    and the next reservation get other ids."""
    from app.patients.models import Patient

    existing = make_patient()
    connection = db.session.connection()
    ids = reserve_ids(connection, Patient.__table__, 3)
    assert len(set(ids)) == 3 and existing.id not in ids and reserve_ids(connection, Patient.__table__, 0) == []
    bulk_insert(connection, Patient.__table__, [_patient_values(practice, f"Res{n}", n) for n in ids])
    db.session.commit()
    stored = db.session.scalars(select(Patient.id).where(Patient.last_name.like("Res%"))).all()
    assert sorted(stored) == sorted(ids)
    later = make_patient()
    assert later.id not in ids
    assert not set(reserve_ids(db.session.connection(), Patient.__table__, 2)) & {*ids, later.id, existing.id}
    db.session.rollback()


def test_a_failed_bulk_insert_keeps_the_search_index_up_to_date(db, practice, make_user):
    """When a batch fails inside bulk_search_indexing, the rollback restores SQLite's per-row index trigger (pysqlite
    would otherwise have committed dropping it at once), so patients created later are still found."""
    from app.patients.models import SQLITE_SEARCH_INDEX, Patient
    from app.patients.service import search_patients
    from app.platform.database import bulk_search_indexing

    admin = make_user(role="admin")
    connection = db.session.connection()
    with pytest.raises(RuntimeError), bulk_search_indexing(connection, "patients", "search_text",
                                                          SQLITE_SEARCH_INDEX):
        bulk_insert(connection, Patient.__table__, [_patient_values(practice, "Zwischenfall")])
        raise RuntimeError("the batch failed")
    db.session.rollback()
    db.session.add(Patient(**_patient_values(practice, "Nachzuegler")))
    db.session.commit()

    def found(text):
        return [patient.last_name for patient in db.session.scalars(search_patients(admin, text).query)]

    assert found("nachzuegler") == ["Nachzuegler"]
    assert found("zwischenfall") == []
