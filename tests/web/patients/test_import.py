"""The patient import in the browser-facing views: upload and the refusal of unusable files, the column mapping
and its preview, resolving flagged rows through htmx, starting the import, the polled progress and the final
report with its problem rows as CSV, the poll's cost, roles, tenancy and CSRF."""

import csv
import io
import json
import re
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.patients.importing.models import PatientImportJob, PatientImportRow
from app.patients.importing.service import create_csv_import, run_import_job
from app.patients.models import Patient
from app.platform.jobs.models import Job
from app.platform.jobs.queue import claim_next
from app.platform.security.actor import Actor
from app.platform.security.permissions import ROLE_PERMISSIONS
from tests.helpers import PASSWORD, audit_actions, htmx

HEADER = ["Patienten-ID", "Vorname", "Nachname", "E-Mail", "Handy", "Geburtsdatum"]
MAPPING = {"booking_system_id": "Patienten-ID", "first_name": "Vorname", "last_name": "Nachname",
           "email": "E-Mail", "phone": "Handy", "birth_date": "Geburtsdatum"}
# Rows as a spreadsheet numbers them: 2 is new, 3 resembles Lena Becker (same name and birth date, another
# email), 4 has an impossible birth date.
ROWS = [
    ["B-1", "Anna", "Neumann", "anna@example.test", "0170 1111111", "03.05.1990"],
    ["B-2", "Lena", "Becker", "lena.neu@example.test", "", "12.04.1985"],
    ["B-3", "Carla", "Falsch", "carla@example.test", "", "31.02.1990"],
]
FLAGGED_ROW, INVALID_ROW = 3, 4
ROLES_WITHOUT_IMPORT = [role for role, permissions in ROLE_PERMISSIONS.items() if "patients.import" not in permissions]


def csv_bytes(rows, delimiter=";", encoding="utf-8-sig"):
    """File content as German Excel writes it: UTF-8 with BOM, ``;``, CRLF (the first row is the header)."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


EXPORT = csv_bytes([HEADER, *ROWS])


def upload(client, content, name="export.csv", **kwargs):
    """POST a file to the upload form."""
    return client.post("/patients/import", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data", **kwargs)


def job_count(db):
    """How many imports are stored."""
    return db.session.scalar(select(func.count()).select_from(PatientImportJob))


def queued_jobs(db):
    """How many worker jobs are waiting."""
    return db.session.scalar(select(func.count()).select_from(Job).where(Job.status == "queued"))


def fresh(db, model, record_id):
    """A record as the database has it now (requests run in their own sessions)."""
    db.session.expire_all()
    return db.session.get(model, record_id)


def field_html(html, name):
    """The markup of one form field's wrapper (label, input and its error text)."""
    start = html.index(f'<div id="field-{name}"')
    return html[start:html.index("</div>", start)]


def selected_value(html, name):
    """The value of the selected option of the <select> for ``name``, or None."""
    select_html = re.search(rf'<select[^>]*\bid="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    chosen = [option for option in re.findall(r"<option[^>]*>", select_html) if re.search(r"\bselected\b", option)]
    return re.search(r'value="([^"]*)"', chosen[0]).group(1) if chosen else None


def count_of(html, key):
    """The number shown for ``key`` (total, create, flagged, created ...) in the counts list, or None."""
    found = re.search(rf'<li data-count="{key}"><strong>(\d+)</strong>', html)
    return int(found.group(1)) if found else None


def toast_of(response):
    """The toast an htmx response asks for, as {"level", "text"}."""
    return json.loads(response.headers["HX-Trigger"])["toast"]


def resolve(client, job, row_id, resolution):
    """Click one of a flagged row's decision buttons (an htmx POST aimed at the row)."""
    return client.post(f"/patients/import/{job.id}/rows/{row_id}/resolve", data={"resolution": resolution},
                       headers=htmx(f"import-row-{row_id}"))


def import_urls(job):
    """Every route of one import, as (method, URL)."""
    base = f"/patients/import/{job.id}"
    return [("GET", base), ("POST", base), ("GET", f"{base}/summary"), ("GET", f"{base}/progress"),
            ("POST", f"{base}/rows/{job.flagged}/resolve"), ("POST", f"{base}/start"),
            ("GET", f"{base}/problems.csv")]


@pytest.fixture
def lena(make_patient):
    """An existing patient that row 3 of the export resembles."""
    return make_patient(first_name="Lena", last_name="Becker", birth_date=date(1985, 4, 12),
                        email="lena@example.test")


@pytest.fixture
def previewed(client, auth, english, lena, db):
    """An admin (signed in, English UI) has uploaded EXPORT and checked it with MAPPING: one new, one flagged and
    one invalid row. Returns the job's id and the ids of the flagged and the invalid row."""
    admin = auth.login()
    response = upload(client, EXPORT)
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert client.post(f"/patients/import/{job_id}", data=MAPPING).status_code == 303
    rows = dict(db.session.execute(select(PatientImportRow.row_number, PatientImportRow.id)
                                   .where(PatientImportRow.job_id == job_id)).all())
    return SimpleNamespace(id=job_id, admin=admin, flagged=rows[FLAGGED_ROW], invalid=rows[INVALID_ROW])


@pytest.fixture
def startable(client, previewed):
    """The previewed import with its flagged row linked to Lena Becker, ready to start with valid_only."""
    assert resolve(client, previewed, previewed.flagged, "link").status_code == 200
    return previewed


def test_upload_redirects_to_the_guessed_mapping(client, auth, english, db):
    """A semicolon file with a UTF-8 BOM is stored and audited, and the upload redirects (303) to the job page,
    which preselects the guessed column for each field (the BOM is not part of the first header)."""
    admin = auth.login()
    response = upload(client, EXPORT, name="export.csv")
    assert response.status_code == 303
    job = db.session.scalar(select(PatientImportJob))
    assert response.headers["Location"] == f"/patients/import/{job.id}"
    assert (job.status, job.delimiter, job.encoding, job.headers) == ("uploaded", ";", "utf-8", HEADER)
    assert audit_actions(db, user_id=admin.id)[-1] == "patients.import_upload"
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "export.csv" in html and 'id="mapping-form"' in html
    assert {name: selected_value(html, name) for name in MAPPING} == MAPPING
    assert 'id="import-rows"' not in html, "no report before the preview"


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("empty.csv", b"", "The file is empty."),
        ("blank.csv", b"\xef\xbb\xbf\r\n  \r\n", "The file is empty."),
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01", "This is not a CSV file."),
        ("export.xlsx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00", "This is an Excel or other spreadsheet workbook"),
        ("noise.csv", b"Vorname;Nachname\r\nAn\x00na;B\x01\r\n", "characters that are not text"),
        ("colours.csv", "Farbe;Größe\r\nrot;L\r\n".encode(), "The file has no column for First name / Last name."),
        ("header.csv", b"Vorname;Nachname\r\n", "The file has a header row but no patient rows."),
    ],
)
def test_unusable_upload_is_refused_next_to_the_file_field(client, auth, english, db, name, content, message):
    """An unusable file answers 422 with the reason next to the file field, and nothing is stored."""
    auth.login()
    response = upload(client, content, name=name)
    assert response.status_code == 422
    field = field_html(response.get_data(as_text=True), "file")
    assert message in field and 'aria-invalid="true"' in field
    assert job_count(db) == 0


def test_upload_without_a_file_is_refused(client, auth, english, db):
    """Submitting the form without choosing a file asks for one (422)."""
    auth.login()
    response = client.post("/patients/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Please choose a file." in field_html(response.get_data(as_text=True), "file")
    assert job_count(db) == 0


def test_upload_over_the_size_limit_is_refused(app, client, auth, english, db):
    """A file over PATIENT_IMPORT_MAX_BYTES answers 422 naming the limit and the size, and nothing is stored."""
    auth.login()
    app.config["PATIENT_IMPORT_MAX_BYTES"] = 64
    response = upload(client, EXPORT)
    assert response.status_code == 422
    assert (f"The file is larger than the limit of 64 bytes (it has {len(EXPORT)} bytes)."
            in field_html(response.get_data(as_text=True), "file"))
    assert job_count(db) == 0


@pytest.mark.parametrize(("limit", "shown"), [(20 * 1024 * 1024, "at most 20 MB"), (512 * 1024, "at most 512 KB")])
def test_upload_page_states_the_size_limit(app, client, auth, english, limit, shown):
    """The upload page names PATIENT_IMPORT_MAX_BYTES in a unit that fits it (a limit under 1 MB is not "0 MB")."""
    auth.login()
    app.config["PATIENT_IMPORT_MAX_BYTES"] = limit
    assert shown in client.get("/patients/import").get_data(as_text=True)


def test_preview_shows_the_counts_and_the_rows_to_look_at(client, auth, english, lena, db):
    """Checking the file with a mapping redirects (303) to the job page, which shows the counts, the flagged and
    the invalid row with their reasons, decision buttons for the flagged row only, and no patient is written."""
    auth.login()
    job_url = upload(client, EXPORT).headers["Location"]
    response = client.post(job_url, data=MAPPING)
    assert response.status_code == 303 and response.headers["Location"] == job_url
    html = client.get(job_url).get_data(as_text=True)
    counts = {key: count_of(html, key) for key in ("total", "create", "flagged", "invalid")}
    assert counts == {"total": 3, "create": 1, "flagged": 1, "invalid": 1}
    rows = {row.row_number: row for row in db.session.scalars(select(PatientImportRow))}
    assert f'id="import-row-{rows[FLAGGED_ROW].id}"' in html and f'id="import-row-{rows[INVALID_ROW].id}"' in html
    assert f'id="import-row-{rows[2].id}"' not in html, "a new row needs no look"
    assert f"Same name and birth date as Lena Becker (no. {lena.id}), but another email address." in html
    assert html.count('name="resolution"') == 3, "link, create and skip for the one flagged row"
    assert 'id="unresolved-note"' in html and 'id="start-form"' not in html
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 1


@pytest.mark.parametrize(
    "change,field,message",
    [
        ({"last_name": "Vorname"}, None, "Column “Vorname” is chosen for both First name and Last name."),
        ({"last_name": ""}, None, "Please choose a column for: Last name."),
        ({"last_name": "Familienname"}, "last_name", "Not a valid choice."),
    ],
)
def test_invalid_mapping_is_refused(client, auth, english, db, change, field, message):
    """A column chosen twice, a required field without a column, or a column the file does not have answers 422
    with the message (in the form's errors, or next to the field), and the job stays unchecked."""
    auth.login()
    job_url = upload(client, EXPORT).headers["Location"]
    response = client.post(job_url, data={**MAPPING, **change})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in (field_html(html, field) if field else html.split('id="form-errors"', 1)[1])
    job = db.session.scalar(select(PatientImportJob))
    assert job.status == "uploaded" and job.mapping == MAPPING
    assert db.session.scalar(select(func.count()).select_from(PatientImportRow)) == 0


def test_file_contents_are_shown_escaped(client, auth, english, db):
    """Headers, cells and the file name come from the upload and are shown as text, never as markup."""
    auth.login()
    content = csv_bytes([["Vorname", "Nachname", "<b>Notiz</b>"], ["Anna", "<img src=x>", "x"],
                         ["Ben", "Bauer", "y"], ["Anna", "<img src=x>", "z"]])
    job_url = upload(client, content, name="<svg onload=alert(1)>.csv").headers["Location"]
    page = client.get(job_url).get_data(as_text=True)
    assert "&lt;svg onload=alert(1)&gt;.csv" in page and "<svg" not in page
    assert "&lt;b&gt;Notiz&lt;/b&gt;" in page and "<b>Notiz" not in page
    client.post(job_url, data={"first_name": "Vorname", "last_name": "Nachname"})
    report = client.get(job_url).get_data(as_text=True)
    assert "Duplicate of row 2" in report, "the repeated row is listed with its cells"
    assert "&lt;img src=x&gt;" in report and "<img src=x>" not in report


@pytest.mark.parametrize("resolution", ["link", "create", "skip"])
def test_resolving_a_flagged_row_returns_the_row(client, db, previewed, lena, resolution):
    """A decision answers the #import-row-<id> fragment with the chosen button pressed, tells the summary to
    refresh (HX-Trigger import-changed), is stored and audited with the row number."""
    response = resolve(client, previewed, previewed.flagged, resolution)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="import-row-{previewed.flagged}"') and "<html" not in html
    assert re.search(rf'value="{resolution}"[^>]*aria-pressed="true"', html, re.S)
    assert html.count('aria-pressed="true"') == 1
    assert "import-changed" in json.loads(response.headers["HX-Trigger"])
    assert fresh(db, PatientImportRow, previewed.flagged).resolution == resolution
    assert audit_actions(db, user_id=previewed.admin.id)[-1] == "patients.import_resolve"
    summary = client.get(f"/patients/import/{previewed.id}/summary", headers=htmx("import-summary"))
    assert summary.get_data(as_text=True).lstrip().startswith('<div id="import-summary"')
    assert 'id="start-form"' in summary.get_data(as_text=True), "no decision is left open"


@pytest.mark.parametrize(
    "row,resolution,message",
    [
        ("flagged", "merge", "Please choose link, create or skip."),
        ("flagged", "", "Please choose link, create or skip."),
        ("invalid", "create", "Only flagged rows need a decision."),
    ],
)
def test_refused_resolution_answers_422_with_a_toast(client, db, previewed, row, resolution, message):
    """An unknown decision, or a decision for a row that is not flagged, answers 422 with the unchanged row and an
    error toast; nothing is stored or audited."""
    row_id = getattr(previewed, row)
    before = audit_actions(db)
    response = resolve(client, previewed, row_id, resolution)
    assert response.status_code == 422
    assert response.get_data(as_text=True).lstrip().startswith(f'<tr id="import-row-{row_id}"')
    assert toast_of(response) == {"level": "error", "text": message}
    assert "import-changed" not in json.loads(response.headers["HX-Trigger"])
    assert fresh(db, PatientImportRow, row_id).resolution is None
    assert audit_actions(db) == before


def test_resolving_a_row_of_another_import_is_404(client, db, previewed):
    """A row id that belongs to another import of the same practice (or to none) answers 404 and is left alone."""
    other_url = upload(client, EXPORT, name="second.csv").headers["Location"]
    assert client.post(other_url, data=MAPPING).status_code == 303
    other_id = int(other_url.rsplit("/", 1)[1])
    foreign_row = db.session.scalar(select(PatientImportRow.id).where(PatientImportRow.job_id == other_id,
                                                                      PatientImportRow.row_number == FLAGGED_ROW))
    assert resolve(client, previewed, foreign_row, "skip").status_code == 404
    assert resolve(client, previewed, foreign_row + 1000, "skip").status_code == 404
    assert fresh(db, PatientImportRow, foreign_row).resolution is None


def test_start_is_refused_while_a_flagged_row_is_open(client, db, previewed):
    """Starting with an undecided flagged row answers 422 with the reason in the summary and a toast; nothing is
    queued."""
    response = client.post(f"/patients/import/{previewed.id}/start", data={"valid_only": "y"},
                           headers=htmx("import-summary"))
    assert response.status_code == 422
    message = "1 flagged rows still need a decision: link, create or skip."
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="import-summary"') and message in html
    assert toast_of(response) == {"level": "error", "text": message}
    assert fresh(db, PatientImportJob, previewed.id).status == "previewed" and queued_jobs(db) == 0


def test_start_is_refused_with_invalid_rows_unless_only_valid_ones(client, db, startable):
    """With an invalid row the import starts only when the admin chose to import only the valid rows (the summary
    offers that choice); otherwise 422 with the reason, and nothing is queued."""
    summary = client.get(f"/patients/import/{startable.id}/summary", headers=htmx("import-summary"))
    assert 'name="valid_only"' in summary.get_data(as_text=True)
    response = client.post(f"/patients/import/{startable.id}/start", headers=htmx("import-summary"))
    assert response.status_code == 422
    message = "1 rows are invalid. Correct the file and upload it again, or import only the valid rows."
    assert message in response.get_data(as_text=True)
    assert toast_of(response)["text"] == message
    assert fresh(db, PatientImportJob, startable.id).status == "previewed" and queued_jobs(db) == 0


@pytest.mark.parametrize("through_htmx", [True, False])
def test_start_queues_the_import(client, db, startable, through_htmx):
    """Starting queues one worker job and audits it; htmx is sent to the job page with 204 + HX-Redirect (the whole
    page changes), a plain form post with a 303 redirect."""
    job_url = f"/patients/import/{startable.id}"
    response = client.post(f"{job_url}/start", data={"valid_only": "y"},
                           headers=htmx("import-summary") if through_htmx else {})
    if through_htmx:
        assert response.status_code == 204 and response.headers["HX-Redirect"] == job_url
    else:
        assert response.status_code == 303 and response.headers["Location"] == job_url
    job = fresh(db, PatientImportJob, startable.id)
    assert job.status == "queued" and job.valid_only is True
    assert queued_jobs(db) == 1
    assert audit_actions(db, user_id=startable.admin.id)[-1] == "patients.import_queue"
    page = client.get(job_url).get_data(as_text=True)
    assert 'id="import-progress"' in page and 'id="mapping-form"' not in page
    late = resolve(client, startable, startable.flagged, "skip")
    assert late.status_code == 422
    assert toast_of(late)["text"] == "Rows can only be resolved after the preview and before the import starts."
    assert fresh(db, PatientImportRow, startable.flagged).resolution == "link"


def test_mapping_posted_after_the_start_says_why_it_is_refused(client, db, startable):
    """Checking the file again from a tab left open after the start answers 422 and says that the import can no
    longer be changed; the queued import is left as it is."""
    job_url = f"/patients/import/{startable.id}"
    client.post(f"{job_url}/start", data={"valid_only": "y"})
    again = client.post(job_url, data=MAPPING)
    assert again.status_code == 422
    assert fresh(db, PatientImportJob, startable.id).status == "queued"
    assert "This import can no longer be changed." in again.get_data(as_text=True)


def test_progress_polls_until_the_import_ends_then_shows_the_report(client, db, startable):
    """While the import is queued and while it runs, the #import-progress fragment carries its load trigger; once
    it has finished, the poll answers 286 (htmx stops) with the report, and the job page shows the same report."""
    progress_url = f"/patients/import/{startable.id}/progress"
    assert client.post(f"/patients/import/{startable.id}/start", data={"valid_only": "y"}).status_code == 303

    queued = client.get(progress_url, headers=htmx("import-progress"))
    html = queued.get_data(as_text=True)
    assert queued.status_code == 200 and html.lstrip().startswith('<div id="import-progress"')
    assert 'hx-trigger="load delay:1s"' in html and f'hx-get="{progress_url}"' in html
    assert "waiting for the worker" in html

    seen_while_running = []

    def poll_while_running(done, total):
        """The worker's progress callback: look at the fragment as the browser would between batches."""
        response = client.get(progress_url, headers=htmx("import-progress"))
        seen_while_running.append((response.status_code, 'hx-trigger="load delay:1s"' in response.get_data(
            as_text=True), "waiting for the worker" in response.get_data(as_text=True)))

    worker_job = claim_next("test-worker")
    assert worker_job.kind == "patient_import" and worker_job.payload == {"import_job_id": startable.id}
    run_import_job(worker_job, poll_while_running)
    assert seen_while_running and set(seen_while_running) == {(200, True, False)}

    finished = client.get(progress_url, headers=htmx("import-progress"))
    html = finished.get_data(as_text=True)
    assert finished.status_code == 286 and "hx-trigger" not in html and "Import finished" in html
    counts = {key: count_of(html, key) for key in ("created", "linked", "invalid", "skipped")}
    assert counts == {"created": 1, "linked": 1, "invalid": 1, "skipped": 0}
    assert f'id="import-row-{startable.invalid}"' in html and 'id="problems-download"' in html
    assert "<html" not in html
    assert client.get(progress_url).status_code == 200, "only htmx aimed at #import-progress is told to stop"
    page = client.get(f"/patients/import/{startable.id}").get_data(as_text=True)
    assert "Import finished" in page and count_of(page, "created") == 1


def test_problem_rows_download(client, db, startable):
    """After the import, problems.csv is an attachment for Excel (UTF-8 BOM, ``;``) with a line per flagged or
    invalid row: its number, action, outcome, reason and the file's cells."""
    client.post(f"/patients/import/{startable.id}/start", data={"valid_only": "y"})
    run_import_job(claim_next("test-worker"), lambda done, total: None)
    response = client.get(f"/patients/import/{startable.id}/problems.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert (response.headers["Content-Disposition"]
            == f'attachment; filename="import-{startable.id}-problems.csv"')
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert lines[0] == ["Row", "Action", "Outcome", "Reason", *HEADER]
    by_row = {int(line[0]): line for line in lines[1:]}
    assert set(by_row) == {FLAGGED_ROW, INVALID_ROW}
    assert by_row[FLAGGED_ROW][1:3] == ["to check", "linked"]
    assert by_row[INVALID_ROW][1:3] == ["invalid", "invalid"] and "is not a real date" in by_row[INVALID_ROW][3]
    assert by_row[INVALID_ROW][4:] == ROWS[INVALID_ROW - 2]


def test_problem_rows_download_defuses_formulas_in_headers(client, auth, english, db):
    """A header of the uploaded file is as much the uploader's text as a cell: ``=HYPERLINK(...)`` and ``@SUM(...)``
    in the header row come out of problems.csv with a leading apostrophe, like a formula cell, while a plain phone
    number stays readable."""
    auth.login()
    link = '=HYPERLINK("http://x")'
    content = csv_bytes([["Vorname", "Nachname", link, "@SUM(1+1)*cmd|' /C calc'!A0", "Telefon"],
                         ["Anna", "", "-2+3", "=1+1", "+49 170 1234567"]])
    job_id = int(upload(client, content).headers["Location"].rsplit("/", 1)[1])
    mapping = {"first_name": "Vorname", "last_name": "Nachname", "phone": "Telefon"}
    assert client.post(f"/patients/import/{job_id}", data=mapping).status_code == 303
    response = client.get(f"/patients/import/{job_id}/problems.csv")
    assert response.status_code == 200
    lines = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline=""), delimiter=";"))
    assert lines[0] == ["Row", "Action", "Outcome", "Reason", "Vorname", "Nachname", "'" + link,
                        "'@SUM(1+1)*cmd|' /C calc'!A0", "Telefon"]
    assert lines[1][4:] == ["Anna", "", "'-2+3", "'=1+1", "+49 170 1234567"]


@pytest.mark.parametrize("finished", [False, True])
def test_progress_poll_never_reads_the_file(client, db, startable, sql_statements, finished):
    """The poll runs every second and the stored file can be 20 MB: one poll never selects the deferred
    ``content`` column. While the import runs, a poll is exactly one statement, which reads the job together with
    the session's user; the last poll (the import has ended) also reads the report's rows, in one more."""
    client.post(f"/patients/import/{startable.id}/start", data={"valid_only": "y"})
    if finished:
        run_import_job(claim_next("test-worker"), lambda done, total: None)
    with sql_statements() as sent:
        response = client.get(f"/patients/import/{startable.id}/progress", headers=htmx("import-progress"))
    assert response.status_code == (286 if finished else 200)
    assert len(sent) == (2 if finished else 1), sent
    assert "users" in sent[0] and "patient_import_jobs" in sent[0], sent
    assert [statement for statement in sent if re.search(r"\bcontent\b", statement)] == []


def test_progress_of_an_import_not_yet_started_does_not_say_it_failed(client, previewed):
    """The progress fragment of a checked but not started import (an old bookmark, a poll from a stale tab) does
    not announce a failure that never happened."""
    response = client.get(f"/patients/import/{previewed.id}/progress", headers=htmx("import-progress"))
    assert response.status_code < 500
    html = response.get_data(as_text=True)
    assert "Import failed" not in html and "The import failed." not in html


@pytest.mark.parametrize("role", ROLES_WITHOUT_IMPORT)
def test_roles_without_the_import_permission_are_refused(client, auth, make_user, db, previewed, role):
    """Only admins import: every other role gets 403 on the upload page, the upload and every route of an import
    of its own practice, and nothing changes."""
    auth.logout()
    auth.login(user=make_user(role=role))
    assert client.get("/patients/import").status_code == 403
    assert upload(client, EXPORT, name="sneaky.csv").status_code == 403
    for method, url in import_urls(previewed):
        assert client.open(url, method=method, data={"resolution": "skip", **MAPPING}).status_code == 403, url
    assert job_count(db) == 1
    assert fresh(db, PatientImportRow, previewed.flagged).resolution is None


def test_admin_of_another_practice_gets_404(client, auth, make_user, db, previewed, other_practice):
    """An admin of another practice neither sees this practice's import in the list nor reaches it on any route
    (404, never 403, so ids cannot be probed), and nothing changes."""
    auth.logout()
    auth.login(user=make_user(role="admin", practice=other_practice))
    page = client.get("/patients/import")
    assert page.status_code == 200 and "export.csv" not in page.get_data(as_text=True)
    for method, url in import_urls(previewed):
        data = {"resolution": "skip", "valid_only": "y", **MAPPING}
        assert client.open(url, method=method, data=data).status_code == 404, url
    assert fresh(db, PatientImportRow, previewed.flagged).resolution is None
    assert fresh(db, PatientImportJob, previewed.id).status == "previewed" and queued_jobs(db) == 0


def test_anonymous_users_are_sent_to_login(client, make_user, db):
    """Without a session every import route sends the browser to the login page (htmx: 401 + HX-Redirect)."""
    job = create_csv_import(Actor(make_user()), "export.csv", EXPORT)
    routes = [("GET", "/patients/import"), ("POST", "/patients/import"),
              *import_urls(SimpleNamespace(id=job.id, flagged=1))]
    for method, url in routes:
        response = client.open(url, method=method)
        assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login"), url
    polled = client.get(f"/patients/import/{job.id}/progress", headers=htmx("import-progress"))
    assert polled.status_code == 401
    assert polled.headers["HX-Redirect"].startswith("/auth/login?next=/patients/import/")


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_upload_needs_the_csrf_token(client, make_user, db):
    """With CSRF on, an upload without the token is refused (400) and stores nothing; with the token the page's
    form carries it is accepted."""
    admin = make_user()
    token = client.get("/auth/login").get_data(as_text=True).split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    signed_in = client.post("/auth/login", data={"email": admin.email, "password": PASSWORD},
                            headers={"X-CSRFToken": token})
    assert signed_in.status_code == 303
    assert upload(client, EXPORT).status_code == 400
    assert job_count(db) == 0
    page = client.get("/patients/import").get_data(as_text=True)
    form_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    accepted = client.post("/patients/import", data={"file": (io.BytesIO(EXPORT), "export.csv"),
                                                     "csrf_token": form_token},
                           content_type="multipart/form-data")
    assert accepted.status_code == 303 and job_count(db) == 1
