"""The event log and the record's Verlauf tab in the browser (issue 17, items 9 and 10): an admin reads a cancelled
appointment as one plain line in the event log, follows its link to the patient, opens the record a few times and
finds the openings as one line with a count beside the cancellation the booking tool sent; "Nur Änderungen" hides
the openings. Played in the second demo practice, whose booking endpoint no other browser test creates."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.appointments.models import Appointment
from app.patients.models import Patient
from app.platform.extensions import db
from app.tenancy.models import Practice
from app.webhooks.models import WebhookEndpoint
from app.webhooks.redaction import preview
from tests.e2e.conftest import click_nav
from tests.webhook_factories import make_endpoint, make_event

pytestmark = pytest.mark.e2e
STARTS = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)  # 14:00 in Vienna


@pytest.fixture
def cancelled_appointment(live_app):
    """Sophie Gruber's appointment on 7 December at 14:00, cancelled through the booking tool: the cached
    appointment and the processed event, as the receiver stores them. Returns the patient's id."""
    with live_app.app_context():
        practice = db.session.scalar(select(Practice).where(Practice.slug == "zweite"))
        patient = db.session.scalar(select(Patient).where(Patient.booking_system_id == "ZW-001"))
        external_id = f"ZW-A-{datetime.now(UTC).timestamp():.0f}"
        db.session.add(Appointment(practice_id=practice.id, patient_id=patient.id, source="booking",
                                   external_id=external_id, starts_at=STARTS, ends_at=STARTS + timedelta(minutes=45),
                                   status="cancelled", service_name="Physiotherapie",
                                   created_at=STARTS - timedelta(days=10), synced_at=datetime.now(UTC)))
        db.session.commit()
        endpoint = db.session.scalar(select(WebhookEndpoint).where(
            WebhookEndpoint.practice_id == practice.id, WebhookEndpoint.source == "booking")) or make_endpoint(practice)
        payload = {"id": "evt_history", "type": "appointment.cancelled", "occurred_at": "2026-12-06T10:00:00+01:00",
                   "data": {"appointment_id": external_id, "patient_id": "ZW-001", "first_name": "Sophie",
                            "last_name": "Gruber", "start": "2026-12-07T14:00:00+01:00", "status": "cancelled"}}
        detail = f"appointment booking:{external_id}: stored (cancelled)"
        make_event(endpoint, event_type="appointment.cancelled", payload=payload, preview=preview(payload),
                   attempts=[{"outcome": "processed", "detail": detail}])
        patient_id = patient.id
        db.session.remove()
    return patient_id


def test_event_line_leads_to_the_patient_whose_history_groups_openings(page, base_url, sign_in, translate,
                                                                       cancelled_appointment):
    """Event log → "Patient öffnen" → the record, opened three times → Verlauf shows one line "Akte 3-mal
    geöffnet" and the cancellation → "Nur Änderungen" leaves only the changes."""
    sign_in("admin@zweite.test")
    expect(page).to_have_url(f"{base_url}/")
    click_nav(page, "/webhooks/events")
    line = translate("Appointment on %(when)s cancelled", when="07.12. 14:00") + " – S. G."
    row = page.locator("#webhook-events-table tbody tr", has_text=line)
    expect(row).to_have_count(1)
    expect(row).not_to_contain_text("appointment.cancelled")
    row.get_by_role("link", name=translate("Open patient")).click()
    expect(page).to_have_url(f"{base_url}/patients/{cancelled_appointment}")
    page.reload()
    page.reload()

    page.locator("#tab-verlauf").click()
    expect(page).to_have_url(f"{base_url}/patients/{cancelled_appointment}/verlauf")
    history = page.locator("#history-table")
    opened = history.locator("tr.history-view", has_text=translate("Record opened %(num)d times") % {"num": 3})
    expect(opened).to_have_count(1)
    expect(opened).to_contain_text("Zora Zweite")
    cancellation = translate("Appointment on %(when)s cancelled", when="07.12.2026, 14:00")
    expect(history.locator("tr.history-change", has_text=cancellation)).to_have_count(1)

    page.get_by_label(translate("Changes only")).check()
    expect(page).to_have_url(re.compile(rf"{base_url}/patients/{cancelled_appointment}/verlauf\?nur=aenderungen$"))
    expect(page.locator("#history-table tr.history-view")).to_have_count(0)
    expect(page.locator("#history-table tr.history-change", has_text=cancellation)).to_have_count(1)
    page.reload()
    expect(page.get_by_label(translate("Changes only"))).to_be_checked()
    expect(page.locator("#history-table tr.history-view")).to_have_count(0)
