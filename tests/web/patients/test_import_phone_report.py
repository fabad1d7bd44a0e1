"""The import report lists the rows whose phone number was kept as entered ("Check phone number"), so an admin
sees which new or updated patients need a call: in the preview and the finished report (counter and rows), in the
problem-rows CSV and in the API's report. Invalid rows are not counted (they are listed anyway)."""

import csv
import io
import re

from sqlalchemy import select

from app.patients.importing.models import PatientImportRow
from app.patients.importing.service import run_import_job
from app.patients.models import Patient
from app.platform.jobs.queue import claim_next
from tests.helpers import bearer
from tests.web.patients.test_import import count_of, csv_bytes, upload

MARK = "Check phone number"
HEADER = ["Vorname", "Nachname", "Handy"]
MAPPING = {"first_name": "Vorname", "last_name": "Nachname", "phone": "Handy"}
# Row 2: a phone that becomes E.164; row 3: kept as entered; row 4: invalid (no last name) with a messy phone.
ROWS = [["Rita", "Ruf", "01522 334455"], ["Sven", "Sonder", "Festnetz über Praxis"], ["Tom", "", "nur Mo"]]


def _previewed(client, auth):
    """Upload ROWS as an admin and check them with MAPPING; the job's URL."""
    auth.login()
    job_url = upload(client, csv_bytes([HEADER, *ROWS])).headers["Location"]
    assert client.post(job_url, data=MAPPING).status_code == 303
    return job_url


def _listed_rows(html):
    """The row numbers in the "Rows to look at" table."""
    table = html.split('id="import-rows"', 1)[1].split("</table>", 1)[0]
    return [int(cell) for cell in re.findall(r'<tr id="import-row-\d+">\s*<td>(\d+)</td>', table)]


def test_preview_and_report_list_the_rows_whose_phone_is_kept_as_entered(client, auth, db, english):
    """The preview counts 1 row to check by phone and lists it (marked) beside the invalid row; the normalised
    phone's row is not listed. After the import the finished report does the same, with the row created."""
    job_url = _previewed(client, auth)
    preview = client.get(job_url).get_data(as_text=True)
    assert count_of(preview, "phone_check") == 1 and f"<strong>1</strong> {MARK}" in preview
    assert _listed_rows(preview) == [3, 4]
    assert "Festnetz über Praxis" in preview and MARK in preview.split('id="import-rows"', 1)[1]

    assert client.post(f"{job_url}/start", data={"valid_only": "y"}).status_code == 303
    run_import_job(claim_next("test-worker"), lambda done, total: None)
    report = client.get(job_url).get_data(as_text=True)
    assert "Import finished" in report and count_of(report, "phone_check") == 1
    assert count_of(report, "created") == 2 and _listed_rows(report) == [3, 4]
    sonder = db.session.scalar(select(Patient).where(Patient.last_name == "Sonder"))
    assert sonder.phone == "Festnetz über Praxis"
    row = db.session.scalar(select(PatientImportRow).where(PatientImportRow.row_number == 3))
    assert (row.outcome, row.patient_id) == ("created", sonder.id)


def test_problem_rows_csv_says_which_phone_to_check(client, auth, db, english):
    """problems.csv has the invalid row and the row with the phone kept as entered, whose reason says so."""
    job_url = _previewed(client, auth)
    client.post(f"{job_url}/start", data={"valid_only": "y"})
    run_import_job(claim_next("test-worker"), lambda done, total: None)
    body = client.get(f"{job_url}/problems.csv").get_data().decode("utf-8-sig")
    lines = {int(line[0]): line for line in list(csv.reader(io.StringIO(body, newline=""), delimiter=";"))[1:]}
    assert sorted(lines) == [3, 4]
    assert lines[3][1:4] == ["new", "created", MARK] and lines[3][6] == "Festnetz über Praxis"
    assert MARK not in lines[4][3]


def test_the_german_report_says_telefonnummer_pruefen(client, auth, db):
    """In German the counter reads "Telefonnummer prüfen"."""
    job_url = _previewed(client, auth)
    assert "<strong>1</strong> Telefonnummer prüfen" in client.get(job_url).get_data(as_text=True)


def test_the_api_report_lists_the_phones_to_check(client, make_user, make_token, db):
    """The dry run and the import answer with ``phone_check_rows`` (row, phone as kept, patient, action,
    outcome); a normalised phone and an invalid row are not in it."""
    token = make_token(make_user())
    records = [{"first_name": "Rita", "last_name": "Ruf", "phone": "01522 334455"},
               {"first_name": "Sven", "last_name": "Sonder", "phone": "Festnetz über Praxis"},
               {"first_name": "Tom", "last_name": "", "phone": "nur Mo"}]
    dry = client.post("/api/patients/import", json={"patients": records, "dry_run": True},
                      headers=bearer(token)).get_json()
    assert dry["counts"]["phone_check"] == 1 and dry["phone_check_truncated"] is False
    assert dry["phone_check_rows"] == [{"row": 2, "phone": "Festnetz über Praxis", "patient_id": None,
                                        "action": "create", "outcome": None}]
    real = client.post("/api/patients/import?valid_only=1", json=records, headers=bearer(token)).get_json()
    sonder = db.session.scalar(select(Patient).where(Patient.last_name == "Sonder"))
    assert real["phone_check_rows"] == [{"row": 2, "phone": "Festnetz über Praxis", "patient_id": sonder.id,
                                         "action": "create", "outcome": "created"}]
    clean = client.post("/api/patients/import", json=records[:1], headers=bearer(token)).get_json()
    assert "phone_check" not in clean["counts"] and clean["phone_check_rows"] == []


def test_fixing_an_invalid_row_with_a_messy_phone_counts_it(client, auth, db, english):
    """Row 4 (no last name, phone "nur Mo") corrected in place becomes new; the phone count follows (2)."""
    job_url = _previewed(client, auth)
    row = db.session.scalar(select(PatientImportRow).where(PatientImportRow.row_number == 4))
    fixed = client.post(f"{job_url}/rows/{row.id}/edit", data={"first_name": "Tom", "last_name": "Tal",
                                                               "phone": "nur Mo"})
    assert fixed.status_code == 200
    assert count_of(client.get(f"{job_url}/summary").get_data(as_text=True), "phone_check") == 2
