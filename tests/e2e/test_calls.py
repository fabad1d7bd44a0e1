"""The calls inbox as the front desk uses it (German): a call from an unknown number is highlighted, assigned to a
new patient prefilled with the caller's number, and marked done; the open count in the navigation drops."""

import random
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.appointments.models import Call
from app.platform.database import utcnow
from app.platform.extensions import db
from app.tenancy.models import Practice

pytestmark = pytest.mark.e2e


def add_unknown_call(live_app):
    """A fresh call of the demo practice from a number no patient has; returns (call id, national number)."""
    subscriber = f"{random.randrange(10**6, 10**7)}"  # noqa: S311 (test data)
    with live_app.app_context():
        practice_id = db.session.scalar(select(Practice.id).where(Practice.slug == "demo"))
        call = Call(practice_id=practice_id, external_id=f"e2e-call-{subscriber}", direction="inbound",
                    from_number=f"+49170{subscriber}", to_number="+4930555000", status="ended",
                    started_at=utcnow() - timedelta(minutes=3), duration_ms=75_000, sentiment="Negative",
                    summary=f"Anrufer {subscriber} möchte einen Termin für nächste Woche.")
        db.session.add(call)
        db.session.commit()
        call_id = call.id
        db.session.remove()
    return call_id, f"0170 {subscriber}"


def nav_count(page):
    """The open count beside "Anrufe" in the navigation."""
    return int(page.locator("#nav-count-calls-index").inner_text())


def test_front_desk_assigns_an_unknown_caller_to_a_new_patient_and_marks_the_call_done(page, base_url, sign_in,
                                                                                      live_app):
    """Emil Empfang opens the inbox from the navigation, finds the highlighted call without a patient, creates the
    caller as a new patient (the number is already filled in), then marks the call done and sees the count drop."""
    call_id, number = add_unknown_call(live_app)
    sign_in("empfang@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    page.locator("#main-nav a[href='/calls/']").click()
    expect(page).to_have_url(f"{base_url}/calls/")
    expect(page.locator("h1")).to_have_text("Anrufe")
    before = nav_count(page)
    assert before >= 1

    row = page.locator(f"#call-row-{call_id}")
    expect(row).to_have_class("call-unmatched")
    expect(row).to_contain_text("Ohne Patient:in")
    expect(row).to_contain_text(number)
    expect(row).to_contain_text("Negativ")

    row.get_by_role("link", name="Zuordnen").click()
    expect(page).to_have_url(f"{base_url}/calls/{call_id}")
    page.get_by_role("button", name="Neue Patient:in mit dieser Nummer anlegen").click()
    expect(page.locator("#phone")).to_have_value(number)
    page.get_by_label("Vorname").fill("Ida")
    page.get_by_label("Nachname").fill(f"Anruferin{call_id}")
    page.get_by_role("button", name="Anlegen und Anruf zuordnen").click()

    expect(page).to_have_url(f"{base_url}/calls/{call_id}")
    expect(page.locator("#call-patient")).to_have_text(f"Ida Anruferin{call_id}")
    expect(page.locator(".flash")).to_contain_text("wurde angelegt und der Anruf zugeordnet")

    page.locator("#main-nav a[href='/calls/']").click()
    row = page.locator(f"#call-row-{call_id}")
    expect(row).not_to_have_class("call-unmatched")
    expect(row).to_contain_text(f"Ida Anruferin{call_id}")
    row.get_by_role("button", name="Erledigt").click()

    expect(page.locator(f"#call-row-{call_id}")).to_contain_text("von Emil Empfang")
    expect(page.locator("#nav-count-calls-index")).to_have_text(str(before - 1))
    expect(page.locator("#toast")).to_contain_text("Anruf als erledigt markiert.")
