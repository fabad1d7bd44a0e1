"""User management as an admin clicks through it: create with a password, create with an invite link, and the
inline validation of the create form."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import open_from_nav

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "neues-passwort-42"


def open_new_user_form(page, base_url, sign_in):
    """Sign in as the demo admin and open "New user" from the users list, as a person would."""
    open_from_nav(page, base_url, sign_in, "/users/", "new-user-link", "/users/new")
    return page.locator("#user-create-form")


def wait_for_htmx_idle(page):
    """Wait until no htmx request is in flight (htmx marks requesting elements with .htmx-request until the swap)."""
    page.wait_for_function("() => document.querySelector('.htmx-request') === null")


def test_admin_creates_user_with_password_who_then_signs_in(page, base_url, sign_in, unique_email, translate):
    """An admin creates a therapist with an initial password, signs out, and the therapist signs in."""
    form = open_new_user_form(page, base_url, sign_in)

    form.locator("[name=name]").fill("Nora Neu")
    form.locator("[name=email]").fill(unique_email)
    form.locator("[name=role]").select_option("therapist")
    form.locator("[name=password]").fill(NEW_PASSWORD)
    form.get_by_role("button", name=translate("Create user")).click()

    expect(page).to_have_url(f"{base_url}/users/")
    expect(page.locator("#users-table tr", has_text=unique_email)).to_contain_text("Nora Neu")

    page.locator("#logout-button").click()
    expect(page).to_have_url(f"{base_url}/auth/login")

    sign_in(unique_email, NEW_PASSWORD)

    expect(page).to_have_url(f"{base_url}/")
    expect(page.locator("#dashboard-practice")).to_be_visible()
    expect(page.locator("footer.site-footer")).to_contain_text("Nora Neu")
    expect(page.locator("#main-nav a[href='/users/']")).to_have_count(0)


def test_password_survives_leaving_the_field(page, base_url, sign_in, unique_email):
    """An admin types an initial password, tabs on to "Create user" and presses Enter: the user gets that password."""
    form = open_new_user_form(page, base_url, sign_in)
    form.locator("[name=name]").fill("Paula Passwort")
    form.locator("[name=email]").fill(unique_email)
    form.locator("[name=password]").fill(NEW_PASSWORD)

    form.locator("[name=password]").press("Tab")
    wait_for_htmx_idle(page)
    expect(form.locator("button[type=submit]")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.locator("#users-table, #invite-link")).to_be_visible()
    assert page.locator("#invite-link").count() == 0, "the typed password was lost: an invite link was created"
    expect(page).to_have_url(f"{base_url}/users/")


def test_admin_creates_user_without_password_and_invite_link_works(page, base_url, sign_in, unique_email,
                                                                   new_context):
    """An admin creates a user without a password, hands over the invite link, and the invitee sets a password."""
    form = open_new_user_form(page, base_url, sign_in)

    form.locator("[name=name]").fill("Ida Eingeladen")
    form.locator("[name=email]").fill(unique_email)
    form.locator("[name=role]").select_option("assistant")
    form.locator("button[type=submit]").click()

    expect(page.locator("#invite-link")).to_be_visible()
    expect(page.locator("#invite-link")).to_contain_text(unique_email)
    invite_url = page.locator("#invite-url")
    expect(invite_url).to_have_value(re.compile(re.escape(f"{base_url}/auth/invite/") + r"\S+$"))
    link = invite_url.input_value()

    invitee = new_context().new_page()
    invitee.goto(link)
    invite_form = invitee.locator("#invite-form")
    expect(invite_form).to_be_visible()
    invite_form.locator("[name=password]").fill(NEW_PASSWORD)
    invite_form.locator("[name=confirm]").fill(NEW_PASSWORD)
    invite_form.locator("button[type=submit]").click()

    expect(invitee).to_have_url(f"{base_url}/")
    expect(invitee.locator("#dashboard-practice")).to_be_visible()
    expect(invitee.locator("footer.site-footer")).to_contain_text("Ida Eingeladen")


def test_invalid_email_is_flagged_when_leaving_the_field(page, base_url, sign_in, translate):
    """An admin types a broken email, tabs away and sees the error at once; fixing it makes the error go away."""
    form = open_new_user_form(page, base_url, sign_in)
    email = form.locator("[name=email]")
    errors = page.locator("#field-email .field-errors")

    email.fill("keine-adresse")
    with page.expect_response(lambda response: response.url.endswith("/users/validate/email")) as checked:
        email.press("Tab")

    assert checked.value.status == 422
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(errors).to_have_text(translate("Please enter a valid email address."))
    expect(email).to_have_attribute("aria-describedby", "email-errors")
    expect(page).to_have_url(f"{base_url}/users/new")

    email.fill("richtig@beispiel.test")
    with page.expect_response(lambda response: response.url.endswith("/users/validate/email")) as checked:
        email.press("Tab")

    assert checked.value.status == 200
    expect(errors).to_have_count(0)
    expect(email).not_to_have_attribute("aria-invalid", "true")
    expect(email).to_have_value("richtig@beispiel.test")
    expect(page).to_have_url(f"{base_url}/users/new")


def test_new_user_starts_as_therapist_and_sees_the_password_rules_first(page, base_url, sign_in, unique_email,
                                                                        new_context, live_app, translate):
    """In German: the create form opens with the least-privileged role (therapist) and states the password rules
    under the initial password; the invitee reads the same rules before typing a password."""
    rules = translate("At least %(n)d characters, and not the email address of the account.",
                      n=live_app.config["AUTH_MIN_PASSWORD_LENGTH"])
    assert rules.startswith("Mindestens ")
    form = open_new_user_form(page, base_url, sign_in)
    expect(form.locator("[name=role]")).to_have_value("therapist")
    expect(form.locator("#password-help")).to_have_text(rules)
    expect(form.locator("[name=password]")).to_have_attribute("aria-describedby", "password-help")

    form.locator("[name=name]").fill("Rita Rolle")
    form.locator("[name=email]").fill(unique_email)
    form.locator("button[type=submit]").click()
    expect(page.locator("#invite-link")).to_be_visible()
    link = page.locator("#invite-url").input_value()
    page.goto("/users/")
    expect(page.locator("#users-table tr", has_text=unique_email)).to_contain_text(translate("Therapist"))

    invitee = new_context().new_page()
    invitee.goto(link)
    expect(invitee.locator("#invite-form #password-help")).to_have_text(rules)
    expect(invitee.locator("#invite-form .field-errors")).to_have_count(0)
