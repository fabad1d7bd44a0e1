"""The own-account page: personal API tokens, created and revoked through htmx."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_admin_creates_and_revokes_an_api_token(page, base_url, sign_in, translate):
    """An admin creates an API token, copies the value shown once, then revokes the token after confirming."""
    sign_in("admin@demo.test")
    expect(page).to_have_url(f"{base_url}/")
    page.locator("#main-nav a[href='/account/']").click()
    expect(page).to_have_url(f"{base_url}/account/")
    expect(page.locator("#new-token-value")).to_have_count(0)

    token_name = "E2E Export"
    token_form = page.locator("#token-form")
    token_form.locator("[name=name]").fill(token_name)
    token_form.locator("button[type=submit]").click()

    expect(page.locator("#new-token-value")).to_have_value(re.compile(r"^phk_\S{20,}$"))
    row = page.locator("#tokens-table tbody tr", has_text=token_name)
    expect(row).to_have_count(1)
    status = row.locator("td").nth(5)
    expect(status).to_have_text(translate("active"))
    expect(page).to_have_url(f"{base_url}/account/")

    page.reload()
    expect(row).to_have_count(1)
    expect(page.locator("#new-token-value")).to_have_count(0)

    page.on("dialog", lambda dialog: dialog.accept())
    row.locator("button[type=submit]").click()

    expect(status).to_have_text(translate("revoked"))
    expect(row.locator("button[type=submit]")).to_have_count(0)
