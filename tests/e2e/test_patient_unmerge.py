"""Undoing a merge, as an admin meets it (issue 17, item 3): two records of "the same" Käthe are merged, the admin
sees it was the wrong pair, undoes the merge from the merged record's banner, reads what went back, and finds both
records in the patient list again, the appointment back where it was."""

from datetime import date, timedelta
from uuid import uuid4

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.appointments.models import Appointment
from app.patients.models import Patient
from app.platform.database import utcnow
from app.platform.extensions import db
from app.tenancy.models import Practice

pytestmark = pytest.mark.e2e


def _two_records(live_app, last_name):
    """Two records of Käthe ``last_name`` born 03.05.1961, the second with an appointment; their ids and the
    appointment's."""
    with live_app.app_context():
        practice_id = db.session.scalar(select(Practice.id).where(Practice.slug == "demo"))
        records = [Patient(practice_id=practice_id, first_name="Käthe", last_name=last_name,
                           birth_date=date(1961, 5, 3), source="manual") for _ in range(2)]
        for patient in records:
            patient.refresh_search_text()
        db.session.add_all(records)
        db.session.flush()
        start = utcnow() + timedelta(days=3)
        appointment = Appointment(practice_id=practice_id, patient_id=records[1].id, source="booking",
                                  external_id=f"E2E-{last_name}", starts_at=start, ends_at=start + timedelta(hours=1))
        db.session.add(appointment)
        db.session.commit()
        ids = (*(patient.id for patient in records), appointment.id)
        db.session.remove()
    return ids


def test_an_admin_merges_then_undoes_and_sees_both_records_again(page, base_url, sign_in, live_app):
    last_name = f"Wendt-{uuid4().hex[:6]}"
    first_id, second_id, appointment_id = _two_records(live_app, last_name)
    sign_in("admin@demo.test")
    expect(page).to_have_url(f"{base_url}/")

    # The admin merges the second record into the first.
    page.goto(f"/patients/{first_id}/merge")
    page.locator(f"#merge-choose-{second_id}").click()
    expect(page.locator("#merge-duplicate")).to_contain_text(f"Nr. {second_id}")
    page.get_by_role("button", name="Akten zusammenführen").click()
    expect(page).to_have_url(f"{base_url}/patients/{first_id}")
    expect(page.locator("body")).to_contain_text("Die Akten wurden zusammengeführt")

    # Wrong pair: from the merged record's banner she undoes it, after reading what goes back.
    page.goto(f"/patients/{second_id}")
    expect(page.locator("#patient-archived")).to_contain_text(f"Mit Akte Nr. {first_id} zusammengeführt")
    page.get_by_role("button", name="Zusammenführung rückgängig machen").click()
    expect(page).to_have_url(f"{base_url}/patients/{second_id}/merge/undo")
    expect(page.locator("#unmerge-survivor")).to_contain_text(f"Nr. {first_id}")
    expect(page.locator("#unmerge-returned")).to_contain_text("Termine: 1")
    page.locator("#unmerge-confirm-button").click()

    expect(page.locator("#unmerge-done")).to_contain_text("Dies ist wieder eine eigene Akte")
    expect(page.locator("body")).to_contain_text("Die Zusammenführung wurde rückgängig gemacht")
    expect(page.locator("#unmerge-returned")).to_contain_text("Termine: 1")
    expect(page.locator("#unmerge-left")).to_have_count(0)

    # Both records are in the list again, the appointment back on the second.
    page.goto("/patients/")
    page.locator("#patient-search-q").fill(last_name)
    expect(page.locator(f"#patient-row-{first_id}")).to_be_visible()
    expect(page.locator(f"#patient-row-{second_id}")).to_be_visible()
    page.goto(f"/patients/{second_id}")
    expect(page.locator("#patient-archived")).to_have_count(0)
    page.locator("#tab-termine").click()
    expect(page.locator(f"#appointment-row-{appointment_id}")).to_be_visible()
    page.locator("#tab-verlauf").click()
    expect(page.locator("#patient-tab")).to_contain_text("Zusammenführung rückgängig gemacht")
