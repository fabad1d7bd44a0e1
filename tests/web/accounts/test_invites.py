"""Invites by e-mail: a user created without a password gets a mail with the set-password link (the same link the
admin sees once); with a password nobody is mailed."""

import re

from sqlalchemy import select

from app.platform.mail.models import HELD, MailMessage
from app.platform.mail.service import message_bodies
from tests.helpers import audit_actions

NEW_PASSWORD = "ein-ganz-neues-passwort"


def invite_mails(db):
    """The invite mails in the outbox."""
    return db.session.scalars(select(MailMessage).where(MailMessage.kind == "accounts.invite")).all()


def test_a_user_without_password_gets_an_invite_mail_that_works(client, auth, db):
    """The mail (German, from the admin, naming the practice) carries the link shown on the page; the link lets
    the new user choose a password and sign in; the sending is audited."""
    admin = auth.login("admin")
    page = client.post("/users/new", data={"email": "Nina.Neu@example.test", "name": "Nina Neu",
                                           "role": "therapist"})
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Die Einladungs-E-Mail liegt im Postausgang" in body
    [mail] = invite_mails(db)
    assert mail.recipient == "nina.neu@example.test" and mail.status == HELD
    assert mail.subject == "Ihr Zugang zu Praxis Hub bei Praxis am Test"
    text, html = message_bodies(mail)
    assert f"{admin.name} hat für Sie ein Konto" in text and "72 Stunden" in text
    link = re.search(r"http://localhost(/auth/invite/\S+)", text).group(1)
    assert link in body and link in html
    auth.logout()
    assert client.get(link).status_code == 200
    done = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303
    assert audit_actions(db, action="user.invite_sent") == ["user.invite_sent"]


def test_with_a_mail_server_the_page_says_the_invite_was_sent(app, client, auth, db):
    """With MAIL_SMTP_HOST the mail is queued for the worker and the admin is told it was e-mailed."""
    app.config.update(MAIL_SMTP_HOST="smtp.example.test")
    auth.login("admin")
    page = client.post("/users/new", data={"email": "neu@example.test", "name": "Nina Neu", "role": "therapist"})
    assert "Die Einladung wurde per E-Mail an neu@example.test verschickt." in page.get_data(as_text=True)
    assert invite_mails(db)[0].status == "queued"


def test_a_user_with_a_password_gets_no_mail(client, auth, db):
    """The admin set the password: nothing to invite to."""
    auth.login("admin")
    response = client.post("/users/new", data={"email": "mit@example.test", "name": "Mit Passwort",
                                               "role": "therapist", "password": NEW_PASSWORD})
    assert response.status_code == 303
    assert invite_mails(db) == []


def test_a_refused_user_gets_no_mail(client, auth, make_user, db):
    """A duplicate address is refused (422) and nobody is mailed."""
    make_user(role="therapist", email="doppelt@example.test")
    auth.login("admin")
    response = client.post("/users/new", data={"email": "doppelt@example.test", "name": "Doppelt",
                                               "role": "therapist"})
    assert response.status_code == 422 and invite_mails(db) == []
