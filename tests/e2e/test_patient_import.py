"""Importing the booking tool's patient export as an admin clicks through it: upload, column mapping, the dry-run
report, resolving a flagged row, the background import with its progress, the problem rows as CSV, and the
refusal of a file that is not a CSV."""

import re
from datetime import date
from types import SimpleNamespace
from uuid import uuid4

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.patients.models import Patient
from app.platform.extensions import db
from app.tenancy.models import Practice
from tests.e2e.conftest import open_from_nav

pytestmark = pytest.mark.e2e

HEADER = "Patienten-ID;Vorname;Nachname;E-Mail;Handy;Geburtsdatum"
LENA = {"first_name": "Lena", "last_name": "Becker", "birth_date": date(1985, 4, 12)}
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def messy_export():
    """A booking-tool export as German Excel writes it (UTF-8 with BOM, ``;``, DD.MM.YY, CRLF), with names unique
    to this run: two new patients (the second with a line break inside a quoted name), a repeat of the first row,
    a row that resembles demo patient Lena Becker (same name and birth date, another email), and a row with an
    impossible birth date. Rows as a spreadsheet numbers them: header 1, patients 2 to 6."""
    tag = uuid4().hex[:8]
    family = f"Zimport{tag}"
    run = SimpleNamespace(
        tag=tag, family=family,
        first_id=f"IMP-{tag}-1", second_id=f"IMP-{tag}-2", lena_id=f"IMP-{tag}-L", invalid_id=f"IMP-{tag}-3",
        lena_email=f"lena.{tag}@example.test",
    )
    lines = [
        HEADER,
        f'{run.first_id};Anna;{family};anna.{tag}@example.test;0170 1111111;03.05.90',
        f'{run.second_id};Bernd;"{family}\nMüller";bernd.{tag}@example.test;;17.11.72',
        f'{run.first_id};Anna;{family};anna.{tag}@example.test;0170 1111111;03.05.90',
        f'{run.lena_id};Lena;Becker;{run.lena_email};;12.04.85',
        f'{run.invalid_id};Carla;{family};carla.{tag}@example.test;;31.02.90',
    ]
    run.data = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")
    return run


@pytest.fixture
def lena_without_booking_link(live_app):
    """Demo patient Lena Becker without her booking link (DEMO-001) for one test, so that linking the import row
    that resembles her can give her the file's patient ID; her demo link is put back afterwards."""

    def lena():
        practice_id = db.session.scalar(select(Practice.id).where(Practice.slug == "demo"))
        return db.session.scalar(select(Patient).where(
            Patient.practice_id == practice_id, *(getattr(Patient, name) == value for name, value in LENA.items())))

    with live_app.app_context():
        patient = lena()
        saved = (patient.booking_system_id, patient.booking_email)
        patient.booking_system_id = patient.booking_email = None
        patient.refresh_search_text()
        db.session.commit()
        patient_id = patient.id
        db.session.remove()
    yield patient_id
    with live_app.app_context():
        patient = lena()
        patient.booking_system_id, patient.booking_email = saved
        patient.refresh_search_text()
        db.session.commit()
        db.session.remove()


def open_import_page(page, base_url, sign_in):
    """Sign in as the demo admin and open "Import" from the patient list."""
    open_from_nav(page, base_url, sign_in, "/patients/", "import-link", "/patients/import")
    return page.locator("#import-upload-form")


def count(page, key, scope="#import-counts"):
    """The number shown for ``key`` (create, flagged, invalid, created, linked ...) in the counts list."""
    return page.locator(f"{scope} li[data-count='{key}'] strong")


def test_admin_imports_a_messy_export(page, base_url, sign_in, translate, live_worker, lena_without_booking_link):
    """An admin uploads a messy export, checks it, links the row that resembles Lena Becker, imports only the
    valid rows, watches the progress, downloads the problem rows and finds the new patients."""
    run = messy_export()
    lena_id = lena_without_booking_link
    upload_form = open_import_page(page, base_url, sign_in)

    page.set_input_files("#file", files=[{"name": "export.csv", "mimeType": "text/csv", "buffer": run.data}])
    upload_form.get_by_role("button", name=translate("Upload and preview")).click()

    expect(page).to_have_url(re.compile(re.escape(f"{base_url}/patients/import/") + r"\d+$"))
    job_url = page.url
    expect(page.locator("h1")).to_contain_text("export.csv")
    mapping = page.locator("#mapping-form")
    for field, header in (("first_name", "Vorname"), ("last_name", "Nachname"), ("email", "E-Mail"),
                          ("phone", "Handy"), ("birth_date", "Geburtsdatum"), ("booking_system_id", "Patienten-ID")):
        expect(mapping.locator(f"select#{field}")).to_have_value(header)
    expect(mapping.locator("select#first_name option:checked")).to_have_text("Vorname")
    expect(page.locator("#import-rows")).to_have_count(0)

    page.locator("#preview-button").click()

    expect(page).to_have_url(job_url)
    expect(count(page, "total")).to_have_text("5")
    expect(count(page, "create")).to_have_text("2")
    expect(count(page, "flagged")).to_have_text("1")
    expect(count(page, "invalid")).to_have_text("2")
    rows = page.locator("#import-rows tbody tr")
    expect(rows).to_have_count(3)
    flagged = rows.filter(has_text=run.lena_email)
    expect(flagged.locator("td[data-state]")).to_have_text(translate("to check"))
    expect(flagged).to_contain_text(translate(
        "Same name and birth date as %(name)s (no. %(id)d), but another email address.", name="Lena Becker",
        id=lena_id))
    duplicate = rows.filter(has=page.locator("td:first-child", has_text=re.compile(r"^4$")))
    expect(duplicate).to_contain_text(translate("Duplicate of row %(row)d (%(what)s).", row=2,
                                                what=translate("same patient ID")))
    invalid_reason = "Geburtsdatum: " + translate("“%(value)s” is not a real date.", value="31.02.90")
    invalid = rows.filter(has=page.locator("td:first-child", has_text=re.compile(r"^6$")))
    expect(invalid).to_contain_text(invalid_reason)
    expect(page.locator("#unresolved-note")).to_be_visible()
    expect(page.locator("#start-form")).to_have_count(0)

    link = flagged.get_by_role("button", name=translate("Link to the existing patient"))
    link.click()

    expect(flagged.get_by_role("button", name=translate("Link to the existing patient"))).to_have_attribute(
        "aria-pressed", "true")
    expect(page.locator("#unresolved-note")).to_have_count(0)
    start_form = page.locator("#import-summary #start-form")
    expect(start_form).to_be_visible()
    valid_only = start_form.get_by_label(translate("Import only the valid rows and skip the invalid ones"))
    expect(valid_only).not_to_be_checked()

    valid_only.check()
    with live_worker.paused():
        start_form.get_by_role("button", name=translate("Start the import")).click()
        progress = page.locator("#import-progress")
        expect(progress.locator("progress")).to_be_visible()
        expect(progress).to_contain_text(translate("waiting for the worker"))
        expect(page).to_have_url(job_url)
        nested = "the import page is shown once, not nested inside the preview"
        expect(page.locator("#main-nav"), nested).to_have_count(1)
        expect(page.locator("h1")).to_have_count(1)
        expect(page.locator("#mapping-form"), "the column mapping is gone once the import is queued").to_have_count(0)
        expect(page.locator("#import-rows button")).to_have_count(0)
        page.evaluate("() => { window.__noReload = true; }")

    expect(progress.locator("h2")).to_have_text(translate("Import finished"))
    assert page.evaluate("() => window.__noReload === true"), "the page was reloaded instead of polled by htmx"
    expect(progress.locator("progress")).to_have_count(0)
    expect(page).to_have_url(job_url)
    expect(count(page, "created", "#import-progress")).to_have_text("2")
    expect(count(page, "linked", "#import-progress")).to_have_text("1")
    expect(count(page, "invalid", "#import-progress")).to_have_text("2")
    expect(count(page, "skipped", "#import-progress")).to_have_text("0")

    with page.expect_download() as downloaded:
        page.locator("#problems-download").click()
    download = downloaded.value
    assert download.suggested_filename.endswith("-problems.csv")
    problems = download.path().read_bytes().decode("utf-8-sig")
    assert invalid_reason in problems
    assert run.invalid_id in problems
    assert run.first_id in problems
    assert run.second_id not in problems

    page.goto(f"/patients/?q={run.family}")
    found = page.locator("#patients-table tbody tr[id^='patient-row-']")
    expect(found).to_have_count(2)
    expect(found.filter(has_text=f"{run.family}, Anna")).to_contain_text(run.first_id)
    expect(found.filter(has_text=f"{run.family} Müller, Bernd")).to_contain_text(run.second_id)
    expect(page.locator("#patients-table")).not_to_contain_text("Carla")

    page.goto(f"/patients/{lena_id}")
    expect(page.locator("#patient-name")).to_have_text("Lena Becker")
    expect(page.locator("#booking-id")).to_have_text(run.lena_id)
    expect(page.locator("#booking-email")).to_have_text(run.lena_email)
    expect(page.locator("#patient-tab")).to_contain_text("lena.becker@example.test")


def test_uploading_a_picture_is_refused_next_to_the_file_field(page, base_url, sign_in, translate):
    """An admin picks a PNG instead of the CSV export and is told at the file field; nothing is imported."""
    upload_form = open_import_page(page, base_url, sign_in)
    file_input = page.locator("#file")

    page.set_input_files("#file", files=[{"name": "export.png", "mimeType": "image/png", "buffer": PNG_BYTES}])
    with page.expect_response(lambda response: response.request.method == "POST") as answered:
        upload_form.get_by_role("button", name=translate("Upload and preview")).click()

    assert answered.value.status == 422
    expect(page).to_have_url(f"{base_url}/patients/import")
    expect(page.locator("#field-file .field-errors")).to_have_text(translate(
        "This is not a CSV file. Export the patient list as CSV (separated by semicolons or commas) and upload "
        "that file."))
    expect(file_input).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#import-upload-form")).to_be_visible()
    expect(page.locator("#imports-table")).not_to_contain_text("export.png")
