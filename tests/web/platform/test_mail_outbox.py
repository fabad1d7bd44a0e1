"""The outbox page: admins of a practice see its mails and open one (audited); nobody else sees them, and another
practice's mail is a 404."""

import pytest
from sqlalchemy import select

from app.platform.jobs.models import Job
from app.platform.mail.service import queue_mail
from tests.helpers import audit_actions


@pytest.fixture
def write_mail(db):
    """``write_mail(practice, recipient)``: a held invite mail of ``practice``."""

    def write(practice, recipient="neu@example.test"):
        message = queue_mail(kind="accounts.invite", recipient=recipient, template="invite", locale="de",
                             practice_id=practice.id,
                             context={"name": "Nina Neu", "practice_name": practice.name, "inviter_name": "Admin",
                                      "hours": 72, "link": "http://praxis.test/auth/invite/t0ken"})
        db.session.commit()
        return message

    return write


def test_admin_sees_the_practice_s_mails_and_opens_one(client, auth, practice, other_practice, write_mail, db):
    """The list names recipient, subject and state in German; the page shows the body; opening it is audited."""
    mine = write_mail(practice)
    write_mail(other_practice, recipient="fremd@example.test")
    auth.login("admin")
    page = client.get("/mail/").get_data(as_text=True)
    assert "Postausgang" in page and "kein Mailserver eingerichtet" in page
    assert "neu@example.test" in page and "Ihr Zugang zu Praxis Hub bei Praxis am Test" in page
    assert "im Postausgang (nicht verschickt)" in page and "fremd@example.test" not in page
    detail = client.get(f"/mail/{mine.id}")
    body = detail.get_data(as_text=True)
    assert detail.status_code == 200
    assert "Hallo Nina Neu," in body
    assert "http://praxis.test/auth/invite/t0ken" in body
    assert audit_actions(db, action="mail.read", object_id=str(mine.id)) == ["mail.read"]


def test_the_outbox_is_in_the_admin_navigation_only(client, auth):
    """Admins find it in the menu; the front desk does not."""
    auth.login("admin")
    assert 'href="/mail/"' in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login("assistant")
    assert 'href="/mail/"' not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["assistant", "therapist", "billing"])
def test_other_roles_cannot_open_the_outbox(client, auth, practice, write_mail, role):
    """Only mail.outbox (admins) opens the list or a mail."""
    message = write_mail(practice)
    auth.login(role)
    assert client.get("/mail/").status_code in (403, 404)
    assert client.get(f"/mail/{message.id}").status_code in (403, 404)
    assert client.post(f"/mail/{message.id}/send").status_code in (403, 404)


def test_another_practice_s_mail_is_not_found(client, auth, other_practice, write_mail):
    """An id of another practice's mail answers 404, like a missing one."""
    foreign = write_mail(other_practice)
    auth.login("admin")
    assert client.get(f"/mail/{foreign.id}").status_code == 404
    assert client.get("/mail/999999").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client):
    """The outbox needs a session."""
    response = client.get("/mail/")
    assert response.status_code in (302, 303) and "/auth/login" in response.headers["Location"]


def test_a_failed_mail_shows_why_and_can_be_sent_again(app, client, auth, practice, write_mail, db):
    """The failure in words with the SMTP code; "Erneut senden" queues it for the worker again (audited)."""
    message = write_mail(practice)
    app.config.update(MAIL_SMTP_HOST="smtp.example.test")
    message.status, message.attempts, message.last_error = "failed", 5, "SMTPRecipientsRefused 550"
    db.session.commit()
    auth.login("admin")
    page = client.get(f"/mail/{message.id}").get_data(as_text=True)
    assert "Der Mailserver hat die Empfängeradresse abgelehnt. (SMTP 550)" in page
    assert "Erneut senden" in page
    response = client.post(f"/mail/{message.id}/send")
    assert response.status_code == 303 and response.headers["Location"] == f"/mail/{message.id}"
    db.session.refresh(message)
    jobs = db.session.scalars(select(Job).where(Job.kind == "mail.deliver")).all()
    assert message.status == "queued" and [job.payload for job in jobs] == [{"message_id": message.id}]
    assert audit_actions(db, action="mail.resend") == ["mail.resend"]
    assert "wird gleich erneut verschickt" in client.get(f"/mail/{message.id}").get_data(as_text=True)


def test_a_held_mail_is_sent_once_a_mail_server_is_set_up(app, client, auth, practice, write_mail, db):
    """Without a mail server there is nothing to send with (no button, a refused POST); once one is configured,
    "Jetzt senden" queues the held mail."""
    message = write_mail(practice)
    auth.login("admin")
    assert "Jetzt senden" not in client.get(f"/mail/{message.id}").get_data(as_text=True)
    client.post(f"/mail/{message.id}/send")
    db.session.refresh(message)
    assert message.status == "held" and db.session.scalar(select(Job.id)) is None
    app.config.update(MAIL_SMTP_HOST="smtp.example.test")
    assert "Jetzt senden" in client.get(f"/mail/{message.id}").get_data(as_text=True)
    client.post(f"/mail/{message.id}/send")
    db.session.refresh(message)
    assert message.status == "queued"


def test_resending_another_practice_s_mail_is_not_found(app, client, auth, other_practice, write_mail, db):
    """The POST is scoped like the page: 404, and nothing is queued."""
    foreign = write_mail(other_practice)
    app.config.update(MAIL_SMTP_HOST="smtp.example.test")
    auth.login("admin")
    assert client.post(f"/mail/{foreign.id}/send").status_code == 404
    assert db.session.scalar(select(Job.id)) is None
