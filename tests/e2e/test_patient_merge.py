"""Two records of one person, as staff meet them (issue 17, item 3): the front desk types an existing patient's
name and birth date, sees the likely duplicate in the form, opens it, then creates the new record anyway with a
reason; an admin then merges the two records after looking at what moves."""

import re
from uuid import uuid4

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.patients.models import Patient
from app.platform.audit.models import AuditEntry
from app.platform.extensions import db
from app.tenancy.models import Practice

pytestmark = pytest.mark.e2e


def _existing_patient(live_app, last_name):
    """A patient of the demo practice, born 03.05.1961; their id."""
    from datetime import date

    with live_app.app_context():
        practice_id = db.session.scalar(select(Practice.id).where(Practice.slug == "demo"))
        patient = Patient(practice_id=practice_id, first_name="Käthe", last_name=last_name,
                          birth_date=date(1961, 5, 3), source="manual")
        patient.refresh_search_text()
        db.session.add(patient)
        db.session.commit()
        patient_id = patient.id
        db.session.remove()
    return patient_id


def _type_patient(page, last_name):
    """Fill the new-patient form as the front desk does, leaving the birth date field last."""
    form = page.locator("#patient-form")
    form.locator("[name=first_name]").fill("Käthe")
    form.locator("[name=last_name]").fill(last_name)
    birth_date = form.locator("[name=birth_date]")
    birth_date.fill("03.05.1961")
    birth_date.press("Tab")


def test_front_desk_sees_the_duplicate_and_an_admin_merges_the_records(page, base_url, sign_in, live_app):
    last_name = f"Brünig-{uuid4().hex[:6]}"
    existing_id = _existing_patient(live_app, last_name)

    # The front desk starts a new record for a patient who is already there.
    sign_in("empfang@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    page.goto("/patients/")
    page.locator("#new-patient-link").click()
    expect(page).to_have_url(f"{base_url}/patients/new")
    _type_patient(page, last_name)
    panel = page.locator("#patient-duplicates")
    expect(panel).to_contain_text("Diese Person gibt es möglicherweise schon")
    expect(panel.locator(f"#duplicate-{existing_id}")).to_contain_text("gleicher Name und gleiches Geburtsdatum")
    expect(panel.locator(f"#duplicate-{existing_id}")).to_contain_text("geboren am 03.05.1961")

    # "Öffnen" shows the existing record.
    panel.get_by_role("link", name="Öffnen").click()
    expect(page).to_have_url(f"{base_url}/patients/{existing_id}")
    expect(page.locator("#patient-name")).to_have_text(f"Käthe {last_name}")

    # It is another Käthe after all: she creates the record anyway and says why.
    page.goto("/patients/new")
    _type_patient(page, last_name)
    expect(panel.locator(f"#duplicate-{existing_id}")).to_be_visible()
    reason = panel.get_by_label("Grund")
    reason.fill("Zweite Akte")
    # She adds the phone, whose check refreshes the panel, and goes on typing the reason while that refresh is on
    # its way (the refresh was sent with "Zweite Akte"): what she typed survives the refresh.
    page.evaluate("""() => document.body.addEventListener('htmx:beforeSwap', (event) => {
        if (event.detail.target.id !== 'patient-duplicates' || window.reasonTyped) return;
        window.reasonTyped = true;
        document.querySelector('#patient-duplicates [name=duplicate_reason]').value =
            'Zweite Akte, bis die Versicherung geklärt ist';
    })""")
    phone = page.locator("#patient-form [name=phone]")
    phone.fill("0171 2223334")
    phone.press("Tab")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.reasonTyped")
    expect(reason).to_have_value("Zweite Akte, bis die Versicherung geklärt ist")
    panel.get_by_role("button", name="Trotzdem anlegen").click()
    expect(page).to_have_url(re.compile(rf"{base_url}/patients/(\d+)$"))
    new_id = int(page.url.rsplit("/", 1)[1])
    assert new_id != existing_id
    with live_app.app_context():
        meta = db.session.scalar(select(AuditEntry.meta).where(AuditEntry.action == "patient.create",
                                                               AuditEntry.patient_id == new_id))
        db.session.remove()
    assert meta == {"duplicates": [existing_id], "reason": "Zweite Akte, bis die Versicherung geklärt ist"}

    # The admin merges the new record into the existing one.
    page.context.clear_cookies()
    sign_in("admin@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    page.goto(f"/patients/{new_id}")
    page.locator("#merge-link").click()
    expect(page).to_have_url(f"{base_url}/patients/{new_id}/merge")
    expect(page.locator(f"#merge-candidate-{existing_id}")).to_contain_text("gleicher Name und gleiches Geburtsdatum")
    page.locator(f"#merge-choose-{existing_id}").click()
    expect(page.locator("#merge-survivor")).to_contain_text(f"Nr. {new_id}")
    page.get_by_label("Die andere Akte").check()
    page.get_by_role("button", name="Vorschau anzeigen").click()
    expect(page.locator("#merge-survivor")).to_contain_text(f"Nr. {existing_id}")
    expect(page.locator("#merge-duplicate")).to_contain_text(f"Nr. {new_id}")
    expect(page.locator("#merge-moves")).to_contain_text("Einträge im Verlauf")
    page.get_by_role("button", name="Akten zusammenführen").click()

    expect(page).to_have_url(f"{base_url}/patients/{existing_id}")
    expect(page.locator("body")).to_contain_text("Die Akten wurden zusammengeführt")
    page.goto(f"/patients/{new_id}")
    expect(page.locator("#patient-merged-into")).to_have_attribute("href", f"/patients/{existing_id}")
    expect(page.locator("#restore-button")).to_have_count(0)
    page.locator("#patient-merged-into").click()
    page.locator("#tab-verlauf").click()
    expect(page.locator("#patient-tab")).to_contain_text("Akten zusammengeführt")


def test_a_field_checked_while_the_panel_refreshes_is_checked_as_well(page, sign_in, live_app):
    """Someone tabbing quickly through the form: a field is checked just as the panel takes in the previous check's
    answer, before htmx has settled it (20 ms). That check must still refresh the panel (a panel that replaced
    itself missed it, and the front desk saw no warning: CI, 2026-12-06)."""
    last_name = f"Brünig-{uuid4().hex[:6]}"
    existing_id = _existing_patient(live_app, last_name)
    sign_in("empfang@demo.test")
    page.goto("/patients/new")
    page.evaluate("""(lastName) => {
        const form = document.querySelector('#patient-form');
        const isPanel = (node) => node.id === 'patient-duplicates';
        new MutationObserver((mutations, observer) => {
            if (!mutations.some((m) => isPanel(m.target) || [...m.addedNodes].some(isPanel))) return;
            observer.disconnect();
            form.querySelector('[name=birth_date]').value = '03.05.1961';
            htmx.trigger(document.body, 'patient-field-checked');
        }).observe(form, {childList: true, subtree: true});
        form.querySelector('[name=first_name]').value = 'Käthe';
        form.querySelector('[name=last_name]').value = lastName;
        htmx.trigger(document.body, 'patient-field-checked');
    }""", last_name)
    expect(page.locator(f"#duplicate-{existing_id}")).to_contain_text("geboren am 03.05.1961")
