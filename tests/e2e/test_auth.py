"""Signing in and out, lockout, navigation per role, the language switch and the 403 page, in a real browser."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.accounts.models import User
from app.platform.extensions import db

pytestmark = pytest.mark.e2e

GENERIC_LOGIN_ERROR = "Email or password is wrong, or the account is temporarily locked."
# The entries of the main navigation per demo user: in the bar or in the "Verwaltung" drop-down (admins). The
# check-in statistics are linked from the check-in page for those who may check in, so only billing has them in the
# bar (tests/e2e/test_navigation.py checks the layout at 1280 and 390 px).
ADMIN_HREFS = ("/", "/patients/", "/patients/reviews/", "/calls/", "/access/checkin", "/integrations/", "/scheduling/",
               "/account/", "/users/", "/audit/", "/webhooks/events", "/mail/", "/settings/")
FRONT_DESK_HREFS = ("/", "/patients/", "/calls/", "/access/checkin", "/integrations/", "/scheduling/", "/account/")
THERAPIST_HREFS = ("/", "/patients/", "/scheduling/", "/account/")
BILLING_HREFS = ("/", "/patients/", "/access/stats", "/account/")
ADMIN_ONLY_HREFS = ("/users/", "/audit/", "/webhooks/events", "/settings/", "/mail/", "/patients/reviews/")

# (email, name, the navigation's entries)
DEMO_USERS = [
    ("admin@demo.test", "Anna Admin", ADMIN_HREFS),
    ("empfang@demo.test", "Emil Empfang", FRONT_DESK_HREFS),
    ("therapeut@demo.test", "Thomas Therapeut", THERAPIST_HREFS),
    ("therapeutin@demo.test", "Theresa Therapeutin", THERAPIST_HREFS),
    ("abrechnung@demo.test", "Bea Abrechnung", BILLING_HREFS),
    ("admin@zweite.test", "Zora Zweite", ADMIN_HREFS),
]


def nav_entries(page):
    """The navigation links after the brand link."""
    return page.locator("#main-nav a:not(.brand)")


@pytest.mark.parametrize(("email", "name", "hrefs"), DEMO_USERS, ids=[user[0] for user in DEMO_USERS])
def test_each_demo_user_sees_the_navigation_of_their_role(page, base_url, sign_in, email, name, hrefs):
    """A demo user signs in and finds exactly the menu entries their role allows."""
    sign_in(email)

    expect(page).to_have_url(f"{base_url}/")
    expect(page.locator("footer.site-footer")).to_contain_text(name)
    found = nav_entries(page).evaluate_all("links => links.map(link => link.getAttribute('href'))")
    assert sorted(found) == sorted(hrefs)
    for href in set(ADMIN_ONLY_HREFS) - set(hrefs):
        expect(page.locator(f"#main-nav a[href='{href}']")).to_have_count(0)


def test_wrong_password_shows_generic_error_and_stays_on_login(page, base_url, sign_in, make_live_user, translate):
    """Someone types a wrong password and is told only that email or password is wrong."""
    user = make_live_user()

    sign_in(user.email, "falsches-passwort")

    expect(page).to_have_url(f"{base_url}/auth/login")
    expect(page.locator("#password-errors")).to_have_text(translate(GENERIC_LOGIN_ERROR))
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#logout-button")).to_have_count(0)


def test_unknown_email_shows_the_same_generic_error(page, base_url, sign_in, translate):
    """Someone signs in with an email that has no account and sees the same generic error."""
    sign_in("niemand@demo.test", "irgendein-passwort")

    expect(page).to_have_url(f"{base_url}/auth/login")
    expect(page.locator("#password-errors")).to_have_text(translate(GENERIC_LOGIN_ERROR))


def test_lockout_after_five_wrong_passwords_refuses_the_right_one(page, base_url, sign_in, make_live_user, live_app,
                                                                  translate):
    """Someone guesses wrong five times; afterwards even the right password is refused with the same message."""
    user = make_live_user()
    generic_error = translate(GENERIC_LOGIN_ERROR)
    assert live_app.config["AUTH_MAX_FAILED_LOGINS"] == 5

    for attempt in range(5):
        sign_in(user.email, f"falsch-{attempt}")
        expect(page.locator("#password-errors")).to_have_text(generic_error)

    sign_in(user.email, user.password)

    expect(page).to_have_url(f"{base_url}/auth/login")
    expect(page.locator("#password-errors")).to_have_text(generic_error)
    expect(page.locator("#logout-button")).to_have_count(0)
    with live_app.app_context():
        locked = db.session.scalar(select(User).where(User.email == user.email))
        assert locked.locked_until is not None
        db.session.remove()


def test_logout_returns_to_login_and_dashboard_needs_login_again(page, base_url, sign_in, make_live_user, translate):
    """A signed-in person clicks "Sign out", lands on the login page and cannot open the dashboard any more."""
    user = make_live_user()
    sign_in(user.email, user.password)
    expect(page).to_have_url(f"{base_url}/")

    page.locator("#logout-button").click()

    expect(page).to_have_url(f"{base_url}/auth/login")
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#flash")).to_contain_text(translate("You have been signed out."))
    page.goto("/")
    expect(page).to_have_url(re.compile(re.escape(f"{base_url}/auth/login?next=") + "(/|%2F)$"))
    expect(page.locator("#login-form")).to_be_visible()


def test_login_page_is_german_by_default(page, german_catalogue):
    """A visitor opens the login page and reads German."""
    assert german_catalogue, "German catalogue not compiled (make test compiles it: pybabel compile -d translations)"
    page.goto("/auth/login")

    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("#login-form button[type=submit]")).to_have_text("Anmelden")
    expect(page.locator("h1")).to_have_text("Anmelden")


def test_switch_language_to_english_and_back(page, base_url):
    """A visitor clicks "English" in the footer, reads English, then clicks "Deutsch" to get German back."""
    submit = page.locator("#login-form button[type=submit]")
    language_form = page.locator("#language-form")
    page.goto("/auth/login")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(language_form.locator("button[value=de]")).to_have_attribute("aria-pressed", "true")
    expect(submit).to_have_text("Anmelden")

    language_form.get_by_role("button", name="English").click()

    expect(page).to_have_url(f"{base_url}/auth/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(language_form.locator("button[value=en]")).to_have_attribute("aria-pressed", "true")
    expect(submit).to_have_text("Sign in")

    language_form.get_by_role("button", name="Deutsch").click()

    expect(page).to_have_url(f"{base_url}/auth/login")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(language_form.locator("button[value=de]")).to_have_attribute("aria-pressed", "true")
    expect(submit).to_have_text("Anmelden")


def test_therapist_opening_users_gets_the_403_page(page, base_url, sign_in, translate):
    """A therapist types /users/ into the address bar and is told they may not see it."""
    sign_in("therapeut@demo.test")
    expect(page).to_have_url(f"{base_url}/")

    response = page.goto("/users/")

    assert response is not None and response.status == 403
    expect(page.locator("#error-page h1")).to_have_text("403")
    expect(page.locator("#error-page")).to_contain_text(translate("You do not have permission to do this."))
    expect(page.locator("#users-table")).to_have_count(0)
    expect(page.locator("#main-nav a[href='/users/']")).to_have_count(0)
