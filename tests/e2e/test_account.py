"""The own-account page: personal API tokens, created and revoked through htmx, and signing out other devices."""

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
    status = row.locator("td").nth(6)  # after name, prefix, may use, created, last used, valid until
    expect(status).to_have_text(translate("active"))
    expect(page).to_have_url(f"{base_url}/account/")

    page.reload()
    expect(row).to_have_count(1)
    expect(page.locator("#new-token-value")).to_have_count(0)

    page.on("dialog", lambda dialog: dialog.accept())
    row.locator("button[type=submit]").click()

    expect(status).to_have_text(translate("revoked"))
    expect(row.locator("button[type=submit]")).to_have_count(0)


def test_sign_out_on_all_other_devices_ends_the_other_browsers_session(page, browser, browser_context_args, base_url,
                                                                       sign_in, make_live_user, translate):
    """Someone signed in on two computers clicks "Auf allen anderen Geräten abmelden" on one: that one stays signed
    in with a confirmation, and the other's next click lands on the login page."""
    user = make_live_user()
    other_device = browser.new_context(**browser_context_args)
    other_page = other_device.new_page()
    try:
        other_page.goto("/auth/login")
        other_form = other_page.locator("#login-form")
        other_form.locator("[name=email]").fill(user.email)
        other_form.locator("[name=password]").fill(user.password)
        other_form.locator("button[type=submit]").click()
        expect(other_page).to_have_url(f"{base_url}/")
        sign_in(user.email, user.password)
        expect(page).to_have_url(f"{base_url}/")

        page.locator("#main-nav a[href='/account/']").click()
        button = page.locator("#sign-out-others-button")
        expect(button).to_have_text("Auf allen anderen Geräten abmelden")
        button.click()

        expect(page).to_have_url(f"{base_url}/account/")
        expect(page.locator("#flash")).to_contain_text(translate("You have been signed out on all other devices."))
        other_page.locator("#main-nav a[href='/patients/']").click()
        login_page = re.escape(f"{base_url}/auth/login?next=") + "(/patients/|%2Fpatients%2F)$"
        expect(other_page).to_have_url(re.compile(login_page))
        expect(other_page.locator("#login-form")).to_be_visible()
        page.locator("#main-nav a[href='/patients/']").click()
        expect(page).to_have_url(f"{base_url}/patients/")
    finally:
        other_device.close()
