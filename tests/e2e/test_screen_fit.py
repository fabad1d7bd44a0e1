"""Fits the screen (issue 17 item 15), measured in the browser: at 1280 px no table is cut off (patients, audit,
event detail); at 390 px the Termine tab, the patient list and "Meine Termine" have no horizontal scroll (cards
instead of wide tables); a toast never covers the button the user needs next (the one-time secret's copy button,
the new link's revoke); the hub's charts have axes, units and time labels; the hub overview has a card for the
booking tool; the front desk sees no provider keys."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.patients.models import Patient
from app.platform.database import utcnow
from app.platform.extensions import db
from app.tenancy.models import Practice
from tests.appointment_data import add_appointment, add_event

pytestmark = pytest.mark.e2e

# Every table's scroll box (its .overflow-auto wrapper, else its parent) must show the whole table.
TABLES_CUT_OFF = """() => Array.from(document.querySelectorAll('main table')).filter(table => {
  const box = table.closest('.overflow-auto') || table.parentElement;
  return box.scrollWidth > box.clientWidth + 1
      || table.getBoundingClientRect().right > document.documentElement.clientWidth + 1;
}).map(table => table.id || table.className || 'table')"""
PAGE_SCROLLS_SIDEWAYS = """() => {
  const boxes = [document.documentElement, ...document.querySelectorAll('main .overflow-auto')];
  return boxes.filter(box => box.scrollWidth > box.clientWidth + 1).map(box => box.id || box.className || 'page');
}"""
OVERLAP = """([toastSelector, buttonSelector]) => {
  const button = document.querySelector(buttonSelector).getBoundingClientRect();
  return Array.from(document.querySelectorAll(toastSelector)).some(toast => {
    const box = toast.getBoundingClientRect();
    return !(box.right <= button.left || box.left >= button.right
             || box.bottom <= button.top || box.top >= button.bottom);
  });
}"""


@pytest.fixture(scope="module")
def demo_records(live_app):
    """A demo patient with a long-named appointment today, and a webhook event with a long event type."""
    with live_app.app_context():
        practice = db.session.scalar(select(Practice).where(Practice.slug == "demo"))
        patient = db.session.scalars(select(Patient).where(Patient.practice_id == practice.id)
                                     .order_by(Patient.id)).first()
        add_appointment(practice, patient, utcnow(), service_name="Manuelle Lymphdrainage mit Kompressionsbandage",
                        therapist_name="Dr. med. Konstantin Langname-Beispielhausen", external_id="fit-1")
        # a Cal.com event: the booking endpoint of the demo practice is created by test_webhooks_admin through the page
        event = add_event(practice, utcnow(), source="calcom", attempt="error")
        ids = {"patient": patient.id, "event": event.id}
        db.session.remove()
    return ids


def _sign_in_at(page, sign_in, width, email="admin@demo.test"):
    """Sign in with the viewport ``width`` px wide (and 900 high)."""
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(email)


@pytest.mark.parametrize("path", ["/patients/", "/audit/", "/webhooks/events/{event}"])
def test_no_table_is_cut_off_at_1280(page, sign_in, demo_records, path):
    """At 1280 px every table of the page fits its box."""
    _sign_in_at(page, sign_in, 1280)
    page.goto(path.format(**demo_records))
    expect(page.locator("main table").first).to_be_visible()
    assert page.evaluate(TABLES_CUT_OFF) == []


@pytest.mark.parametrize("path", ["/patients/", "/patients/{patient}/termine", "/"])
def test_no_sideways_scroll_at_390(page, sign_in, demo_records, path):
    """At 390 px (a phone) the patient list, the Termine tab and the home page need no horizontal scrolling."""
    _sign_in_at(page, sign_in, 390, "empfang@demo.test")
    page.goto(path.format(**demo_records))
    expect(page.locator("main table").first).to_be_visible()
    assert page.evaluate(PAGE_SCROLLS_SIDEWAYS) == []
    # Cards: each cell is named by its column (the headers themselves are hidden on a phone).
    expect(page.locator("main table tbody td[data-label]").first).to_be_visible()
    expect(page.locator("main table thead").first).not_to_be_in_viewport()


def test_meine_termine_fits_a_phone_and_the_toast_spares_the_revoke_button(page, sign_in, demo_records):
    """The front desk creates a "Meine Termine" link on a phone: the toast does not cover the new link's revoke
    button, and the patient's page opened from it needs no horizontal scroll."""
    _sign_in_at(page, sign_in, 390, "empfang@demo.test")
    page.goto(f"/patients/{demo_records['patient']}/termine")
    page.locator("#create-access-link").click()
    toast = page.locator("#toast .toast").last
    expect(toast).to_be_visible()
    revoke = page.locator(".new-link button[id^='revoke-access-link-']")
    expect(revoke).to_be_visible()
    revoke.evaluate("element => element.scrollIntoView({block: 'end'})")
    page.locator("#create-access-link").evaluate("element => element.blur()")
    page.evaluate("() => document.dispatchEvent(new CustomEvent('toast', {detail: {level: 'success', text: 'x'}}))")
    assert not page.evaluate(OVERLAP, ["#toast .toast", ".new-link button[id^='revoke-access-link-']"])
    url = page.locator(".new-link input[id^='access-link-url-']").input_value()
    page.goto(url)
    expect(page.locator("main")).to_be_visible()
    assert page.evaluate(PAGE_SCROLLS_SIDEWAYS) == []


@pytest.mark.parametrize("width", [1280, 390])
def test_the_toast_spares_the_one_time_secrets_copy_button(page, sign_in, width):
    """Creating a webhook endpoint shows its secret once; copying shows a toast that never covers the copy button
    (on a laptop and on a phone)."""
    _sign_in_at(page, sign_in, width)
    page.on("dialog", lambda dialog: dialog.accept())  # rotating asks for confirmation
    page.goto("/webhooks/")
    card = page.locator("#webhook-card-calcom")
    create = card.locator("#webhook-create-calcom button[type=submit]")
    if create.count():
        create.click()
    else:
        card.locator("[id^='webhook-rotate'] button[type=submit]").first.click()
    button = card.locator("[data-copy-target='webhook-secret-calcom']")
    expect(button).to_be_visible()
    # The worst case: the button at the very bottom of the window, where the toasts appear by default.
    button.evaluate("element => element.scrollIntoView({block: 'end'})")
    button.click()
    expect(page.locator("#toast .toast").last).to_be_visible()
    assert not page.evaluate(OVERLAP, ["#toast .toast", "[data-copy-target='webhook-secret-calcom']"])


def test_hub_charts_have_axes_units_and_time_labels(page, sign_in):
    """Each chart names its axis and unit (%, ms) and the hours of its time axis; the booking tool has a card."""
    _sign_in_at(page, sign_in, 1280)
    page.goto("/integrations/")
    chart = page.locator(".hub-chart-svg").first
    expect(chart).to_be_visible()
    expect(page.locator(".chart-axis-label").first).to_be_visible()
    scales = " ".join(page.locator(".chart-y-axis").all_text_contents())
    assert "100 %" in scales and "0 %" in scales and "0 ms" in scales
    expect(page.locator(".chart-time-label").first).to_contain_text(":00")
    expect(page.locator("#hub-card-booking")).to_be_visible()


def test_front_desk_sees_no_provider_or_sandbox_keys(page, sign_in):
    """The front desk may look at the hub, but no key (not even its last characters) and no sandbox key."""
    _sign_in_at(page, sign_in, 1280, "empfang@demo.test")
    for path in ("/integrations/", "/integrations/calcom", "/integrations/retell"):
        page.goto(path)
        expect(page.locator("#hub-tabs")).to_be_visible()
        html = page.content()
        for marker in ("ends in", "endet auf", "cal_sandbox_demo", "key_sandbox_demo", "whsec_"):
            assert marker not in html, (path, marker)
