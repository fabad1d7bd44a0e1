""""Passwort vergessen?" in a real browser, in German: a person asks for a link on the login page, the practice
admin opens the mail on the outbox page (the embedded run has no mail server), and with its link the person
chooses a new password and signs in with it."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import click_nav

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "neues-passwort-2026"


def test_forgot_password_mail_from_the_outbox_sets_a_new_password(page, base_url, sign_in, make_live_user,
                                                                  translate):
    """Request, read the mail on the outbox page, set a new password, sign in with it; the old one is refused."""
    person = make_live_user(role="therapist")

    page.goto("/auth/login")
    page.get_by_role("link", name=translate("Forgot your password?")).click()
    expect(page).to_have_url(f"{base_url}/auth/forgot-password")
    page.locator("#forgot-password-form [name=email]").fill(person.email)
    page.get_by_role("button", name=translate("Send link")).click()
    expect(page.locator("#forgot-password-sent h1")).to_have_text(translate("Check your e-mail"))

    sign_in("admin@demo.test")
    click_nav(page, "/mail/")
    expect(page.locator("h1")).to_have_text(translate("Outbox"))
    row = page.locator("#outbox-table tbody tr", has_text=person.email).first
    row.get_by_role("link", name=translate("Reset your Praxis Hub password")).click()
    expect(page.locator("#mail-recipient")).to_have_text(person.email)
    body = page.locator("#mail-body").inner_text()
    assert translate("Hello %(name)s,", name=person.name) in body
    link = re.search(r"https?://\S+/auth/reset/\S+", body).group(0)
    page.locator("#logout-button").click()

    page.goto(link)
    expect(page.locator("h1")).to_have_text(translate("Choose a new password"))
    page.locator("#reset-password-form [name=password]").fill(NEW_PASSWORD)
    page.locator("#reset-password-form [name=confirm]").fill(NEW_PASSWORD)
    page.get_by_role("button", name=translate("Save new password")).click()
    expect(page).to_have_url(f"{base_url}/auth/login")
    expect(page.locator("#flash")).to_contain_text(translate("Your new password is set. Please sign in with it."))

    sign_in(person.email, person.password)
    expect(page.locator("#password-errors")).to_be_visible()
    sign_in(person.email, NEW_PASSWORD)
    expect(page).to_have_url(f"{base_url}/")
    expect(page.locator("footer")).to_contain_text(person.name)

    page.goto(link)
    expect(page.locator("#invite-invalid")).to_contain_text(
        translate("This link has already been used. Ask for a new one on the sign-in page."))
