"""Sign-in, lockout, logout, next redirects, session expiry for htmx, invites and the language switch."""

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest

from app.platform.database import utcnow
from tests.helpers import PASSWORD, audit_actions, htmx


def login(client, email, password, **extra):
    """POST the login form."""
    return client.post("/auth/login", data={"email": email, "password": password, **extra})


def test_login_page_renders_in_german_by_default(client):
    """Anonymous visitors get the German login form."""
    response = client.get("/auth/login")
    assert response.status_code == 200
    assert 'lang="de"' in response.get_data(as_text=True)
    assert "Anmelden" in response.get_data(as_text=True)


def test_login_success_redirects_to_dashboard_and_is_audited(client, make_user, db):
    """Right credentials sign in, land on the dashboard and write login.success."""
    user = make_user()
    response = login(client, user.email.upper(), PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert audit_actions(db, user_id=user.id) == ["login.success"]


@pytest.mark.parametrize("email,password", [("nobody@example.test", PASSWORD), (None, "wrong password!")])
def test_failed_login_message_does_not_reveal_whether_email_exists(client, make_user, db, email, password):
    """Unknown email and wrong password get the same 422 and the same message."""
    user = make_user()
    response = login(client, email or user.email, password)
    assert response.status_code == 422
    assert "E-Mail oder Passwort ist falsch" in response.get_data(as_text=True)
    assert audit_actions(db)[-1] == "login.failed"


CSRF_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')


def _without_csrf_token(html):
    """The page with its CSRF token (in hx-headers and in every form, the same value) replaced by a constant."""
    return html.replace(CSRF_TOKEN.search(html).group(1), "TOKEN")


def test_unknown_and_known_email_failures_render_identically(client, make_user):
    """The two failure pages differ in nothing but the typed email (and the CSRF token, which carries the second
    it was made in)."""
    user = make_user()
    unknown = login(client, "x@example.test", "pw-wrong-1").get_data(as_text=True).replace("x@example.test", "E")
    known = login(client, user.email, "pw-wrong-1").get_data(as_text=True).replace(user.email, "E")
    assert _without_csrf_token(unknown) == _without_csrf_token(known)


def test_five_failures_lock_the_account_for_fifteen_minutes(client, make_user, db):
    """After 5 wrong passwords even the right one is refused, and the lock is audited."""
    user = make_user()
    for _ in range(5):
        assert login(client, user.email, "wrong password!").status_code == 422
    db.session.refresh(user)
    assert user.locked_until is not None
    assert timedelta(minutes=14) < user.locked_until - utcnow() <= timedelta(minutes=15)
    assert login(client, user.email, PASSWORD).status_code == 422
    assert "login.locked" in audit_actions(db, user_id=None)
    assert client.get("/").status_code == 302


def test_lock_expires(client, make_user, db):
    """Once locked_until has passed, the right password works again and resets the counter."""
    user = make_user(locked_until=utcnow() - timedelta(seconds=1), failed_logins=0)
    assert login(client, user.email, PASSWORD).status_code == 303
    db.session.refresh(user)
    assert user.locked_until is None and user.failed_logins == 0


def test_deactivated_user_cannot_sign_in(client, make_user):
    """A deactivated account gets the generic failure."""
    user = make_user(active=False)
    assert login(client, user.email, PASSWORD).status_code == 422


def test_empty_login_form_shows_field_errors(client):
    """Missing email and password give 422 with errors next to the fields."""
    response = client.post("/auth/login", data={})
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "target,expected",
    [
        ("/users/?page=2", "/users/?page=2"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_next_redirects_only_to_local_paths(client, make_user, target, expected):
    """``next`` is honoured for local paths and ignored for anything else."""
    user = make_user()
    response = login(client, user.email, PASSWORD, next=target)
    assert response.headers["Location"] == expected


def test_anonymous_page_request_redirects_to_login_with_next(client):
    """A page asks anonymous visitors to sign in and comes back afterwards."""
    response = client.get("/users/?page=2")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")
    assert unquote(response.headers["Location"].split("next=", 1)[1]) == "/users/?page=2"


def test_expired_session_htmx_request_gets_401_and_hx_redirect(client):
    """htmx requests without a session get 401 and HX-Redirect instead of a login page swapped into a cell."""
    response = client.get("/users/", headers=htmx("users-table"))
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/auth/login?next=")


def test_logout_ends_session_and_is_audited(client, auth, db):
    """Signing out needs a POST and ends the session."""
    user = auth.login()
    assert client.get("/auth/logout").status_code == 405
    response = auth.logout()
    assert response.status_code == 303
    assert client.get("/").status_code == 302
    assert audit_actions(db, user_id=user.id)[-1] == "logout"


def test_password_change_elsewhere_ends_other_sessions(app, client, auth, db):
    """Bumping the session version (password change, reset, deactivation) logs out existing sessions."""
    user = auth.login()
    user.session_version += 1
    db.session.commit()
    assert client.get("/").status_code == 302


def test_login_is_rate_limited_per_address(make_user):
    """Too many login POSTs from one address answer 429 with Retry-After (memory or Redis storage)."""
    import os
    import uuid

    from app import create_app
    from app.platform.extensions import db as _db
    from config import TestConfig

    app = create_app(TestConfig, RATELIMIT_ENABLED=True, AUTH_LOGIN_RATE_LIMIT="3 per minute",
                     RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
                     RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}")
    with app.app_context():
        _db.create_all()
        client = app.test_client()
        statuses = [login(client, "x@example.test", "wrong password!").status_code for _ in range(4)]
        assert statuses == [422, 422, 422, 429]
        limited = login(client, "x@example.test", "wrong password!")
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) > 0
        other = client.post("/auth/login", data={}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert other.status_code == 422


def test_language_switch_to_english_and_back(client):
    """The footer buttons switch the language for the session."""
    response = client.post("/auth/language", data={"lang": "en", "next": "/auth/login"})
    assert response.status_code == 303 and response.headers["Location"] == "/auth/login"
    assert "Sign in" in client.get("/auth/login").get_data(as_text=True)
    client.post("/auth/language", data={"lang": "de", "next": "/auth/login"})
    assert "Anmelden" in client.get("/auth/login").get_data(as_text=True)


def test_language_switch_refuses_foreign_next(client):
    """The language switch never redirects off-site."""
    response = client.post("/auth/language", data={"lang": "en", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


def test_invite_link_sets_password_once(client, auth, db):
    """An admin creates a user without password; the link sets it once and signs the user in."""
    auth.login()
    page = client.post("/users/new", data={"name": "Ina Neu", "email": "ina@example.test", "role": "therapist"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    link = html.split('id="invite-url" aria-label="')[0].rsplit('value="', 1)[1].split('"')[0]
    path = "/" + link.split("/", 3)[3]
    auth.logout()
    short = client.post(path, data={"password": "short", "confirm": "short"})
    assert short.status_code == 422
    response = client.post(path, data={"password": "ein langes Passwort", "confirm": "ein langes Passwort"})
    assert response.status_code == 303
    assert client.get("/").status_code == 200
    auth.logout()
    assert client.get(path).status_code == 404
    assert login(client, "ina@example.test", "ein langes Passwort").status_code == 303


def test_forged_invite_link_is_refused(client):
    """A made-up token shows the invalid-link page."""
    assert client.get("/auth/invite/not-a-token").status_code == 404
