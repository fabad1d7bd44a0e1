"""The main navigation fits the screen (issue 17, item 15): at 1280 px it stays on one line without sideways scroll,
the administration's entries in the "Verwaltung" drop-down; at 390 px every entry folds into "Menü". Each role
reaches every entry it may use (the check-in statistics through the check-in page, for those who may check in),
and none it may not."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete, select

from app.patients.models import Patient
from app.patients.reviews.models import PatientReview
from app.patients.reviews.service import hold_for_review
from app.platform.extensions import db
from app.tenancy.models import Practice

pytestmark = pytest.mark.e2e

BAR = {  # the entries in the bar itself
    "admin@demo.test": ["/", "/patients/", "/patients/reviews/", "/calls/", "/access/checkin", "/scheduling/",
                        "/account/"],
    "empfang@demo.test": ["/", "/patients/", "/calls/", "/access/checkin", "/integrations/", "/scheduling/",
                          "/account/"],
    "therapeut@demo.test": ["/", "/patients/", "/scheduling/", "/account/"],
    "abrechnung@demo.test": ["/", "/patients/", "/access/stats", "/account/"],
}
# "Verwaltung", admins only (the front desk, who may open only the hub of these, has it in the bar)
ADMINISTRATION = ["/integrations/", "/users/", "/audit/", "/webhooks/events", "/mail/", "/settings/"]
THROUGH_CHECKIN = {"admin@demo.test", "empfang@demo.test"}  # statistics linked from the check-in page
EVERY_HREF = set(ADMINISTRATION) | {href for hrefs in BAR.values() for href in hrefs}

PAGE_SCROLLS_SIDEWAYS = "() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1"
NAV_HEIGHT = "() => document.getElementById('main-nav').getBoundingClientRect().height"


def _open(page, sign_in, width, email):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(email)
    expect(page.locator("#logout-button")).to_be_attached()


def _expected(email):
    return BAR[email] + (ADMINISTRATION if email == "admin@demo.test" else [])


@pytest.mark.parametrize("email", list(BAR))
def test_at_1280_px_the_bar_is_one_line_and_every_entry_is_reachable(page, base_url, sign_in, email):
    _open(page, sign_in, 1280, email)
    nav = page.locator("#main-nav")
    expect(page.locator("#nav-menu-toggle")).to_be_hidden()
    assert page.evaluate(PAGE_SCROLLS_SIDEWAYS) is False
    assert page.evaluate(NAV_HEIGHT) < 80, "the navigation wraps onto several lines"
    for href in BAR[email]:
        expect(nav.locator(f"a:not(.brand)[href='{href}']")).to_be_visible()
    hrefs = nav.locator("a:not(.brand)").evaluate_all("links => links.map(link => link.getAttribute('href'))")
    assert sorted(hrefs) == sorted(_expected(email))
    for href in EVERY_HREF - set(_expected(email)):
        expect(nav.locator(f"a:not(.brand)[href='{href}']")).to_have_count(0)
    if email == "admin@demo.test":
        menu = page.locator("#nav-group-admin")
        for href in ADMINISTRATION:
            expect(menu.locator(f"a[href='{href}']")).to_be_hidden()
        menu.get_by_text("Verwaltung", exact=True).click()
        for href in ADMINISTRATION:
            expect(menu.locator(f"a[href='{href}']")).to_be_visible()
        assert page.evaluate(PAGE_SCROLLS_SIDEWAYS) is False
        menu.locator("a[href='/webhooks/events']").click()
        expect(page).to_have_url(f"{base_url}/webhooks/events")
        page.wait_for_load_state()  # app.js listens for Escape once loaded; a key pressed before it is not seen
        # The page shown is inside the drop-down: its summary is marked, and the drop-down closes on Escape.
        expect(page.locator("#nav-group-admin > summary")).to_have_class("nav-current")
        page.locator("#nav-group-admin > summary").click()
        expect(menu.locator("a[href='/audit/']")).to_be_visible()
        page.keyboard.press("Escape")
        expect(menu.locator("a[href='/audit/']")).to_be_hidden()


@pytest.mark.parametrize("email", sorted(THROUGH_CHECKIN))
def test_the_checkin_statistics_are_reached_from_the_checkin_page(page, base_url, sign_in, email):
    _open(page, sign_in, 1280, email)
    page.locator("#main-nav a[href='/access/checkin']").click()
    expect(page).to_have_url(f"{base_url}/access/checkin")
    page.locator("#checkin-stats-link").click()
    expect(page).to_have_url(f"{base_url}/access/stats")


@pytest.mark.parametrize("email", list(BAR))
def test_at_390_px_the_entries_fold_into_the_menu(page, base_url, sign_in, email):
    _open(page, sign_in, 390, email)
    toggle = page.locator("#nav-menu-toggle")
    expect(toggle).to_have_text("Menü")
    expect(page.locator("#main-nav a[href='/account/']")).to_be_hidden()
    assert page.evaluate(PAGE_SCROLLS_SIDEWAYS) is False
    toggle.click()
    for href in BAR[email]:
        expect(page.locator(f"#main-nav a:not(.brand)[href='{href}']")).to_be_visible()
    expect(page.locator("#logout-button")).to_be_visible()
    if email == "admin@demo.test":
        page.locator("#nav-group-admin > summary").click()
        for href in ADMINISTRATION:
            link = page.locator(f"#main-nav a[href='{href}']")
            expect(link).to_be_visible()
            box = link.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate(PAGE_SCROLLS_SIDEWAYS) is False
    target = "/mail/" if email == "admin@demo.test" else BAR[email][1]
    page.locator(f"#main-nav a[href='{target}']").click()
    expect(page).to_have_url(f"{base_url}{target}")
    expect(page.locator("#main-nav a[href='/account/']")).to_be_hidden()  # folded again on the new page


@pytest.fixture
def many_to_review(live_app):
    """Twelve patients waiting on the review list (a two-digit count in the bar), removed afterwards."""
    with live_app.app_context():
        practice = db.session.scalar(select(Practice).where(Practice.slug == "demo"))
        patients = [Patient(practice_id=practice.id, first_name="Nav", last_name=f"Zähler{number:02d}",
                            source="calcom") for number in range(12)]
        for patient in patients:
            patient.refresh_search_text()
        db.session.add_all(patients)
        db.session.flush()
        ids = [patient.id for patient in patients]
        for patient_id in ids:
            hold_for_review(practice.id, patient_id, "calcom")
        db.session.commit()
        db.session.remove()
    yield
    with live_app.app_context():
        db.session.execute(delete(PatientReview).where(PatientReview.patient_id.in_(ids)))
        db.session.execute(delete(Patient).where(Patient.id.in_(ids)))
        db.session.commit()
        db.session.remove()


def test_the_counts_stay_beside_their_entries_and_the_bar_still_fits(page, sign_in, many_to_review):
    """The open calls and the patients to review keep their counts in the bar, and with both shown (one of two
    digits) an admin's bar still takes one line at 1280 px."""
    _open(page, sign_in, 1280, "admin@demo.test")
    for endpoint, href in (("calls-index", "/calls/"), ("patient-reviews-index", "/patients/reviews/")):
        expect(page.locator(f"#main-nav a[href='{href}'] #nav-count-{endpoint}")).to_be_visible()
    expect(page.locator("#nav-count-patient-reviews-index")).to_have_text(re.compile(r"^[1-9][0-9]+$"))
    expect(page.locator("#nav-menu-toggle")).to_be_hidden()
    assert page.evaluate(NAV_HEIGHT) < 80
