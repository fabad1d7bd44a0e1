"""The check-in desk as a practice uses it, in German: an admin enables Fitpass at a location on the settings page,
the desk links a patient by scanning, checks them in, lets them back in within the re-entry window without asking
Fitpass, sees why a refused code is refused, and lets a member in by hand while Fitpass is down."""

import pytest
from playwright.sync_api import expect

from app.demo import DEMO_PASSWORD
from tests.e2e.conftest import scan_code
from tests.fakes.fitpass import DEFAULT_SECRET, PARTNER_USER, SPORT_PARTNER, FitpassFake

pytestmark = pytest.mark.e2e

LOCATION = "Praxis am Park – Mitte"


@pytest.fixture(scope="module")
def fitpass():
    """The Fitpass fake the admin points the location at."""
    with FitpassFake() as fake:
        yield fake


def test_enable_link_check_in_reenter_refuse_and_override(page, base_url, sign_in, fitpass):
    sign_in("admin@demo.test", DEMO_PASSWORD)
    page.goto("/access/settings")
    section = page.locator("section", has=page.get_by_role("heading", name=LOCATION))
    card = section.locator("article[id$='-fitpass']")
    card.get_by_label("API-Adresse").fill(fitpass.url)
    card.get_by_label("Partner-Geheimschlüssel (von Fitpass)").fill(DEFAULT_SECRET)
    card.get_by_label("Sportpartner-ID").fill(str(SPORT_PARTNER))
    card.get_by_label("Benutzer-ID des Partnerkontos").fill(str(PARTNER_USER))
    card.get_by_label("Zeitfenster für Wiedereintritt").fill("3")
    card.get_by_role("button", name="Speichern").click()
    card = section.locator("article[id$='-fitpass']")
    expect(card.locator(".badge")).to_have_text("aktiviert")

    page.locator("#main-nav").get_by_role("link", name="Check-in", exact=True).click()
    expect(page).to_have_url(f"{base_url}/access/checkin")
    page.get_by_label("Standort").select_option(label=LOCATION)
    fitpass.reset()
    scan_code(page, "FP-7Q2K9D4M")
    result = page.locator("#checkin-card")
    expect(result.locator("#checkin-verdict")).to_have_text("Einlass")
    expect(result.locator("#checkin-membership")).to_have_text("nicht verknüpft")

    page.get_by_label("Patienten suchen").fill("Becker")
    expect(page.locator("#link-patient-options option")).to_have_text("Becker, Lena (12.04.1985)")
    page.get_by_role("button", name="Mitgliedschaft verknüpfen").click()
    expect(page.locator("#checkin-membership")).to_have_text("verknüpft mit Lena Becker")

    page.wait_for_timeout(1100)  # one second apart: a scan within a second is the same scan (double-scan guard)
    scan_code(page, "FP-7Q2K9D4M")
    expect(page.locator("#checkin-reason")).to_have_text(
        "Wiedereintritt im Zeitfenster: gewährt, ohne den Anbieter zu fragen.")
    expect(page.locator("#checkin-name")).to_have_text("Lena Becker")
    expect(page.locator("#checkin-reentry")).to_have_text("ja")
    assert len(fitpass.requests) == 1  # the re-entry did not ask Fitpass

    scan_code(page, "FP-ENDED005")
    expect(page.locator("#checkin-verdict")).to_have_text("Kein Einlass")
    expect(page.locator("#checkin-reason")).to_have_text("Die Mitgliedschaft oder das Abo ist abgelaufen.")
    expect(page.locator("#checkin-provider-message")).to_contain_text("Abonnement abgelaufen.")

    fitpass.set_scenario("down")
    scan_code(page, "FP-3H8W1C6X")
    expect(page.locator("#checkin-reason")).to_contain_text("Der Anbieter ist nicht erreichbar.")
    page.get_by_label("Grund").fill("Mitgliedskarte vorgezeigt")
    page.get_by_role("button", name="Einlass gewähren").click()
    expect(page.locator("#checkin-verdict")).to_have_text("Einlass")
    expect(page.locator("#checkin-override")).to_contain_text("Eingelassen von Anna Admin: Mitgliedskarte vorgezeigt")
    fitpass.reset()

    page.set_viewport_size({"width": 390, "height": 844})  # a phone at the door: all fits, no sideways scroll
    expect(page.locator("#checkin-card")).to_be_visible()
    expect(page.get_by_role("button", name="Doch abweisen")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
