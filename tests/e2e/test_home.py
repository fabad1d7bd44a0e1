"""The home page per role (issue 17 item 6), as each demo user sees it after signing in: the front desk's day
across therapists, a therapist's own day and their patients' next appointments, the admin's hub health and failed
events, billing's read-only day; each item leads to where it is handled."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.accounts.models import User
from app.patients.models import Patient
from app.platform.database import utcnow
from app.platform.extensions import db
from app.tenancy.models import Practice
from tests.appointment_data import add_appointment, add_event

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def today(live_app):
    """An appointment of demo therapist Thomas Therapeut's patient starting now, and a failed webhook event."""
    with live_app.app_context():
        practice = db.session.scalar(select(Practice).where(Practice.slug == "demo"))
        thomas = db.session.scalar(select(User).where(User.email == "therapeut@demo.test"))
        patient = db.session.scalar(select(Patient).where(Patient.practice_id == practice.id,
                                                          Patient.therapist_id == thomas.id).order_by(Patient.id))
        appointment = add_appointment(practice, patient, utcnow(), therapist_id=thomas.id,
                                      service_name="Heute-Behandlung", external_id="home-e2e-1")
        # a Cal.com event: the booking endpoint of the demo practice is created by test_webhooks_admin through the page
        event = add_event(practice, utcnow(), source="calcom", attempt="error")
        ids = {"appointment": appointment.id, "patient": patient.id, "event": event.id}
        db.session.remove()
    return ids


def test_front_desk_opens_todays_patient_from_the_home_page(page, base_url, sign_in, today, translate):
    """The front desk lands on the practice's day, sees the appointment with its therapist and opens the
    patient's Termine tab from it; no permission codes are shown."""
    sign_in("empfang@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    row = page.locator(f"#home-today-{today['appointment']}")
    expect(row).to_contain_text("Heute-Behandlung")
    expect(row).to_contain_text("Thomas Therapeut")
    expect(page.locator("main")).not_to_contain_text("patients.read")
    expect(page.locator("#home-hub-health")).to_have_count(0)
    row.locator("a").first.click()
    expect(page).to_have_url(f"{base_url}/patients/{today['patient']}/termine")


def test_therapist_sees_their_day(page, sign_in, today):
    """The therapist sees the appointment in "My day", not the practice's day."""
    sign_in("therapeut@demo.test")
    expect(page.locator(f"#home-my-day-{today['appointment']}")).to_contain_text("Heute-Behandlung")
    expect(page.locator("#home-today")).to_have_count(0)
    expect(page.locator("#home-next-appointments")).to_be_visible()


def test_admin_follows_a_failed_event_from_the_home_page(page, base_url, sign_in, today):
    """The admin sees the hub's health and the failed event, and opens the event's detail from it."""
    sign_in("admin@demo.test")
    expect(page.locator("#home-hub-health")).to_be_visible()
    page.locator(f"#home-failed-events-{today['event']} a").click()
    expect(page).to_have_url(f"{base_url}/webhooks/events/{today['event']}")


def test_billing_reads_the_day_without_admin_panels(page, sign_in, today):
    """Billing may read appointments: it sees the day, but no hub health, events or patient checks."""
    sign_in("abrechnung@demo.test")
    expect(page.locator(f"#home-today-{today['appointment']}")).to_be_visible()
    for panel in ("#home-hub-health", "#home-failed-events", "#home-phone-check"):
        expect(page.locator(panel)).to_have_count(0)
