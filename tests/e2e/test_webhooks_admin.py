"""Webhooks in the browser, the booking-tool flow end to end: an admin creates the booking tool's endpoint, copies
its URL and secret, the booking tool sends signed events, the event log shows them after a poll without reloading,
a therapist opens the patient and sees the appointment, and with the server's clock 25 hours later the cached
appointment stays visible with a warning."""

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
import requests
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from app.appointments import tabs as appointment_tabs
from tests.e2e.conftest import E2E_PASSWORD, click_nav

pytestmark = pytest.mark.e2e


def _send_booking_event(base_url, path, secret, payload):
    """POST ``payload`` to the live server as the booking tool would: Standard Webhooks headers signed with
    ``secret`` by the reference library."""
    body = json.dumps(payload)
    message_id, now = f"msg_{uuid4().hex}", datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
    }
    return requests.post(f"{base_url}{path}", data=body.encode(), headers=headers, timeout=10)


def test_booking_tool_events_reach_the_log_and_the_patients_termine_tab(page, base_url, sign_in, live_app,
                                                                          monkeypatch, make_live_user, translate):
    """Create → copy URL and secret (shown once) → a signed event arrives → the open log shows it after a poll
    → its detail reveals the payload → an appointment event → the therapist sees it in the Termine tab → 25 hours
    later the tab warns that the list may be out of date."""
    monkeypatch.setitem(live_app.config, "WEBHOOK_LOG_POLL_SECONDS", 1)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in("admin@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    click_nav(page, "/webhooks/events")
    expect(page).to_have_url(f"{base_url}/webhooks/events")
    page.locator("#tab-endpoints").click()
    expect(page).to_have_url(f"{base_url}/webhooks/")

    card = page.locator("#webhook-card-booking")
    card.locator("#webhook-create-booking button[type=submit]").click()
    secret_input = card.locator("#webhook-secret-booking")
    expect(secret_input).to_have_value(re.compile(r"^whsec_[A-Za-z0-9+/=]{32}$"))
    expect(card).to_contain_text(translate("The new secret, shown only now: copy it into the sending system. It is "
                                           "not shown again."))
    expect(page).to_have_url(f"{base_url}/webhooks/")
    url, secret = card.locator("#webhook-url-booking").input_value(), secret_input.input_value()
    assert re.fullmatch(r"https?://[^/]+/api/webhooks/booking/[\w-]+", url)

    for target, value in (("webhook-url-booking", url), ("webhook-secret-booking", secret)):
        card.locator(f"[data-copy-target='{target}']").click()
        page.wait_for_function("value => navigator.clipboard.readText().then(text => text === value)", arg=value)
    expect(page.locator("#toast")).not_to_be_empty()

    page.reload()
    expect(page.locator("#webhook-url-booking")).to_have_value(url)
    expect(page.locator("#webhook-secret-booking")).to_have_count(0)
    assert secret not in page.content()

    page.locator("#tab-events").click()
    expect(page).to_have_url(f"{base_url}/webhooks/events")
    table = page.locator("#webhook-events-table")
    expect(table).to_be_visible()
    payload = {"id": f"evt_{uuid4().hex[:8]}", "type": "patient.created", "occurred_at": "2025-03-01T10:00:00+01:00",
               "data": {"patient_id": f"B-{uuid4().hex[:6]}", "first_name": "Erika", "last_name": "Webhook",
                        "email": f"erika-{uuid4().hex[:6]}@example.test", "phone": "+4930123456",
                        "birth_date": "1980-04-02"}}
    response = _send_booking_event(base_url, urlsplit(url).path, secret, payload)
    assert response.status_code == 200, response.text

    row = table.locator("tbody tr", has_text=translate("New in the booking tool: %(name)s", name="E. W."))
    expect(row).to_have_count(1)
    expect(row).not_to_contain_text("patient.created")
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "processed")
    expect(page).to_have_url(f"{base_url}/webhooks/events")
    assert payload["data"]["email"] not in table.inner_text()

    row.locator("a").first.click()
    expect(page).to_have_url(re.compile(rf"{base_url}/webhooks/events/\d+$"))
    expect(page.locator("#webhook-attempts")).to_contain_text(translate("on receipt"))
    page.locator("#webhook-reveal button").click()
    expect(page.locator("#webhook-payload-text")).to_contain_text(payload["data"]["email"])

    therapist = make_live_user("therapist")
    appointment = {"id": f"evt_{uuid4().hex[:8]}", "type": "appointment.created",
                   "occurred_at": "2026-11-22T10:00:00+01:00",
                   "data": {"appointment_id": f"A-{uuid4().hex[:6]}", "patient_id": payload["data"]["patient_id"],
                            "start": (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat(),
                            "duration_minutes": 45, "therapist_name": therapist.name,
                            "service_name": "Krankengymnastik", "status": "scheduled",
                            "updated_at": datetime.now(UTC).replace(microsecond=0).isoformat()}}
    response = _send_booking_event(base_url, urlsplit(url).path, secret, appointment)
    assert response.status_code == 200 and response.json()["status"] == "processed", response.text
    page.goto("/webhooks/events")
    expect(page.locator("#webhook-events-table tbody tr:has([data-event-type='appointment.created'])")).to_have_count(1)

    # The therapist, in her own browser: the patient is hers through the appointment.
    therapist_page = page.context.browser.new_context(base_url=base_url).new_page()
    therapist_page.goto("/auth/login")
    therapist_page.locator("#login-form [name=email]").fill(therapist.email)
    therapist_page.locator("#login-form [name=password]").fill(E2E_PASSWORD)
    therapist_page.locator("#login-form button[type=submit]").click()
    expect(therapist_page).to_have_url(f"{base_url}/")
    therapist_page.goto("/patients/")
    therapist_page.locator("#patient-search-q").fill(payload["data"]["email"])
    therapist_page.locator("#patients-table a", has_text="Webhook").first.click()
    expect(therapist_page).to_have_url(re.compile(rf"{base_url}/patients/\d+$"))
    therapist_page.locator("#tab-termine").click()
    row = therapist_page.locator("[id^='appointment-row-']", has_text="Krankengymnastik")
    expect(row).to_contain_text(therapist.name)
    expect(therapist_page.locator("#appointments-stale-booking")).to_have_count(0)

    # 25 hours later nothing new has come from the booking tool: the list stays, with a warning.
    later = datetime.now(UTC) + timedelta(hours=25)
    monkeypatch.setattr(appointment_tabs, "utcnow", lambda: later)
    therapist_page.reload()
    expect(therapist_page.locator("[id^='appointment-row-']", has_text="Krankengymnastik")).to_be_visible()
    expect(therapist_page.locator("#appointments-stale-booking")).to_be_visible()
