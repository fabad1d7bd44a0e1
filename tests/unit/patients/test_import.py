"""The patient import service: reading messy CSV files, guessing the mapping, the dry-run plan per row, the
admin's resolutions, the background commit, the JSON API import, reports, tenant isolation and the number of SQL
statements (which must not grow with the number of rows)."""

import csv
import io
import logging
import sys
from datetime import date
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from app.patients.fields import PATIENT_FIELDS
from app.patients.importing import service, validate
from app.patients.importing.decode import ImportFileError
from app.patients.importing.headers import guess_mapping
from app.patients.importing.models import PatientImportJob, PatientImportRow
from app.patients.importing.report import import_report, problem_rows_csv
from app.patients.importing.service import (
    create_csv_import,
    import_records,
    preview_import,
    queue_import,
    resolve_flagged_row,
    run_import_job,
)
from app.patients.models import Patient
from app.platform.audit.models import AuditEntry
from app.platform.errors import ServiceError
from app.platform.security.actor import Actor
from tests.helpers import audit_actions

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MESSY = FIXTURES / "patients_messy_utf8_bom.csv"
WINDOWS = FIXTURES / "patients_windows1252.csv"


# ---------------------------------------------------------------------------------------------------------------
# helpers


class WorkerJob:
    """Stands in for the worker's Job row: a payload naming the import job, and its practice."""

    def __init__(self, import_job):
        self.payload = {"import_job_id": import_job.id}
        self.practice_id = import_job.practice_id


class Progress:
    """A progress callback that remembers every call."""

    def __init__(self):
        self.calls = []

    def __call__(self, done, total):
        self.calls.append((done, total))


pytestmark = pytest.mark.usefixtures("english_messages")


@pytest.fixture
def admin(make_user):
    """An admin of the test practice."""
    return make_user(role="admin")


@pytest.fixture
def actor(admin):
    """The admin as an Actor."""
    return Actor(admin, ip="127.0.0.1", user_agent="pytest")


@pytest.fixture
def enqueued(monkeypatch):
    """Record the worker jobs queue_import enqueues ."""
    calls = []

    def enqueue(kind, payload, practice_id=None, **kwargs):
        calls.append((kind, payload, practice_id))

    from app.platform.jobs import queue

    monkeypatch.setattr(queue, "enqueue", enqueue)
    return calls


def csv_bytes(rows, delimiter=";", encoding="utf-8-sig"):
    """CSV file content from a list of rows (the first one is the header)."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def upload_and_preview(actor, content, file_name="patienten.csv", mapping=None):
    """Upload a file and preview it with the guessed (or given) mapping."""
    job = create_csv_import(actor, file_name, content)
    return preview_import(actor, job, mapping or job.mapping)


def rows_by_number(db, job):
    """The job's stored rows by row number."""
    rows = db.session.scalars(select(PatientImportRow).where(PatientImportRow.job_id == job.id)).all()
    return {row.row_number: row for row in rows}


def run(job):
    """Queue-less commit: call the worker handler directly, as the worker would."""
    job.status = "queued"
    progress = Progress()
    run_import_job(WorkerJob(job), progress)
    return progress


def patient_count(db, practice):
    """How many patients the practice has."""
    return db.session.scalar(select(func.count()).select_from(Patient).where(Patient.practice_id == practice.id))


@pytest.fixture
def messy_world(make_patient):
    """Existing patients that give each row of the messy fixture file its expected action."""
    return {
        # row 2: same data, but no booking link yet -> link
        "anna": make_patient(first_name="Anna", last_name="Müller", email="anna.mueller@example.de",
                             phone="+491701234567", birth_date=date(1985, 3, 12)),
        # row 3: booking id matches, phone differs -> update
        "ben": make_patient(first_name="Ben", last_name="Schneider", email="ben@example.de",
                            phone="+49301111111", birth_date=date(1990, 7, 1), booking_system_id="B-1002",
                            booking_email="ben@example.de"),
        # row 4: email matches ignoring case, nothing new (empty phone cell keeps the stored phone) -> unchanged
        "clara": make_patient(first_name="Clara", last_name="Fischer", email="Clara.Fischer@example.de",
                              phone="+491609999999", birth_date=date(1978, 2, 1)),
        # row 5: same name and birth date, another email -> flagged
        "dieter": make_patient(first_name="Dieter", last_name="Weber", email="dieter@alt.example.de",
                               birth_date=date(1960, 6, 5)),
    }


EXPECTED_MESSY_ACTIONS = {2: "link", 3: "update", 4: "unchanged", 5: "flagged", 6: "create", 7: "invalid",
                          8: "invalid", 10: "create"}


# ---------------------------------------------------------------------------------------------------------------
# reading files and guessing the mapping


def test_messy_file_is_read_and_every_row_classified(db, actor, messy_world):
    """BOM, semicolons, a quoted line break, DD.MM.YY dates, a duplicate, a flagged and an invalid row."""
    job = create_csv_import(actor, "C:\\Users\\praxis\\Export.csv", MESSY.read_bytes())
    assert job.file_name == "Export.csv"
    assert (job.encoding, job.delimiter) == ("utf-8", ";")
    assert job.headers == ["Vorname", "Nachname", "E-Mail", "Handy", "Geburtsdatum", "Patienten-ID", "Notiz"]
    assert job.mapping == {"first_name": "Vorname", "last_name": "Nachname", "email": "E-Mail", "phone": "Handy",
                           "birth_date": "Geburtsdatum", "booking_system_id": "Patienten-ID"}
    assert job.status == "uploaded" and job.counts == {"total": 8}

    preview_import(actor, job, job.mapping)
    rows = rows_by_number(db, job)
    assert {number: row.action for number, row in rows.items()} == EXPECTED_MESSY_ACTIONS
    assert job.status == "previewed"
    assert job.counts == {"total": 8, "create": 2, "link": 1, "update": 1, "unchanged": 1, "flagged": 1,
                          "invalid": 2}
    assert job.progress_total == 8
    # raw cells as typed (the quoted line break survives), normalised data with ISO dates
    assert rows[2].raw["Notiz"] == "Allergie:\r\nPollen"
    assert rows[2].data["birth_date"] == "1985-03-12" and rows[2].data["phone"] == "+491701234567"
    assert rows[2].patient_id == messy_world["anna"].id
    assert rows[3].patient_id == messy_world["ben"].id and "Phone" in rows[3].reason
    assert rows[5].patient_id == messy_world["dieter"].id
    assert "Dieter Weber" in rows[5].reason and "another email" in rows[5].reason
    # the phone "0173" is kept as typed (to be checked), never a reason to refuse the row
    assert rows[7].reason.startswith("E-Mail:") and "Handy:" not in rows[7].reason and "Geburtsdatum:" in rows[7].reason
    assert rows[7].data["phone"] == "0173"
    assert rows[8].reason == "Duplicate of row 2 (same email address)."
    assert rows[10].raw["Vorname"] == "  Gül  " and rows[10].data["first_name"] == "Gül"
    assert rows[10].data["birth_date"] == "1970-01-01"
    assert rows[10].raw["Notiz"] == 'Notiz mit "Anführungszeichen"'
    # the dry run wrote no patient
    assert patient_count(db, actor.user.practice) == 4


def test_windows_1252_file_with_commas(db, actor):
    """Windows-1252 umlauts are decoded, commas recognised, a quoted comma stays in its cell, English headers."""
    job = upload_and_preview(actor, WINDOWS.read_bytes())
    assert (job.encoding, job.delimiter) == ("windows-1252", ",")
    assert job.mapping["birth_date"] == "Date of birth" and job.mapping["booking_system_id"] == "ID"
    rows = rows_by_number(db, job)
    assert rows[2].data["first_name"] == "Jürgen" and rows[2].data["last_name"] == "Weiß"
    assert rows[3].data["last_name"] == "Ångström" and rows[3].data["booking_system_id"] == "X-7"
    assert rows[4].data["first_name"] == "Hans, Peter"
    assert [row.action for row in rows.values()] == ["create", "create", "create"]


def test_utf8_without_bom_and_iso_dates(db, actor):
    """Plain UTF-8 without BOM is read as UTF-8, YYYY-MM-DD dates are accepted."""
    content = csv_bytes([["Vorname", "Nachname", "Geburtsdatum"], ["Jörg", "Köhler", "2001-05-06"]],
                        encoding="utf-8")
    job = upload_and_preview(actor, content)
    row = rows_by_number(db, job)[2]
    assert job.encoding == "utf-8" and row.data["first_name"] == "Jörg" and row.data["birth_date"] == "2001-05-06"


@pytest.mark.parametrize(("headers", "expected"), [
    (["Vorname", "Nachname", "E-Mail", "Telefon", "Geburtsdatum", "Patienten-ID"],
     ["Vorname", "Nachname", "E-Mail", "Telefon", "Geburtsdatum", "Patienten-ID"]),
    (["First name", "Last name", "Email", "Phone", "Date of birth", "ID"],
     ["First name", "Last name", "Email", "Phone", "Date of birth", "ID"]),
    (["  VORNAME ", "nachname", "e mail", "Handy", "Geb.-Datum", "Patient ID"],
     ["  VORNAME ", "nachname", "e mail", "Handy", "Geb.-Datum", "Patient ID"]),
    (["Mobil", "Surname", "FirstName", "E_Mail_Adresse", "Geburtstag", "Kundennummer"],
     ["FirstName", "Surname", "E_Mail_Adresse", "Mobil", "Geburtstag", "Kundennummer"]),
    (["Name", "Vorname", "Telefon privat", "Notiz"], ["Vorname", "Name", None, "Telefon privat", None, None]),
    (["Familienname", "Rufname", "Mobilnummer", "geboren"],
     ["Rufname", "Familienname", None, "Mobilnummer", "geboren", None]),
    (["Spalte A", "Spalte B"], [None] * 6),
])
def test_guess_mapping_german_and_english(headers, expected):
    """Synonyms in both languages, ignoring case, spaces, punctuation and umlauts; unknown headers map to nothing."""
    assert guess_mapping(headers) == dict(zip(PATIENT_FIELDS, expected, strict=True))


def test_guess_mapping_uses_each_header_once_and_prefers_exact_names():
    """Two phone columns: the leftmost wins; a weak synonym ("Name") never beats a real one ("Nachname")."""
    mapping = guess_mapping(["Name", "Nachname", "Vorname", "Telefon", "Handy"])
    assert mapping["last_name"] == "Nachname" and mapping["phone"] == "Telefon"
    assert len([value for value in mapping.values() if value]) == len({value for value in mapping.values() if value})


BAD_FILES = [
    ("too_large", lambda: b"Vorname;Nachname\r\n" + b"Anna;Muster\r\n" * 200,
     "larger than the limit of 1 KB"),
    ("empty", lambda: b"", "The file is empty."),
    ("empty", lambda: b"\xef\xbb\xbf\r\n  \r\n", "The file is empty."),
    ("not_csv", lambda: b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 50, "Excel"),
    ("not_csv", lambda: b"%PDF-1.7\n", "not a CSV file"),
    ("not_csv", lambda: b"Liebe Kolleginnen\nhier die Liste\n", "no column separator"),
    ("undecodable", lambda: b"Vorname;Nachname\r\nAnna;M\x81ller\r\n", "cannot be read as text"),
    ("undecodable", lambda: b"Vorname;Nachname\r\nAnna;Mu\x00ller\r\n", "not text (line 2)"),
    ("undecodable", lambda: "Vorname;Nachname".encode("utf-16"), "UTF-16"),
    ("no_rows", lambda: b"Vorname;Nachname;E-Mail\r\n\r\n", "no patient rows"),
    ("missing_column", lambda: b"E-Mail;Telefon\r\nanna@example.de;0170 1234567\r\n", "no column for First name"),
    ("missing_column", lambda: b"Vorname\r\nAnna\r\n", "no column for Last name"),
]


@pytest.mark.parametrize(("code", "content", "message"), BAD_FILES)
def test_bad_files_are_refused_with_a_clear_message(app, db, actor, code, content, message):
    """Each kind of bad upload raises ImportFileError with its code and message, and stores nothing."""
    app.config["PATIENT_IMPORT_MAX_BYTES"] = 1024
    with pytest.raises(ImportFileError) as error:
        create_csv_import(actor, "liste.csv", content())
    assert error.value.code == code
    assert message in error.value.message
    assert db.session.scalar(select(func.count()).select_from(PatientImportJob)) == 0
    assert "patients.import_upload" not in audit_actions(db)


def test_size_limit_defaults_to_20_mb(app, actor):
    """Without the setting the limit is 20 MB."""
    app.config.pop("PATIENT_IMPORT_MAX_BYTES", None)
    with pytest.raises(ImportFileError, match="20 MB"):
        create_csv_import(actor, "gross.csv", b"Vorname;Nachname\r\n" + b"x" * (20 * 1024 * 1024))


def test_upload_is_audited(db, actor):
    """The upload is in the audit log with the file's name and size, never its content."""
    job = create_csv_import(actor, "liste.csv", MESSY.read_bytes())
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "patients.import_upload"))
    assert entry.object_id == str(job.id) and entry.user_id == actor.user.id
    assert entry.meta["file_name"] == "liste.csv" and entry.meta["rows"] == 8
    assert "Müller" not in str(entry.meta)


@pytest.mark.parametrize(("change", "message"), [
    ({"phone": "Vorname"}, "chosen for both"),
    ({"first_name": None}, "First name"),
    ({"last_name": "Nachname (alt)"}, "no column"),
    ({"favourite_colour": "Notiz"}, "Unknown field"),
])
def test_preview_refuses_a_broken_mapping(db, actor, change, message):
    """A header used twice, a missing name column, an unknown header or field: ServiceError on "mapping"."""
    job = create_csv_import(actor, "liste.csv", MESSY.read_bytes())
    with pytest.raises(ServiceError) as error:
        preview_import(actor, job, {**job.mapping, **change})
    assert error.value.field == "mapping" and message in error.value.message
    assert job.status == "uploaded"


def test_preview_with_a_changed_mapping(db, actor):
    """The admin's mapping replaces the guess: an unmapped column is ignored, rows are re-planned."""
    job = create_csv_import(actor, "liste.csv", MESSY.read_bytes())
    preview_import(actor, job, {**job.mapping, "email": None, "phone": None})
    rows = rows_by_number(db, job)
    assert rows[7].reason.startswith("Geburtsdatum:")  # email and phone are no longer read
    assert rows[2].data["email"] is None
    preview_import(actor, job, job.mapping | {"email": "E-Mail"})
    assert len(rows_by_number(db, job)) == 8  # rows replaced, not added


def test_row_with_too_many_cells_is_invalid(db, actor):
    """An unquoted delimiter inside a value shifts cells; such a row is invalid, not misread."""
    content = b"Vorname,Nachname,E-Mail\r\nAnna,M\xc3\xbcller,a@example.de\r\nHans, Peter,Gro\xc3\x9f,h@example.de\r\n"
    job = upload_and_preview(actor, content)
    row = rows_by_number(db, job)[3]
    assert row.action == "invalid" and "more cells than the header" in row.reason


# ---------------------------------------------------------------------------------------------------------------
# classification rules


def plan_one(db, actor, **cells):
    """Preview a one-row file and return that row."""
    header = ["Vorname", "Nachname", "E-Mail", "Telefon", "Geburtsdatum", "Patienten-ID"]
    keys = ["first_name", "last_name", "email", "phone", "birth_date", "booking_system_id"]
    job = upload_and_preview(actor, csv_bytes([header, [cells.get(key, "") for key in keys]]))
    return rows_by_number(db, job)[2]


@pytest.mark.parametrize(("existing", "cells", "action", "reason"), [
    ({}, {"email": "neu@example.de"}, "create", None),
    ({"email": "anna@example.de"}, {"email": "ANNA@example.de", "booking_system_id": "B1"}, "link", "B1"),
    ({"email": "anna@example.de"}, {"email": "anna@example.de", "phone": "0170 1234567"}, "update", "Phone"),
    ({"email": "anna@example.de", "phone": "+491701234567"}, {"email": "anna@example.de"}, "unchanged", None),
    ({"booking_system_id": "B1", "email": "alt@example.de"}, {"booking_system_id": "B1", "email": "neu@example.de"},
     "update", "Email"),
    ({"email": "anna@example.de", "birth_date": date(1980, 1, 2)}, {"email": "x@example.de",
                                                                     "birth_date": "02.01.1980"}, "flagged",
     "another email"),
    ({"email": "anna@example.de", "archived": True}, {"email": "anna@example.de"}, "flagged", "archived"),
    ({"email": "familie@example.de", "first_name": "Max"}, {"email": "familie@example.de"}, "flagged",
     "first name differs"),
    ({"email": "anna@example.de", "booking_system_id": "B9"}, {"email": "anna@example.de",
                                                                "booking_system_id": "B1"}, "invalid",
     "linked to patient ID B9, not B1"),
    ({"birth_date": date(1980, 1, 2)}, {"birth_date": "02.01.80"}, "unchanged", None),
    ({"birth_date": date(1980, 1, 2)}, {"birth_date": "02.01.80", "phone": "0170 1234567"}, "flagged",
     "no email address or patient ID"),
    ({}, {"email": "kaputt@"}, "invalid", "not a valid email"),
    ({}, {"birth_date": "2999-01-01"}, "invalid", "future"),
])
def test_classification(db, actor, make_patient, existing, cells, action, reason):
    """Each action with the rule that produces it (Anna Muster unless said otherwise)."""
    existing = dict(existing)
    if existing or action != "create":
        archived = existing.pop("archived", False)
        existing.setdefault("first_name", "Anna")
        existing.setdefault("last_name", "Muster")
        patient = make_patient(**existing)
        if archived:
            from app.platform.database import utcnow

            patient.archived_at = utcnow()
            db.session.commit()
    cells.setdefault("first_name", "Anna")
    cells.setdefault("last_name", "Muster")
    row = plan_one(db, actor, **cells)
    assert row.action == action, row.reason
    if reason:
        assert reason in row.reason
    assert patient_count(db, actor.user.practice) == (1 if existing or action != "create" else 0)


def test_booking_id_and_email_of_two_different_patients_is_invalid(db, actor, make_patient):
    """The reason names both patients."""
    make_patient(first_name="Anna", last_name="Muster", booking_system_id="B1", email="anna@example.de")
    make_patient(first_name="Berta", last_name="Muster", email="berta@example.de")
    row = plan_one(db, actor, first_name="Anna", last_name="Muster", email="berta@example.de", booking_system_id="B1")
    assert row.action == "invalid"
    assert "B1 belongs to Anna Muster" in row.reason and "belongs to Berta Muster" in row.reason


def test_duplicates_within_the_file(db, actor):
    """The same booking id or email twice: the later row is invalid and names the earlier one."""
    content = csv_bytes([
        ["Vorname", "Nachname", "E-Mail", "ID"],
        ["Anna", "Muster", "anna@example.de", "B1"],
        ["Anne", "Muster", "anne@example.de", "B1"],
        ["Anna", "Muster", "ANNA@example.de", ""],
        ["Karl", "Ohne", "", ""],
        ["Karl", "Ohne", "", ""],
    ])
    job = upload_and_preview(actor, content)
    rows = rows_by_number(db, job)
    assert rows[3].reason == "Duplicate of row 2 (same patient ID)."
    assert rows[4].reason == "Duplicate of row 2 (same email address)."
    assert rows[6].reason == "Duplicate of row 5 (same name and birth date)."
    assert [rows[number].action for number in (2, 5)] == ["create", "create"]


# ---------------------------------------------------------------------------------------------------------------
# resolutions, queueing and the commit


def test_resolutions_are_checked_and_audited(db, actor, messy_world):
    """link/create/skip only for flagged rows of a previewed job; each decision is audited with row and patient."""
    job = upload_and_preview(actor, MESSY.read_bytes())
    rows = rows_by_number(db, job)
    with pytest.raises(ServiceError, match="Only flagged rows"):
        resolve_flagged_row(actor, job, rows[2], "skip")
    with pytest.raises(ServiceError) as error:
        resolve_flagged_row(actor, job, rows[5], "merge")
    assert error.value.field == "resolution"
    resolve_flagged_row(actor, job, rows[5], "link")
    assert rows[5].resolution == "link"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "patients.import_resolve"))
    assert entry.meta == {"row": 5, "resolution": "link", "patient_id": messy_world["dieter"].id}
    assert entry.patient_id == messy_world["dieter"].id


def test_queue_refuses_unresolved_flagged_and_invalid_rows(db, actor, messy_world, enqueued):
    """Flagged rows need a decision; invalid rows need valid_only; then the job is queued and audited."""
    job = upload_and_preview(actor, MESSY.read_bytes())
    rows = rows_by_number(db, job)
    with pytest.raises(ServiceError) as error:
        queue_import(actor, job, valid_only=True)
    assert error.value.code == "unresolved" and "1 flagged rows" in error.value.message
    resolve_flagged_row(actor, job, rows[5], "skip")
    with pytest.raises(ServiceError) as error:
        queue_import(actor, job, valid_only=False)
    assert error.value.code == "invalid_rows" and "2 rows are invalid" in error.value.message
    assert enqueued == []
    queue_import(actor, job, valid_only=True)
    assert job.status == "queued" and job.valid_only is True
    assert enqueued == [("patient_import", {"import_job_id": job.id}, job.practice_id)]
    assert audit_actions(db)[-1] == "patients.import_queue"
    with pytest.raises(ServiceError):
        resolve_flagged_row(actor, job, rows[5], "create")  # too late: queued


def test_queued_import_runs_in_the_worker(db, actor):
    """End to end through the real job queue: queue_import enqueues a "patient_import" job that a worker claims and
    runs with the registered handler; job progress and the import's status follow."""
    from app.platform.jobs.queue import claim_next, run_job

    job = upload_and_preview(actor, csv_bytes([["Vorname", "Nachname"], ["Anna", "Muster"], ["Bert", "Muster"]]))
    queue_import(actor, job, valid_only=False)
    worker_job = claim_next("test-worker")
    assert (worker_job.kind, worker_job.payload, worker_job.practice_id) == (
        "patient_import", {"import_job_id": job.id}, job.practice_id)
    run_job(worker_job)
    assert worker_job.status == "succeeded" and (worker_job.progress_done, worker_job.progress_total) == (2, 2)
    assert job.status == "succeeded" and job.counts["created"] == 2
    assert patient_count(db, actor.user.practice) == 2


def test_commit_applies_the_plan_and_reimport_changes_nothing(db, actor, practice, make_user, messy_world):
    """The worker handler writes in batches with progress, sets outcomes, counts and the audit entry;
    the same file imported again gives only unchanged rows (and invalid ones, which write nothing)."""
    therapist = make_user(role="therapist")
    practice.settings = {"default_therapist_id": therapist.id}
    db.session.commit()
    job = upload_and_preview(actor, MESSY.read_bytes())
    resolve_flagged_row(actor, job, rows_by_number(db, job)[5], "link")
    job.valid_only = True
    progress = run(job)

    assert job.status == "succeeded" and job.finished_at is not None and job.error is None
    assert progress.calls[0] == (0, 8) and progress.calls[-1] == (8, 8)
    assert (job.progress_done, job.progress_total) == (8, 8)
    assert job.counts == {"total": 8, "create": 2, "link": 1, "update": 1, "unchanged": 1, "flagged": 1,
                          "invalid": 2, "created": 2, "linked": 2, "updated": 1, "skipped": 0}
    rows = rows_by_number(db, job)
    assert {number: row.outcome for number, row in rows.items()} == {
        2: "linked", 3: "updated", 4: "unchanged", 5: "linked", 6: "created", 7: "invalid", 8: "invalid",
        10: "created"}

    anna, ben, clara, dieter = (db.session.get(Patient, messy_world[key].id)
                                for key in ("anna", "ben", "clara", "dieter"))
    assert (anna.booking_system_id, anna.booking_email) == ("B-1001", "anna.mueller@example.de")
    assert ben.phone == "+49301234567" and "49301234567" in ben.search_text
    assert clara.phone == "+491609999999"  # an empty cell never blanks out stored data
    # linked by hand: booking link and booking email set, the practice's email and data kept, empty phone filled
    assert (dieter.booking_system_id, dieter.booking_email) == ("B-1004", "dieter.neu@example.de")
    assert dieter.email == "dieter@alt.example.de" and dieter.phone == "+491712345678"
    eva = db.session.scalar(select(Patient).where(Patient.booking_system_id == "B-1005"))
    assert eva.id == rows[6].patient_id
    assert (eva.source, eva.therapist_id, eva.email_normalized, eva.booking_email) == (
        "import", therapist.id, "eva.wagner@example.de", "eva.wagner@example.de")
    assert eva.search_text == Patient(first_name="Eva", last_name="Wagner", email="eva.wagner@example.de",
                                      phone="+491723456789", birth_date=date(2001, 12, 24),
                                      booking_system_id="B-1005").refresh_search_text() or eva.search_text
    gul = db.session.get(Patient, rows[10].patient_id)
    assert (gul.first_name, gul.last_name, gul.booking_email) == ("Gül", "Öztürk", None)
    assert patient_count(db, practice) == 6
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "patients.import"))
    assert entry.user_id == actor.user.id and entry.meta["counts"] == job.counts and entry.meta["status"] == "succeeded"

    again = upload_and_preview(actor, MESSY.read_bytes())
    assert again.counts == {"total": 8, "create": 0, "link": 0, "update": 0, "unchanged": 6, "flagged": 0,
                            "invalid": 2}
    before = {patient.id: patient.updated_at for patient in db.session.scalars(select(Patient))}
    again.valid_only = True
    run(again)
    assert again.counts["unchanged"] == 6 and again.counts["created"] == again.counts["updated"] == 0
    assert patient_count(db, practice) == 6
    assert {patient.id: patient.updated_at for patient in db.session.scalars(select(Patient))} == before


def test_commit_replans_against_the_current_database(db, actor, make_patient):
    """A patient created after the preview is matched at the commit instead of being duplicated; a booking id and
    an email that meanwhile belong to two different patients make the row invalid at the commit."""
    content = csv_bytes([["Vorname", "Nachname", "E-Mail", "ID"], ["Anna", "Muster", "anna@example.de", ""],
                         ["Bernd", "Beispiel", "bernd@example.de", "B7"]])
    job = upload_and_preview(actor, content)
    assert job.counts["create"] == 2
    anna = make_patient(first_name="Anna", last_name="Muster", email="anna@example.de")
    make_patient(first_name="Carla", last_name="Dritte", email="carla@example.de", booking_system_id="B7")
    make_patient(first_name="Bernd", last_name="Beispiel", email="bernd@example.de")
    run(job)
    rows = rows_by_number(db, job)
    assert (rows[2].action, rows[2].outcome, rows[2].patient_id) == ("unchanged", "unchanged", anna.id)
    assert rows[3].outcome == "invalid" and "Carla Dritte" in rows[3].reason and "Bernd Beispiel" in rows[3].reason
    assert job.counts["created"] == 0 and patient_count(db, actor.user.practice) == 3


def test_flagged_resolutions_at_the_commit(db, actor, make_patient):
    """create makes a new patient, skip changes nothing, link to an archived patient restores it."""
    from app.platform.database import utcnow

    make_patient(first_name="Anna", last_name="Muster", email="anna@alt.de", birth_date=date(1980, 1, 2))
    make_patient(first_name="Bert", last_name="Muster", email="bert@alt.de", birth_date=date(1981, 1, 2))
    carla = make_patient(first_name="Carla", last_name="Muster", email="carla@example.de", archived_at=utcnow())
    content = csv_bytes([["Vorname", "Nachname", "E-Mail", "Geburtsdatum", "Telefon"],
                         ["Anna", "Muster", "anna@neu.de", "02.01.1980", ""],
                         ["Bert", "Muster", "bert@neu.de", "02.01.1981", ""],
                         ["Carla", "Muster", "carla@example.de", "", "0170 1234567"]])
    job = upload_and_preview(actor, content)
    rows = rows_by_number(db, job)
    assert [rows[number].action for number in (2, 3, 4)] == ["flagged"] * 3
    assert "archived" in rows[4].reason
    for number, resolution in ((2, "create"), (3, "skip"), (4, "link")):
        resolve_flagged_row(actor, job, rows[number], resolution)
    run(job)
    rows = rows_by_number(db, job)
    assert [rows[number].outcome for number in (2, 3, 4)] == ["created", "skipped", "linked"]
    carla = db.session.get(Patient, carla.id)
    assert carla.archived_at is None and carla.phone == "+491701234567"
    assert patient_count(db, actor.user.practice) == 4


def test_valid_only_imports_only_the_valid_rows(db, actor):
    """Invalid rows are reported and never written."""
    content = csv_bytes([["Vorname", "Nachname", "E-Mail"], ["Anna", "Muster", "anna@example.de"],
                         ["Bert", "", "bert@example.de"]])
    job = upload_and_preview(actor, content)
    job.valid_only = True
    run(job)
    assert job.counts["created"] == 1 and job.counts["invalid"] == 1
    assert db.session.scalar(select(Patient.email)) == "anna@example.de"


def test_failed_commit_is_recorded_and_reraised(db, actor, monkeypatch):
    """An exception marks the job failed with its error, is audited and re-raised for the worker; a rerun then
    completes the import."""
    job = upload_and_preview(actor, csv_bytes([["Vorname", "Nachname"], ["Anna", "Muster"]]))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    original = service.apply_rows
    monkeypatch.setattr(service, "apply_rows", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run(job)
    # The class and where it was raised, never the error's text: a database error quotes the file's data.
    assert job.status == "failed" and job.finished_at is not None
    assert job.error.startswith("RuntimeError at app/patients/importing/service.py:") and "disk" not in job.error
    assert audit_actions(db)[-1] == "patients.import"
    monkeypatch.setattr(service, "apply_rows", original)
    run_import_job(WorkerJob(job), Progress())
    assert job.status == "succeeded" and patient_count(db, actor.user.practice) == 1


def test_run_refuses_a_job_that_was_not_queued(db, actor):
    """The worker handler only runs queued (or failed) jobs; a finished one is left alone."""
    job = upload_and_preview(actor, csv_bytes([["Vorname", "Nachname"], ["Anna", "Muster"]]))
    with pytest.raises(ServiceError):
        run_import_job(WorkerJob(job), Progress())
    run(job)
    run_import_job(WorkerJob(job), Progress())
    assert patient_count(db, actor.user.practice) == 1


# ---------------------------------------------------------------------------------------------------------------
# reports


def test_ten_thousand_invalid_rows(db, actor, enqueued):
    """10,000 invalid rows: each has its reason, the report is capped, the CSV has them all, and the import is
    refused unless only the valid rows are imported (here: none)."""
    rows = [["Vorname", "Nachname", "E-Mail"]] + [[f"Anna{i}", "Muster", f"kaputt{i}@"] for i in range(10_000)]
    job = upload_and_preview(actor, csv_bytes(rows))
    assert job.counts["invalid"] == 10_000
    report = import_report(job)
    assert len(report["rows"]) == 1000 and report["rows_truncated"] is True
    assert report["rows"][0] == {"row": 2, "action": "invalid", "outcome": None, "patient_id": None,
                                 "resolution": None, "reason": "E-Mail: “kaputt0@” is not a valid email address."}
    assert problem_rows_csv(job).count("\r\n") == 10_001
    with pytest.raises(ServiceError, match="10000 rows are invalid"):
        queue_import(actor, job, valid_only=False)
    with pytest.raises(ServiceError, match="no valid rows"):
        queue_import(actor, job, valid_only=True)


def test_problem_rows_csv(db, actor, messy_world):
    """Semicolons, a BOM for Excel, the row number, action, reason and raw cells; formulas are defused."""
    content = csv_bytes([["Vorname", "Nachname", "E-Mail", "Telefon"], ["=HYPERLINK(1)", "", "x@", "+49 170 1"]])
    job = upload_and_preview(actor, content)
    text = problem_rows_csv(job)
    assert text.startswith("\ufeffRow;Action;Outcome;Reason;Vorname;Nachname;E-Mail;Telefon\r\n")
    line = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))[1]
    assert line[:3] == ["2", "invalid", ""] and "Nachname: This field is required." in line[3]
    assert line[4:] == ["'=HYPERLINK(1)", "", "x@", "+49 170 1"]
    assert import_report(job)["counts"]["invalid"] == 1
    with force_locale("de"):
        german = list(csv.reader(io.StringIO(problem_rows_csv(job)[1:]), delimiter=";"))
    assert german[0][:4] == ["Zeile", "Aktion", "Ergebnis", "Grund"] and german[1][:2] == ["2", "ungültig"]


# ---------------------------------------------------------------------------------------------------------------
# API import


def test_api_dry_run_writes_nothing(db, actor, make_patient):
    """dry_run plans with the same rules and writes no patient, job, row or audit entry."""
    make_patient(first_name="Anna", last_name="Muster", email="anna@example.de")
    before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    report = import_records(actor, [
        {"first_name": "Anna", "last_name": "Muster", "email": "anna@example.de", "patient_id": "B1"},
        {"first_name": "Bert", "last_name": "Neu", "birth_date": "1990-01-02", "phone": 1701234567},
        "kein Objekt",
    ], dry_run=True)
    assert report["dry_run"] is True and report["status"] == "dry_run" and report["id"] is None
    assert report["counts"] == {"total": 3, "create": 1, "link": 1, "update": 0, "unchanged": 0, "flagged": 0,
                                "invalid": 1, "phone_check": 1}
    assert report["rows"][0]["row"] == 3 and "JSON object" in report["rows"][0]["reason"]
    assert patient_count(db, actor.user.practice) == 1
    assert db.session.scalar(select(func.count()).select_from(PatientImportJob)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_api_import_applies_and_reports_flagged_rows(db, actor, make_patient):
    """Not a dry run: rows are applied at once (source "booking"), flagged rows are not applied and the report
    says so; invalid rows reject the call unless valid_only."""
    make_patient(first_name="Dora", last_name="Doppelt", email="dora@alt.de", birth_date=date(1970, 5, 5))
    records = [
        {"first_name": "Bert", "last_name": "Neu", "email": "bert@example.de", "booking_system_id": "B2"},
        {"first_name": "Dora", "last_name": "Doppelt", "email": "dora@neu.de", "birth_date": "1970-05-05"},
        {"first_name": "", "last_name": "Ohne"},
    ]
    rejected = import_records(actor, records, dry_run=False)
    assert rejected["status"] == "rejected" and "nothing was imported" in rejected["error"]
    assert patient_count(db, actor.user.practice) == 1

    report = import_records(actor, records, dry_run=False, valid_only=True)
    assert report["status"] == "succeeded" and report["dry_run"] is False
    assert report["counts"]["created"] == 1 and report["counts"]["skipped"] == 1
    assert "not imported" in report["note"]
    flagged = next(row for row in report["rows"] if row["action"] == "flagged")
    assert flagged["outcome"] == "skipped" and "admin" in flagged["reason"]
    bert = db.session.scalar(select(Patient).where(Patient.booking_system_id == "B2"))
    assert (bert.source, bert.booking_email) == ("booking", "bert@example.de")
    job = db.session.get(PatientImportJob, report["id"])
    assert job.origin == "api" and job.status == "succeeded"
    assert audit_actions(db)[-1] == "patients.import"
    assert import_records(actor, records[:1], dry_run=False)["counts"]["unchanged"] == 1


@pytest.mark.parametrize("records", [{"first_name": "Anna"}, []])
def test_api_refuses_a_non_list_or_empty_body(actor, records):
    """Not an array, or an empty one: a ServiceError, nothing else."""
    with pytest.raises(ServiceError):
        import_records(actor, records, dry_run=True)


# ---------------------------------------------------------------------------------------------------------------
# tenant isolation and statement counts


def test_other_practices_patients_are_never_matched(db, actor, other_practice, make_patient, make_user):
    """Same email, booking id, name and birth date in another practice: still a new patient here; and another
    practice's job cannot be previewed, resolved or queued."""
    make_patient(practice=other_practice, first_name="Anna", last_name="Muster", email="anna@example.de",
                 booking_system_id="B1", birth_date=date(1980, 1, 2))
    row = plan_one(db, actor, first_name="Anna", last_name="Muster", email="anna@example.de",
                   booking_system_id="B1", birth_date="02.01.1980")
    assert row.action == "create" and row.patient_id is None
    job = db.session.get(PatientImportJob, row.job_id)
    run(job)
    assert patient_count(db, actor.user.practice) == 1
    stranger = Actor(make_user(role="admin", practice=other_practice))
    for call in (lambda: preview_import(stranger, job, job.mapping),
                 lambda: resolve_flagged_row(stranger, job, row, "skip"),
                 lambda: queue_import(stranger, job, True)):
        with pytest.raises(ServiceError) as error:
            call()
        assert error.value.code == "not_found"


@pytest.fixture
def app_overrides(request, tmp_path_factory):
    """Config for the ``app`` fixture; with the indirect parameter "test catalogue" the app reads a German catalogue
    written for the test (the real one is maintained separately), so translated output can be asserted (with the
    test_catalogue fixture)."""
    if getattr(request, "param", None) != "test catalogue":
        yield {}
        return
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    directory = tmp_path_factory.mktemp("translations")
    (directory / "de" / "LC_MESSAGES").mkdir(parents=True)
    catalog = Catalog(locale="de")
    catalog.add("This field is required.", "Pflichtangabe (Testkatalog).")
    with (directory / "de" / "LC_MESSAGES" / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)
    yield {"BABEL_TRANSLATION_DIRECTORIES": str(directory)}


@pytest.fixture
def test_catalogue(app):
    """The test catalogue of app_overrides in use: Flask-Babel's process-wide cache of loaded catalogues emptied
    before and after (inside the app's context, which the cache needs, so the test runs alone too)."""
    from app.platform.extensions import babel

    with app.app_context():
        babel.domain_instance.cache.clear()
    yield
    with app.app_context():
        babel.domain_instance.cache.clear()


def mixed_rows_file(count):
    """A file of ``count`` rows, every third one with a broken field, every fifth without a last name."""
    rows = [["Vorname", "Nachname", "E-Mail", "Telefon", "Geburtsdatum", "Patienten-ID"]]
    for i in range(count):
        email = f"p{i}@example.de" if i % 3 else f"kaputt{i}@"
        phone = "0170 1234567" if i % 4 else "12"
        rows.append([f"Vor{i}", "" if i % 5 == 0 else f"Nach{i}", email, phone, f"{1 + i % 28}.02.1980", f"B{i}"])
    return csv_bytes(rows)


def planned_rows(db, job):
    """(row number, action, reason, data) of every row of a job, in order."""
    return [(row.row_number, row.action, row.reason, row.data)
            for row in sorted(rows_by_number(db, job).values(), key=lambda row: row.row_number)]


@pytest.mark.parametrize("app_overrides", ["test catalogue"], indirect=True)
def test_helper_processes_validate_exactly_like_this_process(app, test_catalogue, db, actor, monkeypatch, caplog):
    """Large files are validated by helper processes; the plan is the same row for row as when validated here, and
    the helpers' messages are in the caller's language."""
    monkeypatch.setattr(validate, "_ROWS_PER_PROCESS", 10)
    started = []
    popen = validate.subprocess.Popen
    monkeypatch.setattr(validate.subprocess, "Popen", lambda *args, **kwargs: started.append(args) or popen(
        *args, **kwargs))
    content = mixed_rows_file(60)
    plans = {}
    with force_locale("de"):
        for processes in (1, 3):
            app.config.update(PATIENT_IMPORT_PROCESSES=processes, PATIENT_IMPORT_PARALLEL_MIN_ROWS=50)
            plans[processes] = planned_rows(db, upload_and_preview(actor, content))
    assert len(started) == 2 and "validating here" not in caplog.text  # two helpers did their shares
    assert plans[3] == plans[1]
    reasons = {number: reason for number, _action, reason, _data in plans[3]}
    # rows 2-21 are validated here, 22-41 and 42-61 by the two helpers; row 27 (i = 25) has no last name
    assert "Nachname: Pflichtangabe (Testkatalog)." in reasons[27]
    assert "E-Mail:" in reasons[50] and "Telefon:" not in reasons[50]
    # a helper keeps a phone it cannot normalise as typed, as this process does (row 50 is i = 48)
    assert {number: data["phone"] for number, _action, _reason, data in plans[3]}[50] == "12"


def test_a_failing_helper_is_replaced_by_validating_here(app, db, actor, monkeypatch, caplog):
    """When a helper process cannot do its share, this process validates it: the preview is still complete."""
    monkeypatch.setattr(validate, "_ROWS_PER_PROCESS", 10)
    monkeypatch.setattr(validate, "_HELPER_COMMAND", (sys.executable, "-c", "import sys; sys.exit('helper broke')"))
    app.config.update(PATIENT_IMPORT_PROCESSES=2, PATIENT_IMPORT_PARALLEL_MIN_ROWS=20)
    with caplog.at_level(logging.WARNING, logger=app.logger.name):
        job = upload_and_preview(actor, mixed_rows_file(30))
    assert len(rows_by_number(db, job)) == 30 and job.counts["invalid"] > 0
    assert "helper broke" in caplog.text


def many_rows_file(count, offset):
    """A file of ``count`` new patients (with email, phone, birth date and booking id)."""
    rows = [["Vorname", "Nachname", "E-Mail", "Telefon", "Geburtsdatum", "Patienten-ID"]]
    rows += [[f"Vor{i}", f"Nach{i}", f"p{i}@example.de", f"0170 {1000000 + i}", "01.02.1980", f"B{i}"]
             for i in range(offset, offset + count)]
    return csv_bytes(rows)


def test_statement_count_does_not_grow_with_rows(db, actor, make_patient, sql_statements):
    """Upload, preview and commit of 1000 rows send as many statements as 100 rows (matching and writing are bulk);
    each file has 20 rows that update an existing patient and new ones."""
    for offset in (0, 10_000):
        for i in range(offset, offset + 20):
            make_patient(first_name=f"Vor{i}", last_name=f"Nach{i}", email=f"p{i}@example.de")
    counts = {}
    for size, offset in ((100, 0), (1000, 10_000)):
        content = many_rows_file(size, offset)
        with sql_statements() as upload:
            job = create_csv_import(actor, "f.csv", content)
        with sql_statements() as preview:
            preview_import(actor, job, job.mapping)
        with sql_statements() as commit:
            run(job)
        counts[size] = (len(upload), len(preview), len(commit))
        assert (job.counts["updated"], job.counts["created"]) == (20, size - 20)
    assert counts[1000] == counts[100], counts


def test_flagged_row_whose_patient_has_another_booking_id_cannot_be_linked(app, db, practice, make_patient):
    """A row resembling a patient who holds another booking id says so in the preview, and "link" is refused
    (linking would otherwise fail only when the import runs)."""
    from datetime import date

    from sqlalchemy import select

    from app.patients.importing.models import PatientImportRow
    from app.patients.importing.service import create_csv_import, preview_import, resolve_flagged_row
    from app.platform.errors import ServiceError
    from app.platform.security.actor import Actor

    make_patient(first_name="Lena", last_name="Becker", email="lena@example.test", birth_date=date(1985, 4, 12),
                 booking_system_id="DEMO-001")
    actor = Actor(practice_id=practice.id)
    content = "Patienten-ID;Vorname;Nachname;E-Mail;Geburtsdatum\nEXT-9;Lena;Becker;neu@example.test;12.04.1985\n"
    job = create_csv_import(actor, "x.csv", content.encode())
    preview_import(actor, job, job.mapping)
    row = db.session.scalar(select(PatientImportRow).where(PatientImportRow.job_id == job.id))
    assert row.action == "flagged" and "DEMO-001" in row.reason and "EXT-9" in row.reason
    with pytest.raises(ServiceError, match="DEMO-001"):
        resolve_flagged_row(actor, job, row, "link")
    assert resolve_flagged_row(actor, job, row, "create").resolution == "create"
