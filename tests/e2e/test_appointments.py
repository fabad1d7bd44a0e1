"""Appointments as staff and patients see them in the browser: a therapist opens a patient she has an appointment
with and sees it in the Termine tab, with a warning when the booking tool has been silent for 25 hours; front desk
staff create a "Meine Termine" link and the patient's page shows the appointment.

Each test works in a practice of its own, so the sync time of its booking tool cannot be changed by other tests'
events. Appointments and webhook events are inserted directly, as the webhook pipeline leaves them; "25 hours
later" is played by inserting the event 25 hours in the past instead of moving the clock."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime, format_time
from playwright.sync_api import expect

from app.accounts.models import User
from app.patients.models import Patient
from app.platform.database import utcnow
from app.platform.extensions import db
from app.platform.security.passwords import hash_password
from app.tenancy.models import Practice
from tests.appointment_data import add_appointment, add_event
from tests.e2e.conftest import E2E_PASSWORD

pytestmark = pytest.mark.e2e

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def practice_with_appointment(live_app):
    """``make(heard_hours_ago)``: a practice of its own with a therapist, an assistant and a patient assigned to
    nobody who has an appointment with the therapist in three days; the booking tool was last heard from
    ``heard_hours_ago`` hours ago."""

    def make(heard_hours_ago):
        suffix = uuid4().hex[:10]
        heard = utcnow() - timedelta(hours=heard_hours_ago)
        day = (utcnow() + timedelta(days=3)).date()
        starts_at = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
        with live_app.app_context():
            practice = Practice(slug=f"termine-{suffix}", name=f"Praxis Termine {suffix}", timezone="Europe/Berlin",
                                settings={"booking_url_template": "https://cal.com/praxis/erst?name={name}"})
            db.session.add(practice)
            db.session.flush()
            people = {role: User(practice_id=practice.id, email=f"{role}-{suffix}@termine.test", role=role,
                                 name=f"{role.title()} {suffix}", active=True,
                                 password_hash=hash_password(E2E_PASSWORD))
                      for role in ("therapist", "assistant")}
            patient = Patient(practice_id=practice.id, first_name="Greta", last_name=f"Termin-{suffix}",
                              email="greta@example.test", source="booking")
            patient.refresh_search_text()
            db.session.add_all([*people.values(), patient])
            db.session.commit()
            add_event(practice, heard)
            appointment = add_appointment(practice, patient, starts_at, synced_at=heard,
                                          therapist_id=people["therapist"].id, service_name="Manuelle Therapie")
            data = SimpleNamespace(patient_id=patient.id, last_name=patient.last_name, appointment_id=appointment.id,
                                   therapist=people["therapist"].email, assistant=people["assistant"].email,
                                   therapist_name=people["therapist"].name,
                                   time=format_time(starts_at.astimezone(BERLIN), "short", locale="de"),
                                   heard=format_datetime(heard.astimezone(BERLIN), "dd.MM.yyyy, HH:mm", locale="de"))
            db.session.remove()
        return data

    return make


def open_termine(page, base_url, sign_in, email, data):
    """Sign in, open the patient from the list as a person would, and switch to the Termine tab."""
    sign_in(email, E2E_PASSWORD)
    expect(page).to_have_url(f"{base_url}/")
    page.goto("/patients/")
    page.locator(f"#patient-row-{data.patient_id} a").first.click()
    expect(page).to_have_url(f"{base_url}/patients/{data.patient_id}")
    page.locator("#tab-termine").click()
    expect(page).to_have_url(f"{base_url}/patients/{data.patient_id}/termine")
    expect(page.locator("#tab-termine")).to_have_attribute("aria-current", "page")
    expect(page.locator("#tab-stammdaten")).not_to_have_attribute("aria-current", "page")


def test_therapist_sees_the_appointment_of_a_patient_she_treats(page, base_url, sign_in,
                                                                practice_with_appointment):
    """The patient is hers through the appointment alone; the row shows time, therapist and service, the sync time
    is shown and there is no warning."""
    data = practice_with_appointment(heard_hours_ago=1)
    open_termine(page, base_url, sign_in, data.therapist, data)

    row = page.locator(f"#appointment-row-{data.appointment_id}")
    expect(row).to_contain_text("Manuelle Therapie")
    expect(row).to_contain_text(data.therapist_name)
    expect(row).to_contain_text(data.time)
    expect(page.locator("#appointments-synced-booking")).to_be_visible()
    expect(page.locator("#appointments-stale-booking")).to_have_count(0)
    booking = page.locator("#book-appointment-link")
    expect(booking).to_have_attribute("target", "_blank")
    expect(booking).to_have_attribute("href", f"https://cal.com/praxis/erst?name=Greta%20{data.last_name}")


def test_warning_when_the_booking_tool_was_last_heard_from_25_hours_ago(page, base_url, sign_in,
                                                                       practice_with_appointment, translate):
    """The cached appointment stays visible and a warning says the list may be out of date."""
    data = practice_with_appointment(heard_hours_ago=25)
    open_termine(page, base_url, sign_in, data.therapist, data)

    expect(page.locator(f"#appointment-row-{data.appointment_id}")).to_contain_text("Manuelle Therapie")
    warning = page.locator("#appointments-stale-booking")
    expect(warning).to_be_visible()
    expect(warning).to_have_text(translate(
        "May be out of date: the booking tool was last heard from %(time)s, more than %(num)d hour ago. The list "
        "shows what was known then.",
        plural="May be out of date: the booking tool was last heard from %(time)s, more than %(num)d hours ago. "
               "The list shows what was known then.", num=24, time=data.heard))


def test_front_desk_creates_a_meine_termine_link_the_patient_opens(page, base_url, sign_in,
                                                                   practice_with_appointment, translate):
    """The assistant creates a link on the Termine tab; opened in a new page (no session needed) it greets the
    patient by first name and shows the appointment."""
    data = practice_with_appointment(heard_hours_ago=1)
    open_termine(page, base_url, sign_in, data.assistant, data)
    expect(page.locator("#access-links-empty")).to_be_visible()

    page.locator("#create-access-link").click()

    link_input = page.locator("#access-links-table input[id^='access-link-url-']")
    expect(link_input).to_have_count(1)
    url = link_input.input_value()
    assert url.startswith(f"{base_url}/meine-termine/")
    expect(page.locator("#access-links-table tbody").first).to_have_attribute("data-status", "active")

    patient_page = page.context.browser.new_context().new_page()
    response = patient_page.goto(url)
    assert response is not None and response.status == 200
    expect(patient_page.locator("#portal-greeting")).to_have_text(translate("Hello %(name)s,", name="Greta"))
    appointment = patient_page.locator(f"#portal-appointment-{data.appointment_id}")
    expect(appointment).to_contain_text("Manuelle Therapie")
    expect(appointment).to_contain_text(data.time)
    expect(patient_page.locator("body")).not_to_contain_text(data.last_name)
    patient_page.context.close()
