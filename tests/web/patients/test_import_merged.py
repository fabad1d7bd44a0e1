"""The import never matches a record that was merged into another: a row with a merged record's email, patient
ID or name leads to the record it was merged into (the survivor), through the upload pages, the worker, the API
and the booking tool's single records, and a merged record is never restored."""

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.patients.importing.models import PatientImportRow
from app.patients.importing.service import import_records, run_import_job
from app.patients.importing.single import apply_patient_record
from app.patients.models import Patient
from app.platform.database import utcnow
from app.platform.jobs.queue import claim_next
from app.platform.security.actor import Actor
from tests.web.patients.test_import import csv_bytes, fresh, upload

HEADER = ["Vorname", "Nachname", "E-Mail", "Handy", "Geburtsdatum"]
MAPPING = {"first_name": "Vorname", "last_name": "Nachname", "email": "E-Mail", "phone": "Handy",
           "birth_date": "Geburtsdatum"}


@pytest.fixture
def merged(make_patient, db):
    """Lena Becker's duplicate record (old email) merged into her record, as app.patients.merge leaves it:
    archived, booking link removed, ``merged_into_id`` set."""
    survivor = make_patient(first_name="Lena", last_name="Becker", birth_date=date(1985, 4, 12),
                            email="lena@example.test", booking_system_id="B-9")
    duplicate = make_patient(first_name="Lena", last_name="Becker", birth_date=date(1985, 4, 12),
                             email="lena.alt@example.test", archived_at=utcnow(), merged_into_id=survivor.id)
    db.session.commit()
    return SimpleNamespace(survivor=survivor.id, duplicate=duplicate.id)


def preview(client, auth, db, rows):
    """Upload ``rows`` as an admin and check them with MAPPING; the job id and its rows by row number."""
    auth.login()
    response = upload(client, csv_bytes([HEADER, *rows]))
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert client.post(f"/patients/import/{job_id}", data=MAPPING).status_code == 303
    db.session.expire_all()
    stored = db.session.scalars(select(PatientImportRow).where(PatientImportRow.job_id == job_id)).all()
    return job_id, {row.row_number: row for row in stored}


def test_a_row_with_a_merged_records_email_updates_the_survivor(client, auth, english, db, merged):
    """The old email of the merged record is matched to the survivor (update, not "archived: linking restores"),
    and after the import the survivor has the new phone while the merged record stays archived and merged."""
    job_id, rows = preview(client, auth, db, [["Lena", "Becker", "lena.alt@example.test", "0170 1234567",
                                               "12.04.1985"]])
    assert (rows[2].action, rows[2].patient_id) == ("update", merged.survivor)
    assert rows[2].reason == "Changes: Phone."
    assert client.post(f"/patients/import/{job_id}/start", data={}).status_code == 303
    run_import_job(claim_next("test-worker"), lambda done, total: None)
    survivor, duplicate = fresh(db, Patient, merged.survivor), fresh(db, Patient, merged.duplicate)
    assert survivor.phone == "+491701234567" and survivor.archived_at is None
    assert survivor.email == "lena@example.test", "the merged record's old email does not replace the survivor's"
    assert duplicate.archived_at is not None and duplicate.merged_into_id == merged.survivor
    assert duplicate.phone is None and db.session.scalar(select(PatientImportRow.outcome).where(
        PatientImportRow.job_id == job_id)) == "updated"


def test_a_row_without_email_counts_the_merged_pair_as_one_patient(client, auth, english, db, merged):
    """Same name and birth date as the survivor and its merged duplicate: one patient, not "2 existing patients";
    the row is flagged against the survivor only."""
    _job_id, rows = preview(client, auth, db, [["Lena", "Becker", "", "0170 1234567", "12.04.1985"]])
    assert (rows[2].action, rows[2].patient_id) == ("flagged", merged.survivor)
    assert "2 existing" not in rows[2].reason


def test_a_link_chosen_before_a_merge_never_restores_the_merged_record(client, auth, english, db, make_patient):
    """A row flagged against an archived record and linked by the admin; the record is merged before the import
    runs: the row now matches the survivor (its email is known there, so nothing changes), and the merged record
    stays archived."""
    survivor = make_patient(first_name="Jörg", last_name="Schulz", email="joerg@example.test")
    archived = make_patient(first_name="Jörg", last_name="Schulz", email="j.schulz@example.test",
                            archived_at=utcnow())
    db.session.commit()
    archived_id, survivor_id = archived.id, survivor.id
    job_id, rows = preview(client, auth, db, [["Jörg", "Schulz", "j.schulz@example.test", "", ""]])
    assert (rows[2].action, rows[2].patient_id) == ("flagged", archived_id)
    assert client.post(f"/patients/import/{job_id}/rows/{rows[2].id}/resolve",
                       data={"resolution": "link"}).status_code == 200
    assert client.post(f"/patients/import/{job_id}/start", data={}).status_code == 303
    fresh(db, Patient, archived_id).merged_into_id = survivor_id
    db.session.commit()
    run_import_job(claim_next("test-worker"), lambda done, total: None)
    assert fresh(db, Patient, archived_id).archived_at is not None
    row = db.session.scalar(select(PatientImportRow).where(PatientImportRow.job_id == job_id))
    assert (row.outcome, row.patient_id) == ("unchanged", survivor_id)
    assert fresh(db, Patient, survivor_id).email == "joerg@example.test"


def test_merges_are_followed_to_the_last_survivor(db, make_patient, make_user, merged):
    """Lena's record merged in turn into a third one: her duplicate's email leads to that one (API import)."""
    last = make_patient(first_name="Lena", last_name="Becker-Neu", email="lena.neu@example.test")
    db.session.commit()
    middle = fresh(db, Patient, merged.survivor)
    middle.merged_into_id, middle.archived_at = last.id, utcnow()
    db.session.commit()
    report = import_records(Actor(make_user()), [{"first_name": "Lena", "last_name": "Becker-Neu",
                                                  "email": "lena.alt@example.test", "phone": "0170 7654321"}],
                            dry_run=False)
    assert report["counts"]["updated"] == 1 and report["rows"] == []
    assert fresh(db, Patient, last.id).phone == "+491707654321"
    assert fresh(db, Patient, merged.survivor).phone is None


def test_the_booking_tools_record_with_a_merged_email_updates_the_survivor(db, make_user, merged):
    """A single record from the booking tool (narrowed index) reads the survivor of a merged candidate."""
    action, patient_id, review = apply_patient_record(
        Actor(make_user()), {"first_name": "Lena", "last_name": "Becker", "email": "lena.alt@example.test",
                             "phone": "0170 5555555", "booking_system_id": "B-9"})
    db.session.commit()
    assert (action, patient_id, review) == ("update", merged.survivor, None)
    assert fresh(db, Patient, merged.survivor).phone == "+491705555555"
    assert fresh(db, Patient, merged.duplicate).archived_at is not None
