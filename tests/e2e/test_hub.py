"""The Integration Hub in the browser, the Cal.com flow end to end against the Cal.com fake (a real HTTP server):
an admin types a wrong key and sees the inline error, then the right one; picks the default event type from the
practice's event types; saves; syncs now and watches the run finish with its counts; then Cal.com goes down, the
status card turns unreachable within one poll, and the patient's Termine tab keeps the cached appointment with a
warning."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete, select

from app.appointments.models import Appointment
from app.integrations.models import IntegrationConfig, IntegrationMapping, IntegrationMetric, ProviderHealth, SyncRun
from app.patients.models import Patient
from app.platform.extensions import db
from tests.e2e.conftest import click_nav
from tests.fakes.calcom import CalcomFake
from tests.fakes.calcom import demo_seed as calcom_demo_seed

pytestmark = pytest.mark.e2e

BERLIN = ZoneInfo("Europe/Berlin")
VALID_KEY = "cal_test_valid"
# A demo patient (app/demo.py) and a demo therapist, so the sync matches both and creates no one.
PATIENT_EMAIL = "lena.becker@example.test"
THERAPIST = {"id": 21, "name": "Thomas Therapeut", "email": "therapeut@demo.test", "username": "thomas",
             "timeZone": "Europe/Berlin"}


def _next_weekday_at(hour):
    """A time on the next weekday in Berlin, as Cal.com writes it (ISO, UTC)."""
    day = datetime.now(BERLIN).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    moment = datetime.combine(day, time(hour), BERLIN).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def calcom(live_app, monkeypatch):
    """The Cal.com fake with the demo event types and one booking of a demo patient with a demo therapist; the
    live app talks to it without retries and polls its status every second. Afterwards everything the test made
    in the demo practice's hub (config, health, runs, mappings, metrics, the synced appointment) is removed, so
    the other browser tests see the demo data as it was."""
    seed = calcom_demo_seed()
    booking = {"uid": "e2e-hub-booking", "eventTypeId": 102, "start": _next_weekday_at(10), "hosts": [THERAPIST],
               "attendee": {"name": "Lena Becker", "email": PATIENT_EMAIL, "timeZone": "Europe/Berlin"}}
    fake = CalcomFake()
    fake.seed(event_types=seed["event_types"], bookings=[booking], profile=seed["profile"])
    fake.start()
    for name, value in {"CALCOM_API_URL": fake.url, "PROVIDER_MAX_RETRIES": 0, "PROVIDER_TIMEOUT_SECONDS": 2,
                        "HUB_STATUS_POLL_SECONDS": 1}.items():
        monkeypatch.setitem(live_app.config, name, value)
    yield fake
    fake.stop()
    with live_app.app_context():
        for model in (SyncRun, IntegrationMapping, IntegrationMetric, ProviderHealth, IntegrationConfig):
            db.session.execute(delete(model).where(model.provider == "calcom"))
        db.session.execute(delete(Appointment).where(Appointment.source == "calcom",
                                                     Appointment.external_id == "e2e-hub-booking"))
        db.session.commit()
        db.session.remove()


def test_connect_cal_com_sync_and_survive_an_outage(page, base_url, sign_in, live_app, live_worker, calcom,
                                                    translate):
    """Wrong key → inline error; right key → accepted; event type picked from Cal.com's list; saved → synced now
    → the run finishes with its counts → Cal.com down → the card says unreachable at the next poll → the patient's
    cached appointment is still listed, with a warning."""
    sign_in("admin@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    click_nav(page, "/integrations/")
    expect(page).to_have_url(f"{base_url}/integrations/")
    expect(page.locator("#hub-card-calcom")).to_have_attribute("data-state", "unconfigured")

    page.locator("#hub-tab-calcom").click()
    expect(page).to_have_url(f"{base_url}/integrations/calcom")
    key = page.locator("#api_key")
    expect(key).to_have_attribute("type", "password")
    key.fill("cal_wrong_key")
    page.locator(".reveal-toggle").click()
    expect(key).to_have_attribute("type", "text")  # shown while typing, to spot a typo
    key.press("Tab")
    check = page.locator("#hub-key-check")
    expect(check).to_have_attribute("role", "alert")
    expect(check).to_contain_text(translate(
        "%(label)s refused the API key (HTTP %(status)s). Check that the key is correct, active and allowed to "
        "do this.", label="Cal.com", status=401))

    key.fill(f"  {VALID_KEY}\n")  # pasted with a stray space and line break: cleaned, not refused
    key.press("Tab")
    expect(check).to_have_attribute("role", "status")
    expect(check).to_contain_text("Praxis am See")
    page.locator("#sync_enabled").check()
    page.locator("#sync_interval_minutes").select_option("60")
    page.locator("#hub-settings-form-calcom button[type=submit]").click()
    expect(page.locator("#hub-key-help")).to_contain_text(
        translate("Set, ends in …%(hint)s. Leave the field empty to keep this key.", hint=VALID_KEY[-4:]))

    event_type = page.locator("#default_event_type_id")
    expect(event_type.locator("option", has_text="Physiotherapie")).to_have_count(1)  # loaded through the proxy
    event_type.select_option("102")
    page.locator("#hub-settings-form-calcom button[type=submit]").click()
    expect(page.locator("#default_event_type_id")).to_have_value("102")

    runs = page.locator("#hub-runs-calcom")
    runs.locator("#hub-sync-now-calcom button").click()
    finished = runs.locator("tbody tr").first
    expect(finished).to_have_attribute("data-status", "succeeded", timeout=15_000)
    expect(finished.locator(".hub-run-records")).to_contain_text("1")
    expect(runs.locator("#hub-runs-pending-calcom")).to_have_count(0)
    with live_app.app_context():
        config = db.session.scalar(select(IntegrationConfig).where(IntegrationConfig.provider == "calcom"))
        assert config.settings["default_event_type_id"] == 102 and VALID_KEY not in config.api_key
        patient_id = db.session.scalar(select(Patient.id).where(Patient.email == PATIENT_EMAIL))
        db.session.remove()

    page.locator("#hub-tab-overview").click()
    card = page.locator("#hub-card-calcom")
    expect(card).to_have_attribute("data-state", "ok")
    expect(card.locator("#hub-event-types-calcom")).to_have_text("4")  # hidden ones count too
    calls_before = calcom.request_count()
    calcom.set_scenario("down")
    page.locator("#hub-sync-calcom button").click()  # "Jetzt synchronisieren" on the card
    expect(card).to_have_attribute("data-state", "unreachable", timeout=15_000)
    expect(card.locator("#hub-failures-calcom")).to_have_text("1")
    # The finished sync also refreshes the Cal.com tab's mappings, whose event-type choice may ask the proxy
    # (a provider call once its cache has expired): let that settle, then count what the polls alone do.
    page.wait_for_load_state("networkidle")
    polled = calcom.request_count()
    page.wait_for_timeout(2_500)  # two more polls of the cards
    assert calcom.request_count() == polled > calls_before  # the sync called Cal.com; the polls never do

    page.goto(f"/patients/{patient_id}")
    page.locator("#tab-termine").click()
    expect(page.locator("#appointments-stale-calcom")).to_be_visible()
    expect(page.locator("#patient-appointments")).to_contain_text("Physiotherapie")
