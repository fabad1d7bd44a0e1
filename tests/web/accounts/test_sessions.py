"""Sessions end on the server: a copy of the session cookie stops working after logout, a password change, a
deactivation and "sign out on all other devices" (the cookie is only a signed pointer to ``id:session_version``,
and each of these moves the version on). The hub's status poll, which reads the session's user in the statement
that reads its cards, ends with the session like every other request."""

import pytest
from sqlalchemy import update

from app.accounts.models import User
from app.accounts.tokens import create_token
from app.platform.security.actor import Actor
from tests.conftest import AuthActions
from tests.helpers import PASSWORD, audit_actions, bearer, htmx

NEW_PASSWORD = "ein neues Passwort"


def copy_session_cookie(client):
    """The value of ``client``'s session cookie, as someone who copied it out of the browser would hold it."""
    return client.get_cookie("session").value


POLL = "/integrations/status"


def replay(app, cookie, path="/", **kwargs):
    """GET ``path`` from a fresh client that presents only the copied ``cookie``."""
    stranger = app.test_client()
    stranger.set_cookie("session", cookie)
    return stranger.get(path, **kwargs)


def signed_in_elsewhere(app, make_user, user):
    """A second client (another device) signed in as ``user``."""
    other = app.test_client()
    AuthActions(other, make_user).login(user=user)
    return other


def log_out(app, client, make_user, user):
    """The user clicks "Abmelden" in this browser."""
    assert client.post("/auth/logout").status_code == 303


def change_password(app, client, make_user, user):
    """The user changes their password in this browser (this session goes on with a fresh cookie)."""
    response = client.post("/account/password", data={"current_password": PASSWORD, "password": NEW_PASSWORD,
                                                       "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert client.get("/account/").status_code == 200


def deactivate_by_admin(app, client, make_user, user):
    """An admin, in their own browser, deactivates the user."""
    admin = signed_in_elsewhere(app, make_user, make_user())
    assert admin.post(f"/users/{user.id}/active", headers=htmx(f"user-row-{user.id}")).status_code == 200


def sign_out_other_devices(app, client, make_user, user):
    """The user, on another device, clicks "sign out on all other devices"; that device stays signed in."""
    other = signed_in_elsewhere(app, make_user, user)
    assert other.post("/account/sessions/end-others").status_code == 303
    assert other.get("/account/").status_code == 200


@pytest.mark.parametrize("end_session", [log_out, change_password, deactivate_by_admin, sign_out_other_devices])
def test_a_copied_session_cookie_stops_working_when_the_session_ends(app, client, auth, make_user, end_session):
    """Replaying the cookie copied before the session ended leads to the login page (and 401 for htmx), the hub's
    status poll included."""
    user = auth.login(role="assistant")
    copied = copy_session_cookie(client)
    assert replay(app, copied).status_code == 200  # the copy is as good as the original while the session lives
    assert replay(app, copied, POLL, headers=htmx("hub-status")).status_code == 200

    end_session(app, client, make_user, user)

    page = replay(app, copied, "/patients/")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/auth/login?next=")
    fragment = replay(app, copied, "/patients/", headers=htmx("patients-table"))
    assert fragment.status_code == 401
    assert fragment.headers["HX-Redirect"].startswith("/auth/login?next=")
    poll = replay(app, copied, POLL, headers=htmx("hub-status"))
    assert poll.status_code == 401 and poll.headers["HX-Redirect"].startswith("/auth/login?next=")


def test_the_status_poll_reads_the_active_flag_and_the_role_with_its_cards(app, client, auth, make_user, db):
    """The poll's one statement checks the account as it is now: an account switched off in the database (even
    without a new session version) is signed out at its next poll, and a role that lost ``integrations.view`` is
    refused at once, while the rest of the app still knows the user."""
    user = auth.login(role="assistant")
    assert client.get(POLL, headers=htmx("hub-status")).status_code == 200
    admin = signed_in_elsewhere(app, make_user, make_user())

    edited = admin.post(f"/users/{user.id}/edit", data={"name": user.name, "role": "therapist", "active": "y"})
    assert edited.status_code == 303

    assert client.get(POLL, headers=htmx("hub-status")).status_code == 403
    assert client.get("/").status_code == 200
    db.session.execute(update(User).where(User.id == user.id).values(active=False))
    db.session.commit()
    poll = client.get(POLL, headers=htmx("hub-status"))
    assert poll.status_code == 401 and poll.headers["HX-Redirect"].startswith("/auth/login?next=")


def test_logout_ends_the_users_sessions_on_every_device(app, client, auth, make_user, db):
    """The session version is the only thing a cookie points to, so signing out here signs out everywhere; the
    user's API tokens are not sessions and keep working."""
    user = auth.login()
    other = signed_in_elsewhere(app, make_user, user)
    token_client = app.test_client()
    _token, plaintext = create_token(Actor(user), user, "script")

    auth.logout()

    assert other.get("/").status_code == 302
    assert token_client.get("/api/me", headers=bearer(plaintext)).status_code == 200
    assert audit_actions(db, user_id=user.id).count("logout") == 1


def test_sign_out_other_devices_keeps_this_session_and_is_audited(app, client, auth, make_user, db, english):
    """The button on the account page ends every other session of the user, keeps this one, says so, and writes
    one audit entry; other users stay signed in."""
    user = auth.login(role="therapist")
    other_device = signed_in_elsewhere(app, make_user, user)
    colleague = signed_in_elsewhere(app, make_user, make_user(role="therapist"))
    page = client.get("/account/").get_data(as_text=True)
    assert 'id="sign-out-others-form"' in page and "Sign out on all other devices" in page
    version = user.session_version

    response = client.post("/account/sessions/end-others")

    assert response.status_code == 303 and response.headers["Location"] == "/account/"
    assert "You have been signed out on all other devices." in client.get("/account/").get_data(as_text=True)
    assert other_device.get("/").status_code == 302
    assert colleague.get("/").status_code == 200
    db.session.expire_all()
    assert db.session.get(User, user.id).session_version == version + 1
    assert audit_actions(db, user_id=user.id).count("logout.other_devices") == 1


def test_sign_out_other_devices_needs_a_session(client):
    """Anonymous requests are sent to the login page; a GET is not allowed (a link must not sign anybody out)."""
    assert client.post("/account/sessions/end-others").status_code == 302
    assert client.get("/account/sessions/end-others").status_code == 405


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_sign_out_other_devices_needs_the_csrf_token(app, client, make_user):
    """With CSRF on, the POST without the token is refused (400) and the other sessions live on; the form's own
    token (hx-headers of the page) is accepted."""
    user = make_user()
    token = client.get("/auth/login").get_data(as_text=True).split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    client.post("/auth/login", data={"email": user.email, "password": PASSWORD}, headers={"X-CSRFToken": token})
    other = app.test_client()
    other_token = other.get("/auth/login").get_data(as_text=True).split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    other.post("/auth/login", data={"email": user.email, "password": PASSWORD},
               headers={"X-CSRFToken": other_token})

    assert client.post("/account/sessions/end-others").status_code == 400
    assert other.get("/").status_code == 200

    page = client.get("/account/").get_data(as_text=True)
    form_token = page.split('id="sign-out-others-form"', 1)[1].split('name="csrf_token" value="', 1)[1]
    accepted = client.post("/account/sessions/end-others", data={"csrf_token": form_token.split('"', 1)[0]})
    assert accepted.status_code == 303
    assert other.get("/").status_code == 302
