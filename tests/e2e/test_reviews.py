"""The review list as an admin uses it (German): three patients a Cal.com sync created wait for review; Anna Admin
accepts one, ignores a test booking, and links the third to the patient the practice already has."""

from datetime import timedelta
from uuid import uuid4

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.appointments.service import apply_appointment
from app.patients.models import Patient
from app.patients.reviews.models import PatientReview
from app.platform.database import utcnow
from app.platform.extensions import db
from app.platform.security.actor import Actor
from app.providers.events import SCHEDULED, AppointmentRecord
from app.tenancy.models import Practice

pytestmark = pytest.mark.e2e


def sync_bookings(live_app, attendees):
    """Apply one Cal.com booking per (name, email) as a sync does; returns the reviews' ids by name."""
    with live_app.app_context():
        practice = db.session.scalar(select(Practice).where(Practice.slug == "demo"))
        for name, email in attendees:
            start = utcnow() + timedelta(days=2)
            apply_appointment(Actor(practice_id=practice.id), practice, AppointmentRecord(
                source="calcom", external_id=f"e2e-{uuid4().hex[:12]}", starts_at=start,
                ends_at=start + timedelta(minutes=30), status=SCHEDULED, attendee_name=name, attendee_email=email,
                therapist_name="Extern Host", therapist_email="host@cal.example", source_updated_at=utcnow()))
        db.session.commit()
        rows = db.session.execute(select(Patient.first_name, Patient.last_name, PatientReview.id).join(
            PatientReview, PatientReview.patient_id == Patient.id).where(Patient.practice_id == practice.id)).all()
        db.session.remove()
    return {f"{first} {last}": review_id for first, last, review_id in rows}


def add_existing_patient(live_app, first_name, last_name, email):
    """A patient the practice already has."""
    with live_app.app_context():
        practice_id = db.session.scalar(select(Practice.id).where(Practice.slug == "demo"))
        patient = Patient(practice_id=practice_id, first_name=first_name, last_name=last_name, email=email,
                          email_normalized=email, source="manual")
        patient.refresh_search_text()
        db.session.add(patient)
        db.session.commit()
        patient_id = patient.id
        db.session.remove()
    return patient_id


def test_admin_accepts_ignores_and_links_synced_patients(page, base_url, sign_in, live_app):
    """Each decision removes the patient from the list and lowers the count in the navigation; the link moves the
    booking to the existing record."""
    tag = uuid4().hex[:6]
    names = {"keep": f"Karla Neu{tag}", "spam": f"Test Buchung{tag}", "same": f"Otto Bekannt{tag}"}
    existing_id = add_existing_patient(live_app, "Otto", f"Bekannt{tag}", f"otto.{tag}@example.test")
    reviews = sync_bookings(live_app, [(names["keep"], f"karla.{tag}@example.test"),
                                       (names["spam"], f"test.{tag}@example.test"),
                                       (names["same"], f"otto.privat.{tag}@example.test")])
    assert set(names.values()) <= set(reviews)
    # Otto booked with his private address, so the sync made a second record; the review offers the one with his name.
    sign_in("admin@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    page.locator("#main-nav a[href='/patients/reviews/']").click()
    expect(page).to_have_url(f"{base_url}/patients/reviews/")
    expect(page.locator("h1")).to_have_text("Zu prüfende Patient:innen")
    count = page.locator("#nav-count-patient-reviews-index")
    before = int(count.inner_text())

    keep = page.locator(f"#review-row-{reviews[names['keep']]}")
    expect(keep).to_contain_text("Cal.com")
    expect(keep).to_contain_text("nicht zugeordnet")
    keep.get_by_role("button", name="Übernehmen").click()
    expect(page.locator(f"#review-row-{reviews[names['keep']]}")).to_have_count(0)
    expect(count).to_have_text(str(before - 1))

    page.locator(f"#review-row-{reviews[names['spam']]}").get_by_role("button", name="Ignorieren").click()
    expect(page.locator(f"#review-row-{reviews[names['spam']]}")).to_have_count(0)
    expect(count).to_have_text(str(before - 2))

    page.locator(f"#review-row-{reviews[names['same']]}").get_by_role("button", name="Verknüpfen …").click()
    expect(page).to_have_url(f"{base_url}/patients/reviews/{reviews[names['same']]}")
    page.locator(f"#review-matches-link-{existing_id}").click()
    expect(page).to_have_url(f"{base_url}/patients/reviews/")
    expect(page.locator(".flash")).to_contain_text(f"Mit Otto Bekannt{tag} verknüpft")
    expect(count).to_have_text(str(before - 3))

    page.get_by_role("link", name="Entschieden").click()
    decided = page.locator("#patient-reviews")
    expect(decided.locator(f"#review-row-{reviews[names['keep']]}")).to_contain_text("Übernommen")
    expect(decided.locator(f"#review-row-{reviews[names['spam']]}")).to_contain_text("Ignoriert")
    expect(decided.locator(f"#review-row-{reviews[names['same']]}")).to_contain_text("Verknüpft")
