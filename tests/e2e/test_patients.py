"""Patients as staff click through them: active search, creating a patient with inline validation, phones that
cannot be normalised, the record's tabs, a therapist's restricted view, and archiving and restoring."""

import re
from uuid import uuid4

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.patients.models import Patient
from app.platform.extensions import db
from app.tenancy.models import Practice

pytestmark = pytest.mark.e2e

DEMO_NAMES = ("Becker", "Schulz", "Hoffmann", "Wagner", "Fischer", "Weber")


def demo_patient_id(live_app, first_name, last_name):
    """The id of a patient of the demo practice, read from the live server's database."""
    with live_app.app_context():
        practice_id = db.session.scalar(select(Practice.id).where(Practice.slug == "demo"))
        patient_id = db.session.scalar(select(Patient.id).where(
            Patient.practice_id == practice_id, Patient.first_name == first_name, Patient.last_name == last_name))
        db.session.remove()
    assert patient_id is not None, f"no patient {first_name} {last_name} in the demo practice"
    return patient_id


def table_rows(page):
    """The patient rows of the list (not the empty-state row)."""
    return page.locator("#patients-table tbody tr[id^='patient-row-']")


def open_patients(page, base_url, sign_in, email):
    """Sign in and open the patient list from the main navigation."""
    sign_in(email)
    expect(page).to_have_url(f"{base_url}/")
    page.locator("#main-nav a[href='/patients/']").click()
    expect(page).to_have_url(f"{base_url}/patients/")
    expect(page.locator("#patients-table")).to_be_visible()


def mark_page(page):
    """Tag the current document, so a test can tell that htmx swapped a fragment instead of loading a page."""
    page.evaluate("() => { window.__noReload = true; }")


def assert_no_page_load(page):
    """The document tagged by mark_page is still the one shown."""
    assert page.evaluate("() => window.__noReload === true"), "the page was reloaded instead of swapped by htmx"


def wait_for_htmx_idle(page):
    """Wait until no htmx request is in flight. The fields validate with hx-sync="closest form:abort", which drops
    a field's check while another field's check is still running; a person is never that fast, a test is."""
    page.wait_for_function("() => document.querySelector('.htmx-request') === null")


def test_assistant_searches_as_she_types(page, base_url, sign_in):
    """An assistant types part of a name, then a German birth date, into the search box and clears it again."""
    open_patients(page, base_url, sign_in, "empfang@demo.test")
    rows = table_rows(page)
    for name in DEMO_NAMES:
        expect(rows.filter(has_text=name)).to_have_count(1)
    all_count = rows.count()
    mark_page(page)
    search = page.locator("#patient-search-q")

    search.press_sequentially("Beck")

    expect(page).to_have_url(re.compile(r"/patients/\?(.*&)?q=Beck(&|$)"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Becker, Lena")
    for name in DEMO_NAMES[1:]:
        expect(page.locator("#patients-table")).not_to_contain_text(name)
    assert_no_page_load(page)

    search.fill("12.04.1985")

    expect(page).to_have_url(re.compile(r"/patients/\?(.*&)?q=12\.04\.1985(&|$)"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Becker, Lena")
    expect(rows.first).to_contain_text("12.04.1985")
    assert_no_page_load(page)

    search.fill("")

    expect(page).to_have_url(re.compile(r"/patients/\?(.*&)?q=(&|$)"))
    expect(rows).to_have_count(all_count)
    for name in DEMO_NAMES:
        expect(rows.filter(has_text=name)).to_have_count(1)
    assert_no_page_load(page)


def test_admin_creates_patient_and_fixes_email_inline(page, base_url, sign_in, translate):
    """An admin types an invalid email, sees the error on leaving the field, corrects it and creates the patient."""
    last_name = f"Neumann-{uuid4().hex[:8]}"
    sign_in("admin@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    page.goto("/patients/")
    page.locator("#new-patient-link").click()
    expect(page).to_have_url(f"{base_url}/patients/new")
    form = page.locator("#patient-form")
    email = form.locator("[name=email]")
    errors = page.locator("#field-email .field-errors")

    form.locator("[name=first_name]").fill("Nina")
    form.locator("[name=last_name]").fill(last_name)
    form.locator("[name=phone]").fill("0170 1234567")
    email.fill("nina-at-example")
    wait_for_htmx_idle(page)
    with page.expect_response(lambda response: response.url.endswith("/patients/validate/email")) as checked:
        email.press("Tab")

    assert checked.value.status == 422
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(errors).to_have_text(translate("“%(value)s” is not a valid email address.", value="nina-at-example"))
    expect(email).to_have_attribute("aria-describedby", "email-errors")
    expect(page).to_have_url(f"{base_url}/patients/new")

    email.fill("nina@example.test")
    wait_for_htmx_idle(page)
    with page.expect_response(lambda response: response.url.endswith("/patients/validate/email")) as checked:
        email.press("Tab")

    assert checked.value.status == 200
    expect(errors).to_have_count(0)
    expect(email).not_to_have_attribute("aria-invalid", "true")
    expect(email).to_have_value("nina@example.test")

    form.get_by_role("button", name=translate("Create patient")).click()

    expect(page).to_have_url(re.compile(re.escape(f"{base_url}/patients/") + r"\d+$"))
    expect(page.locator("#patient-name")).to_have_text(f"Nina {last_name}")
    expect(page.locator("#patient-tab")).to_have_attribute("data-tab", "stammdaten")
    expect(page.locator("#patient-tab")).to_contain_text("0170 1234567")


@pytest.mark.parametrize(("typed", "shown", "marked"), [
    ("0151 1112223", "+49 1511112223", False),
    ("bitte zurückrufen", "bitte zurückrufen", True),
])
def test_front_desk_creates_patients_whatever_the_phone_says(page, base_url, sign_in, translate, typed, shown,
                                                             marked):
    """The front desk (German UI) creates a patient with a mobile number of a range the phone library does not
    know yet, and one with a note instead of a number: both are saved; only the note is marked
    "Telefonnummer prüfen", in the record and in the list."""
    last_name = f"Anrufer-{uuid4().hex[:8]}"
    check = translate("Check phone number")
    assert check == "Telefonnummer prüfen"
    sign_in("empfang@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    page.goto("/patients/new")
    form = page.locator("#patient-form")
    form.locator("[name=first_name]").fill("Ida")
    form.locator("[name=last_name]").fill(last_name)
    form.locator("[name=phone]").fill(typed)
    wait_for_htmx_idle(page)
    with page.expect_response(lambda response: response.url.endswith("/patients/validate/phone")) as checked:
        form.locator("[name=phone]").press("Tab")
    assert checked.value.status == 200
    expect(page.locator("#field-phone .field-errors")).to_have_count(0)
    expect(page.locator("#phone-help")).to_have_count(1 if marked else 0)
    if marked:
        expect(page.locator("#phone-help")).to_contain_text(check)
    form.get_by_role("button", name=translate("Create patient")).click()

    expect(page).to_have_url(re.compile(re.escape(f"{base_url}/patients/") + r"\d+$"))
    phone = page.locator("#patient-phone")
    expect(phone).to_contain_text(shown)
    expect(phone.locator("mark.phone-check")).to_have_count(1 if marked else 0)
    if marked:
        expect(phone.locator("mark.phone-check")).to_have_text(check)

    page.goto(f"/patients/?q={last_name}")
    row = table_rows(page)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(shown)
    expect(row.locator("mark.phone-check")).to_have_count(1 if marked else 0)


def test_record_tabs_switch_with_htmx(page, base_url, sign_in, live_app, translate):
    """An assistant opens a record and switches to the appointments and then the history tab."""
    patient_id = demo_patient_id(live_app, "Jonas", "Schulz")
    sign_in("empfang@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    page.goto(f"/patients/{patient_id}")
    expect(page.locator("#patient-name")).to_have_text("Jonas Schulz")
    expect(page.locator("#patient-tab")).to_have_attribute("data-tab", "stammdaten")
    mark_page(page)

    page.locator("#tab-termine").click()

    expect(page).to_have_url(f"{base_url}/patients/{patient_id}/termine")
    expect(page.locator("#patient-tab")).to_have_attribute("data-tab", "termine")
    # the demo schedule books Jonas Schulz with his therapist in the coming weeks
    expect(page.locator("#appointments-table tbody tr").first).to_be_visible()
    expect(page.locator("#tab-termine")).to_have_text(translate("Appointments"))
    assert_no_page_load(page)

    page.locator("#tab-verlauf").click()

    expect(page).to_have_url(f"{base_url}/patients/{patient_id}/verlauf")
    expect(page.locator("#patient-tab")).to_have_attribute("data-tab", "verlauf")
    expect(page.locator("#tab-verlauf")).to_have_text(translate("History"))
    view_entries = page.locator("#history-table tbody tr").filter(has_text=translate("Record opened"))
    expect(view_entries.first).to_contain_text("Emil Empfang")
    assert_no_page_load(page)
    expect(page.locator("#patient-tab")).to_have_count(1)


def test_therapist_sees_only_own_patients(page, base_url, sign_in, live_app):
    """A therapist opens the patient list, sees only her own patients, and gets a 404 for another's record."""
    other_id = demo_patient_id(live_app, "Mia", "Hoffmann")
    open_patients(page, base_url, sign_in, "therapeut@demo.test")
    rows = table_rows(page)

    for name in ("Becker", "Schulz", "Weber"):
        expect(rows.filter(has_text=name)).to_have_count(1)
    for name in ("Hoffmann", "Wagner", "Fischer"):
        expect(page.locator("#patients-table")).not_to_contain_text(name)
    expect(page.locator("#new-patient-link")).to_have_count(0)
    expect(page.locator("#import-link")).to_have_count(0)

    response = page.goto(f"/patients/{other_id}")

    assert response is not None and response.status == 404
    expect(page.locator("#error-page h1")).to_have_text("404")
    expect(page.locator("#patient-name")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("Hoffmann")


def test_admin_archives_and_restores_a_patient(page, base_url, sign_in, live_app, translate):
    """An admin archives a patient (confirming the dialog), finds it under archived patients and restores it."""
    last_name = f"Archivtest-{uuid4().hex[:8]}"
    with live_app.app_context():
        practice_id = db.session.scalar(select(Practice.id).where(Practice.slug == "demo"))
        patient = Patient(practice_id=practice_id, first_name="Arne", last_name=last_name, source="manual")
        patient.refresh_search_text()
        db.session.add(patient)
        db.session.commit()
        patient_id = patient.id
        db.session.remove()
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    sign_in("admin@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    page.goto(f"/patients/{patient_id}")
    expect(page.locator("#patient-archived")).to_have_count(0)

    page.locator("#archive-button").click()

    expect(page.locator("#patient-archived")).to_be_visible()
    expect(page).to_have_url(f"{base_url}/patients/{patient_id}")
    assert len(dialogs) == 1 and f"Arne {last_name}" in dialogs[0]
    expect(page.locator("#archive-button")).to_have_count(0)

    page.goto("/patients/")
    search = page.locator("#patient-search-q")
    search.fill(last_name)
    expect(page).to_have_url(re.compile(r"q=" + re.escape(last_name)))
    expect(page.locator("#patients-empty")).to_be_visible()
    expect(table_rows(page)).to_have_count(0)

    show = page.locator("#patient-search-archived")
    show.select_option("1")

    expect(show.locator("option:checked")).to_have_text(translate("Archived patients"))
    expect(page).to_have_url(re.compile(r"archived=1"))
    archived_row = page.locator(f"#patient-row-{patient_id}")
    expect(archived_row).to_contain_text(f"{last_name}, Arne")
    expect(table_rows(page)).to_have_count(1)

    archived_row.get_by_role("link").click()
    expect(page).to_have_url(f"{base_url}/patients/{patient_id}")
    page.locator("#restore-button").click()

    expect(page.locator("#patient-archived")).to_have_count(0)
    expect(page.locator("#archive-button")).to_be_visible()
    page.goto(f"/patients/?q={last_name}")
    expect(page.locator(f"#patient-row-{patient_id}")).to_contain_text(f"{last_name}, Arne")
    expect(page.locator("#patient-search-archived option:checked")).to_have_text(translate("Active patients"))


def test_archiving_ends_the_patient_s_meine_termine_link_for_good(page, base_url, sign_in, live_app, translate):
    """In the German UI: the admin creates a "Meine Termine" link, the patient opens it, the admin archives the
    patient, and the link answers „nicht mehr gültig“ with 404; after a restore it still does, the Termine tab
    lists it as revoked and offers a new link, which works."""
    last_name = f"Linktest-{uuid4().hex[:8]}"
    with live_app.app_context():
        practice_id = db.session.scalar(select(Practice.id).where(Practice.slug == "demo"))
        patient = Patient(practice_id=practice_id, first_name="Lina", last_name=last_name, source="manual")
        patient.refresh_search_text()
        db.session.add(patient)
        db.session.commit()
        patient_id = patient.id
        db.session.remove()
    page.on("dialog", lambda dialog: dialog.accept())
    patient_page = page.context.browser.new_context().new_page()

    def open_as_patient(url, status):
        """Open the link in the patient's own browser (no session) and check the answer."""
        response = patient_page.goto(url)
        assert response is not None and response.status == status, url

    sign_in("admin@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    page.goto(f"/patients/{patient_id}/termine")
    page.locator("#create-access-link").click()
    link_input = page.locator("#access-links-table input[id^='access-link-url-']")
    expect(link_input).to_have_count(1)
    url = link_input.input_value()
    open_as_patient(url, 200)
    expect(patient_page.locator("#portal-greeting")).to_have_text(translate("Hello %(name)s,", name="Lina"))

    page.goto(f"/patients/{patient_id}")
    page.locator("#archive-button").click()
    expect(page.locator("#patient-archived")).to_be_visible()

    open_as_patient(url, 404)
    expect(patient_page.locator("#portal-invalid")).to_have_text(translate("This link is no longer valid."))

    page.locator("#restore-button").click()
    expect(page.locator("#patient-archived")).to_have_count(0)
    open_as_patient(url, 404)
    expect(patient_page.locator("#portal-invalid")).to_have_text(translate("This link is no longer valid."))

    page.goto(f"/patients/{patient_id}/termine")
    revoked = page.locator("#access-links-table tbody[data-status='revoked']")
    expect(revoked).to_have_count(1)
    expect(revoked).to_contain_text(translate("revoked"))
    expect(page.locator("#access-links-table input[id^='access-link-url-']")).to_have_count(0)
    page.locator("#create-access-link").click()
    new_input = page.locator("#access-links-table input[id^='access-link-url-']")
    expect(new_input).to_have_count(1)
    new_url = new_input.input_value()
    assert new_url != url
    open_as_patient(new_url, 200)
    patient_page.context.close()
