"""Correcting an invalid row of a patient import in place (issue 17 item 14), as an admin clicks through it: the
row with an impossible birth date is opened for editing, a still-wrong date is refused next to the field, the
right one turns the row into a new patient, the counters follow, and the birth dates read as people write them."""

import re
from uuid import uuid4

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import open_from_nav

pytestmark = pytest.mark.e2e


def test_admin_corrects_an_invalid_row_before_starting(page, base_url, sign_in, translate):
    """Upload, check, correct row 3's birth date inline, and see it counted as new; the sample values show."""
    tag = uuid4().hex[:8]
    data = ("\ufeffVorname;Nachname;E-Mail;Geburtsdatum\r\n"
            f"Anna;Zfix{tag};anna.{tag}@example.test;03.05.1990\r\n"
            f"Carla;Zfix{tag};carla.{tag}@example.test;31.02.1990\r\n").encode()
    open_from_nav(page, base_url, sign_in, "/patients/", "import-link", "/patients/import")
    page.set_input_files("#file", files=[{"name": "fix.csv", "mimeType": "text/csv", "buffer": data}])
    page.locator("#import-upload-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(re.escape(f"{base_url}/patients/import/") + r"\d+$"))
    expect(page.locator("#import-samples-table")).to_contain_text("Anna · Carla")
    page.locator("#preview-button").click()

    counts = page.locator("#import-counts")
    expect(counts.locator("li[data-count='invalid'] strong")).to_have_text("1")
    row = page.locator("#import-rows tbody tr", has_text="Carla")
    row.get_by_role("button", name=translate("Correct")).click()
    form = page.locator("form.import-row-form")
    expect(form.locator("[name=birth_date]")).to_have_value("31.02.1990")

    form.locator("[name=birth_date]").fill("30.02.1990")
    form.get_by_role("button", name=translate("Save and check again")).click()
    expect(form.locator("[name=birth_date]")).to_have_attribute("aria-invalid", "true")

    form.locator("[name=birth_date]").fill("28.02.1990")
    form.get_by_role("button", name=translate("Save and check again")).click()
    fixed = page.locator("#import-rows tbody tr", has_text="Carla")
    expect(fixed.locator("td[data-state]")).to_have_text(translate("new"))
    expect(fixed).to_contain_text("28.02.1990")
    expect(counts.locator("li[data-count='invalid'] strong")).to_have_text("0")
    expect(counts.locator("li[data-count='create'] strong")).to_have_text("2")
    expect(page.locator("#start-form")).to_be_visible()
