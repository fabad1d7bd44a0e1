"""The import page (issue 17 item 14): counters that follow the decisions, one status, dates as people write them,
sample values in the mapping step, and invalid rows corrected in place (htmx, validated again) before the start."""

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.patients.importing.models import PatientImportJob, PatientImportRow
from app.patients.importing.service import run_import_job
from tests.helpers import audit_actions, htmx
from tests.web.patients.test_import import (
    EXPORT,
    FLAGGED_ROW,
    INVALID_ROW,
    MAPPING,
    count_of,
    fresh,
    resolve,
    toast_of,
    upload,
)


@pytest.fixture
def lena(make_patient):
    """An existing patient that row 3 of the export resembles (as in test_import)."""
    return make_patient(first_name="Lena", last_name="Becker", birth_date=date(1985, 4, 12),
                        email="lena@example.test")


@pytest.fixture
def previewed(client, auth, english, lena, db):
    """An admin (English UI) has uploaded EXPORT and checked it: one new, one flagged and one invalid row."""
    auth.login()
    job_id = int(upload(client, EXPORT).headers["Location"].rsplit("/", 1)[1])
    assert client.post(f"/patients/import/{job_id}", data=MAPPING).status_code == 303
    rows = dict(db.session.execute(select(PatientImportRow.row_number, PatientImportRow.id)
                                   .where(PatientImportRow.job_id == job_id)).all())
    return SimpleNamespace(id=job_id, flagged=rows[FLAGGED_ROW], invalid=rows[INVALID_ROW])


def _fix(client, job, row_id, **cells):
    """Submit the inline correction form of a row (an htmx POST aimed at the row)."""
    return client.post(f"/patients/import/{job.id}/rows/{row_id}/edit", data=cells,
                       headers=htmx(f"import-row-{row_id}"))


def _summary(client, job):
    """The counters region as the ``import-changed`` event reloads it."""
    return client.get(f"/patients/import/{job.id}/summary", headers=htmx("import-summary")).get_data(as_text=True)


def test_counters_follow_the_decisions(client, previewed):
    """Linking the flagged row moves it from "to check" to "link"; skipping it moves it to "skipped"."""
    before = _summary(client, previewed)
    assert count_of(before, "flagged") == 1 and count_of(before, "link") == 0
    resolve(client, previewed, previewed.flagged, "link")
    after = _summary(client, previewed)
    assert count_of(after, "flagged") == 0 and count_of(after, "link") == 1
    resolve(client, previewed, previewed.flagged, "skip")
    skipped = _summary(client, previewed)
    assert count_of(skipped, "link") == 0 and count_of(skipped, "skipped") == 1


def test_mapping_step_shows_sample_values(client, auth, english, db):
    """Each column of the file is shown with its first values beside the column choices."""
    auth.login()
    job_id = int(upload(client, EXPORT).headers["Location"].rsplit("/", 1)[1])
    html = client.get(f"/patients/import/{job_id}").get_data(as_text=True)
    assert 'id="import-samples-table"' in html
    assert "Anna · Lena · Carla" in html
    assert "anna@example.test · lena.neu@example.test · carla@example.test" in html


def test_birth_dates_are_shown_as_people_write_them(client, previewed, lena):
    """The preview shows the flagged row's birth date in the user's format, never ISO (English: Apr 12, 1985)."""
    html = client.get(f"/patients/import/{previewed.id}").get_data(as_text=True)
    assert "1985-04-12" not in html
    assert "Apr 12, 1985" in html


def test_birth_dates_in_german_are_tt_mm_jjjj(client, previewed):
    """In German the same date reads 12.04.1985."""
    client.post("/auth/language", data={"lang": "de", "next": "/"})
    html = client.get(f"/patients/import/{previewed.id}").get_data(as_text=True)
    assert "12.04.1985" in html and "1985-04-12" not in html


def test_invalid_row_has_a_correct_button_and_an_inline_form(client, previewed):
    """The invalid row offers "Correct"; the form replaces the row, filled with the file's cells."""
    html = client.get(f"/patients/import/{previewed.id}").get_data(as_text=True)
    assert f'id="fix-import-row-{previewed.invalid}"' in html
    form = client.get(f"/patients/import/{previewed.id}/rows/{previewed.invalid}/edit",
                      headers=htmx(f"import-row-{previewed.invalid}"))
    body = form.get_data(as_text=True)
    assert form.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith(f'<tr id="import-row-{previewed.invalid}"')
    assert 'value="31.02.1990"' in body and 'value="Carla"' in body


def test_a_still_invalid_correction_answers_422_with_the_message(client, db, previewed):
    """A date that still does not exist: 422, the form again with the field marked, nothing stored."""
    response = _fix(client, previewed, previewed.invalid, first_name="Carla", last_name="Falsch",
                    email="carla@example.test", phone="", birth_date="30.02.1990", booking_system_id="B-3")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and 'aria-invalid="true"' in body
    assert toast_of(response)["level"] == "error"
    assert fresh(db, PatientImportRow, previewed.invalid).action == "invalid"


def test_correcting_a_row_plans_it_again_and_counts_follow(client, db, previewed):
    """A valid correction makes the row "new", stores the corrected cell, refreshes the counters and is audited."""
    response = _fix(client, previewed, previewed.invalid, first_name="Carla", last_name="Falsch",
                    email="carla@example.test", phone="", birth_date="28.02.1990", booking_system_id="B-3")
    assert response.status_code == 200
    assert "import-changed" in response.headers["HX-Trigger"]
    row = fresh(db, PatientImportRow, previewed.invalid)
    assert row.action == "create" and row.data["birth_date"] == "1990-02-28"
    assert row.raw["Geburtsdatum"] == "28.02.1990"
    summary = _summary(client, previewed)
    assert count_of(summary, "invalid") == 0 and count_of(summary, "create") == 2
    assert "patients.import_fix" in audit_actions(db)


def test_a_correction_that_duplicates_another_row_stays_invalid(client, db, previewed):
    """The corrected row is checked against the file's other rows: Anna's email again is a duplicate."""
    response = _fix(client, previewed, previewed.invalid, first_name="Carla", last_name="Falsch",
                    email="anna@example.test", phone="", birth_date="28.02.1990", booking_system_id="B-9")
    assert response.status_code == 200
    row = fresh(db, PatientImportRow, previewed.invalid)
    assert row.action == "invalid" and "row 2" in row.reason


def test_corrected_rows_are_imported(client, db, previewed):
    """After the correction and the decision the import starts without "only valid rows" and creates Carla."""
    _fix(client, previewed, previewed.invalid, first_name="Carla", last_name="Falsch", email="carla@example.test",
         phone="", birth_date="28.02.1990", booking_system_id="B-3")
    resolve(client, previewed, previewed.flagged, "skip")
    assert client.post(f"/patients/import/{previewed.id}/start").status_code in (204, 303)
    job = fresh(db, PatientImportJob, previewed.id)
    run_import_job(type("Job", (), {"payload": {"import_job_id": job.id}, "practice_id": job.practice_id})(),
                   lambda done, total: None)
    assert fresh(db, PatientImportJob, previewed.id).counts["created"] == 2


def test_rows_that_are_not_invalid_cannot_be_corrected(client, previewed):
    """The flagged row has no correction form (404)."""
    url = f"/patients/import/{previewed.id}/rows/{previewed.flagged}/edit"
    assert client.get(url).status_code == 404
    assert _fix(client, previewed, previewed.flagged, first_name="X", last_name="Y").status_code == 422


def test_finished_import_shows_one_status(client, db, previewed):
    """After the import the page says "done" once and never "waiting for the worker" beside it."""
    resolve(client, previewed, previewed.flagged, "skip")
    client.post(f"/patients/import/{previewed.id}/start", data={"valid_only": "y"})
    job = fresh(db, PatientImportJob, previewed.id)
    run_import_job(type("Job", (), {"payload": {"import_job_id": job.id}, "practice_id": job.practice_id})(),
                   lambda done, total: None)
    html = client.get(f"/patients/import/{previewed.id}").get_data(as_text=True)
    assert "waiting for the worker" not in html
    assert html.count('class="badge') == 1 and "Import finished" in html


def test_correcting_a_row_of_another_practice_is_404(client, auth, make_user, db, previewed, other_practice):
    """Another practice's admin cannot open or correct the row."""
    auth.logout()
    auth.login(user=make_user("admin", practice=other_practice))
    assert client.get(f"/patients/import/{previewed.id}/rows/{previewed.invalid}/edit").status_code == 404
    assert _fix(client, previewed, previewed.invalid, first_name="A", last_name="B").status_code == 404
    assert db.session.scalar(select(PatientImportRow.action).where(
        PatientImportRow.id == previewed.invalid)) == "invalid"
