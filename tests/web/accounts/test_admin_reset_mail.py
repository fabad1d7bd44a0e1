"""The admin's "Passwort zurücksetzen" on a user e-mails the user the link to choose a new password (through the
outbox, as "Passwort vergessen?" does), in the user's language, audited; the admin still sees the link once."""

import re

from sqlalchemy import select

from app.platform.mail.models import HELD, MailMessage
from app.platform.mail.service import message_bodies
from tests.helpers import PASSWORD, audit_actions

NEW_PASSWORD = "ein-ganz-neues-passwort"


def reset_mails(db):
    """The admin-reset mails in the outbox."""
    return db.session.scalars(select(MailMessage).where(MailMessage.kind == "accounts.admin_reset")).all()


def test_the_reset_link_is_mailed_and_works_once(client, auth, make_user, db):
    """The mail (German, naming the admin and the practice) carries the link shown on the page; the old password
    is dead, the link sets a new one and then no longer works; the reset and the mail are audited."""
    admin = auth.login("admin")
    user = make_user(role="therapist", email="tina@example.test", name="Tina Test", failed_logins=4)
    page = client.post(f"/users/{user.id}/reset-password")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Die E-Mail mit dem Link liegt im Postausgang" in body
    [mail] = reset_mails(db)
    assert mail.recipient == "tina@example.test" and mail.status == HELD and mail.practice_id == user.practice_id
    assert mail.subject == "Ihr Passwort für Praxis Hub wurde zurückgesetzt"
    text, html = message_bodies(mail)
    assert f"{admin.name} hat das Passwort Ihres Praxis-Hub-Kontos bei Praxis am Test zurückgesetzt" in text
    assert "72 Stunden" in text and "Passwort vergessen?" in text
    link = re.search(r"http://localhost(/auth/invite/\S+)", text).group(1)
    assert link in body and link in html
    assert audit_actions(db, object_id=str(user.id))[-2:] == ["user.password_reset", "user.reset_mail_sent"]

    auth.logout()
    assert client.post("/auth/login", data={"email": user.email, "password": PASSWORD}).status_code == 422
    assert client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 303
    auth.logout()
    assert client.get(link).status_code == 404
    assert client.post("/auth/login", data={"email": user.email, "password": NEW_PASSWORD}).status_code in (302, 303)


def test_the_mail_is_in_the_users_language(client, auth, make_user, db):
    auth.login("admin")
    user = make_user(role="assistant", locale="en")
    client.post(f"/users/{user.id}/reset-password")
    [mail] = reset_mails(db)
    assert mail.locale == "en" and mail.subject == "Your Praxis Hub password was reset"
    assert "Your previous password no longer works." in message_bodies(mail)[0]


def test_with_a_mail_server_the_admin_is_told_it_was_sent(app, client, auth, make_user, db):
    app.config.update(MAIL_SMTP_HOST="smtp.example.test")
    auth.login("admin")
    user = make_user(role="billing", email="bea@example.test")
    page = client.post(f"/users/{user.id}/reset-password")
    assert "Der Link wurde per E-Mail an bea@example.test verschickt." in page.get_data(as_text=True)
    assert reset_mails(db)[0].status == "queued"


def test_the_edit_page_says_that_the_link_is_mailed(client, auth, make_user):
    auth.login("admin")
    user = make_user(role="therapist")
    html = client.get(f"/users/{user.id}/edit").get_data(as_text=True)
    assert "Die Person erhält eine E-Mail mit einem einmaligen Link" in html


def test_only_admins_reset_and_another_practice_is_404(client, auth, make_user, other_practice, db):
    auth.login("assistant")
    user = make_user(role="therapist")
    assert client.post(f"/users/{user.id}/reset-password").status_code == 403
    auth.logout()
    auth.login("admin")
    stranger = make_user(practice=other_practice)
    assert client.post(f"/users/{stranger.id}/reset-password").status_code == 404
    assert reset_mails(db) == []
