"""A check-in marks the patient arrived, in German: the front desk checks in a member whose patient has an
appointment today; the patient's Termine tab then shows "angekommen" with the time, and the home page's day list
shows the arrival."""

import re
from datetime import timedelta
from uuid import uuid4

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.access.memberships import link_membership
from app.access.models import AccessProvider
from app.accounts.models import User
from app.appointments.models import Appointment
from app.demo import DEMO_PASSWORD
from app.patients.models import Patient
from app.platform.database import utcnow
from app.platform.extensions import db
from app.platform.security.actor import Actor
from app.platform.security.crypto import encrypt_secret
from app.tenancy.models import Location, Practice
from tests.fakes.fitpass import DEFAULT_SECRET, PARTNER_USER, SPORT_PARTNER, FitpassFake

pytestmark = pytest.mark.e2e


@pytest.fixture
def booked_member(live_app):
    """A Fitpass member linked to a new patient with an appointment in ten minutes, at a location of the demo
    practice with Fitpass enabled (against a fake of its own)."""
    suffix = uuid4().hex[:6].upper()
    code = f"FP-ANKUNFT{suffix}"
    with FitpassFake(members={code: {"first": "Greta", "last": f"Ankunft{suffix}", "status": "ok"}}) as fake:
        with live_app.app_context():
            practice = db.session.scalar(select(Practice).where(Practice.slug == "demo"))
            location = Location(practice_id=practice.id, name=f"Trainingsfläche {suffix}")
            patient = Patient(practice_id=practice.id, first_name="Greta", last_name=f"Ankunft{suffix}")
            patient.refresh_search_text()
            db.session.add_all([location, patient])
            db.session.flush()
            db.session.add(AccessProvider(practice_id=practice.id, location_id=location.id, provider="fitpass",
                                          base_url=fake.url, secret=encrypt_secret(DEFAULT_SECRET),
                                          settings={"sport_partner": SPORT_PARTNER, "user_id": PARTNER_USER},
                                          timeout_ms=2000))
            starts = utcnow() + timedelta(minutes=10)  # arriving a little early, as patients do
            db.session.add(Appointment(practice_id=practice.id, patient_id=patient.id, source="calcom",
                                       external_id=f"arrival-{suffix}", starts_at=starts,
                                       ends_at=starts + timedelta(hours=1), service_name="Krankengymnastik",
                                       status="scheduled"))
            db.session.commit()
            desk = db.session.scalar(select(User).where(User.email == "empfang@demo.test"))
            link_membership(Actor(desk), practice.id, "fitpass", code, patient_id=patient.id)
            data = {"code": code, "location": location.name, "patient_id": patient.id,
                    "last_name": patient.last_name}
            db.session.remove()
        yield data


def test_the_desk_checks_in_a_patient_who_has_an_appointment_today(page, base_url, sign_in, booked_member):
    sign_in("empfang@demo.test", DEMO_PASSWORD)
    expect(page).to_have_url(f"{base_url}/")
    page.locator("#main-nav").get_by_role("link", name="Check-in", exact=True).click()
    page.get_by_label("Standort").select_option(label=booked_member["location"])
    field = page.get_by_label("QR-Code des Mitglieds scannen")
    expect(field).to_be_focused()
    page.keyboard.type(booked_member["code"])
    page.keyboard.press("Enter")
    expect(page.locator("#checkin-verdict")).to_have_text("Einlass")
    expect(page.locator("#checkin-name")).to_have_text(f"Greta {booked_member['last_name']}")

    page.goto(f"/patients/{booked_member['patient_id']}")
    page.locator("#tab-termine").click()
    arrived = page.locator("#appointments-table [id^='appointment-arrived-']")
    expect(arrived).to_have_count(1)
    expect(arrived).to_have_text(re.compile(r"^angekommen \d{2}:\d{2}$"))
    time = arrived.inner_text().removeprefix("angekommen ")

    page.goto("/")
    row = page.locator("#home-today tr", has_text=booked_member["last_name"])
    expect(row).to_contain_text(time)
