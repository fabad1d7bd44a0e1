"""The Integration Hub's Fitpass tab as an admin reads it, in German: after the desk checked two members in at a
location, the tab shows the provider's status, how many calls it answered, the success rate and response time,
the 24-hour chart and the location, and leads to the access settings."""

import re

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


def scan(page, code, reason):
    """Type the code and Enter into the focused field, as a keyboard-wedge scanner does, and wait for the card
    to give ``reason``."""
    scan_code(page, code)
    expect(page.locator("#checkin-reason")).to_contain_text(reason)


def test_admin_reads_fitpass_status_and_metrics_in_the_hub(page, base_url, sign_in, fitpass):
    sign_in("admin@demo.test", DEMO_PASSWORD)
    page.goto("/access/settings")
    section = page.locator("section", has=page.get_by_role("heading", name=LOCATION))
    card = section.locator("article[id$='-fitpass']")
    card.get_by_label("API-Adresse").fill(fitpass.url)
    card.get_by_label("Partner-Geheimschlüssel (von Fitpass)").fill(DEFAULT_SECRET)
    card.get_by_label("Sportpartner-ID").fill(str(SPORT_PARTNER))
    card.get_by_label("Benutzer-ID des Partnerkontos").fill(str(PARTNER_USER))
    card.get_by_role("button", name="Speichern").click()
    expect(section.locator("article[id$='-fitpass'] .badge")).to_have_text("aktiviert")

    page.goto("/access/checkin")
    page.get_by_label("Standort").select_option(label=LOCATION)
    fitpass.reset()
    scan(page, "FP-INACTV02", "nicht aktiv")
    scan(page, "FP-ENDED005", "abgelaufen")
    assert len(fitpass.requests) == 2

    page.goto("/integrations/")
    page.locator("#hub-tabs").get_by_role("link", name="Fitpass").click()
    expect(page).to_have_url(f"{base_url}/integrations/access/fitpass")
    requests_seen = len(fitpass.requests)
    status = page.locator("#hub-card-fitpass")
    expect(status.get_by_role("heading", name="Fitpass")).to_be_visible()
    expect(status.locator("#hub-state-fitpass")).to_have_text(re.compile(r"^(OK|eingeschränkt|nicht erreichbar)$"))
    expect(status.locator("#hub-access-enabled-fitpass")).to_contain_text("Standort")
    calls = int(status.locator("#hub-access-calls-fitpass").inner_text())
    assert calls >= 2
    expect(status.locator("#hub-access-success-fitpass")).to_have_text(re.compile(r"\d+\s?%"))
    expect(status.locator("#hub-access-latency-fitpass")).to_have_text(re.compile(r"\d+ ms"))
    chart = page.locator("#hub-chart-fitpass")
    expect(chart).to_contain_text("in den letzten 24 Stunden")
    expect(chart.locator("svg").first).to_be_visible()
    locations = page.locator("#hub-access-locations")
    expect(locations.get_by_role("row", name=re.compile(LOCATION))).to_contain_text("aktiviert")
    assert len(fitpass.requests) == requests_seen  # reading the tab asked Fitpass nothing

    status.get_by_role("link", name="Einlass-Einstellungen").click()
    expect(page).to_have_url(f"{base_url}/access/settings")
