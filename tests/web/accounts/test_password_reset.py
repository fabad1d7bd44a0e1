""""Passwort vergessen?": the same answer for every address, a mail with a single-use link in the user's language,
the new password ends every session, and the request is rate-limited like the login."""

import os
import re
import uuid
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from app import create_app
from app.platform.database import utcnow
from app.platform.extensions import db as _db
from app.platform.mail.models import MailMessage
from app.platform.mail.service import message_bodies
from config import TestConfig
from tests.helpers import PASSWORD, audit_actions

NEW_PASSWORD = "ein-ganz-neues-passwort"


def reset_mails(db):
    """The password-reset mails in the outbox, oldest first."""
    return db.session.scalars(select(MailMessage).where(MailMessage.kind == "accounts.password_reset")
                              .order_by(MailMessage.id)).all()


def link_path(message):
    """The path of the reset link in a mail's text."""
    text, _html = message_bodies(message)
    return re.search(r"http://localhost(/auth/reset/\S+)", text).group(1)


def test_the_login_page_offers_forgot_password(client):
    """A link under the login form leads to the request form."""
    page = client.get("/auth/login").get_data(as_text=True)
    assert 'href="/auth/forgot-password"' in page and "Passwort vergessen?" in page
    form = client.get("/auth/forgot-password").get_data(as_text=True)
    assert 'id="forgot-password-form"' in form and "Link senden" in form


def test_known_and_unknown_addresses_get_the_same_answer(client, make_user, db):
    """The page says the same for an account, an unknown address and a deactivated account; only the account
    gets a mail."""
    user = make_user(role="therapist", email="thea@example.test")
    inactive = make_user(role="therapist", email="weg@example.test", active=False)
    answers = []
    for email in (" THEA@example.test ", "niemand@example.test", inactive.email):
        response = client.post("/auth/forgot-password", data={"email": email})
        assert response.status_code == 200
        # The page's main part: the CSRF token in <body> carries a timestamp and may differ between requests.
        answers.append(re.search(r"<main.*</main>", response.get_data(as_text=True), re.S).group(0))
    assert answers[0] == answers[1] == answers[2]
    assert "Falls zu dieser Adresse ein Konto besteht" in answers[0]
    [mail] = reset_mails(db)
    assert mail.recipient == user.email and mail.subject == "Ihr Passwort für Praxis Hub zurücksetzen"
    assert mail.practice_id == user.practice_id
    assert audit_actions(db, action="user.reset_requested") == ["user.reset_requested"] * 3


def test_an_invalid_address_is_refused_with_a_message(client):
    """An empty or malformed address answers 422 with the field's error."""
    response = client.post("/auth/forgot-password", data={"email": ""})
    assert response.status_code == 422 and 'aria-invalid="true"' in response.get_data(as_text=True)


def test_the_mail_is_in_the_user_s_language(client, make_user, db):
    """A user who chose English gets the English mail."""
    make_user(role="assistant", email="ann@example.test", locale="en")
    client.post("/auth/forgot-password", data={"email": "ann@example.test"})
    [mail] = reset_mails(db)
    assert mail.locale == "en" and mail.subject == "Reset your Praxis Hub password"


def test_a_second_request_within_minutes_writes_no_second_mail(client, make_user, db):
    """Nobody can flood a mailbox through the form."""
    make_user(role="assistant", email="ann@example.test")
    for _ in range(3):
        client.post("/auth/forgot-password", data={"email": "ann@example.test"})
    assert len(reset_mails(db)) == 1


def test_the_link_sets_a_new_password_once_and_ends_every_session(app, client, make_user, db):
    """The link opens the form; the new password works, the old one no longer; sessions signed in before are
    over; the link is dead afterwards; a lockout is lifted."""
    user = make_user(role="therapist", email="thea@example.test")
    other_device = app.test_client()
    assert other_device.post("/auth/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    user.failed_logins, user.locked_until = 5, utcnow() + timedelta(minutes=10)
    db.session.commit()
    client.post("/auth/forgot-password", data={"email": user.email})
    path = link_path(reset_mails(db)[0])
    form = client.get(path)
    assert form.status_code == 200 and "thea@example.test" in form.get_data(as_text=True)
    done = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/auth/login"
    assert "Ihr neues Passwort ist gespeichert" in client.get("/auth/login").get_data(as_text=True)
    assert other_device.get("/").status_code in (302, 303)
    assert client.post("/auth/login", data={"email": user.email, "password": PASSWORD}).status_code == 422
    assert client.post("/auth/login", data={"email": user.email, "password": NEW_PASSWORD}).status_code == 303
    again = client.get(path)
    assert again.status_code == 404 and "bereits verwendet" in again.get_data(as_text=True)
    assert "user.reset_completed" in audit_actions(db, object_id=str(user.id))


def test_a_weak_or_mismatched_password_is_refused(client, make_user, db):
    """The policy and the repeat field apply, with 422 and the reason; the link still works afterwards."""
    user = make_user(role="therapist")
    client.post("/auth/forgot-password", data={"email": user.email})
    path = link_path(reset_mails(db)[0])
    short = client.post(path, data={"password": "kurz", "confirm": "kurz"})
    assert short.status_code == 422 and "mindestens" in short.get_data(as_text=True)
    mismatch = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 422
    assert client.get(path).status_code == 200


def test_a_changed_password_kills_an_earlier_link(client, make_user, db):
    """A link made before the password changed by another way (the account page) no longer works."""
    user = make_user(role="therapist")
    client.post("/auth/forgot-password", data={"email": user.email})
    path = link_path(reset_mails(db)[0])
    user.password_hash = "changed"
    db.session.commit()
    assert client.get(path).status_code == 404


def test_an_expired_or_forged_link_is_refused(client, make_user, db, monkeypatch):
    """Older than AUTH_RESET_MAX_AGE_MINUTES, or not signed by us: 404 with a message to ask again."""
    user = make_user(role="therapist")
    real_timestamp = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real_timestamp(self) - 61 * 60)
    client.post("/auth/forgot-password", data={"email": user.email})
    monkeypatch.undo()
    expired = client.get(link_path(reset_mails(db)[0]))
    assert expired.status_code == 404 and "abgelaufen" in expired.get_data(as_text=True)
    assert client.get("/auth/reset/nonsense").status_code == 404


def test_forgot_password_is_rate_limited_like_the_login():
    """Too many requests from one address answer 429 (AUTH_LOGIN_RATE_LIMIT)."""
    app = create_app(TestConfig, RATELIMIT_ENABLED=True, AUTH_LOGIN_RATE_LIMIT="2 per minute",
                     RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
                     RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}")
    with app.app_context():
        _db.create_all()
        try:
            client = app.test_client()
            statuses = [client.post("/auth/forgot-password", data={"email": "x@example.test"}).status_code
                        for _ in range(3)]
            assert statuses == [200, 200, 429]
        finally:
            _db.session.remove()
            _db.drop_all()


@pytest.mark.parametrize(("path", "status"), [("/auth/forgot-password", 200), ("/auth/reset/whatever", 404)])
def test_the_pages_need_no_session(client, path, status):
    """Both pages answer without signing in (a person who forgot the password has no session)."""
    assert client.get(path).status_code == status
