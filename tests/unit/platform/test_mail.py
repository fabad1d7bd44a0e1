"""E-mail: rendering in the recipient's language, the outbox in the caller's transaction, and delivery by the
worker through a real local SMTP server (aiosmtpd): read back, retried with backoff, refused for good, and never
with a database transaction open while the server is talked to."""

import email
import logging
import socket
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select, text

from app.platform.database import utcnow
from app.platform.jobs.models import FAILED as JOB_FAILED
from app.platform.jobs.models import QUEUED as JOB_QUEUED
from app.platform.jobs.models import SUCCEEDED, Job
from app.platform.jobs.queue import claim_next, run_job
from app.platform.mail import jobs as mail_jobs
from app.platform.mail.models import FAILED, HELD, QUEUED, SENT, MailMessage
from app.platform.mail.service import (
    DELIVER_JOB_KIND,
    mail_locale,
    message_bodies,
    prune_outbox,
    queue_mail,
    render_mail,
)

LINK = "http://praxis.test/auth/reset/abc"


class Mailbox:
    """aiosmtpd handler that keeps what it receives and can refuse recipients with a given SMTP answer."""

    def __init__(self):
        self.received = []
        self.refuse_with = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port():
    """A local TCP port nobody listens on (bound and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 for one test; yields (port, Mailbox)."""
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, mailbox
    controller.stop()


@pytest.fixture
def smtp_config(app, smtp_server):
    """Point the app at the local server (no TLS: aiosmtpd speaks plain SMTP here)."""
    port, mailbox = smtp_server
    app.config.update(MAIL_SMTP_HOST="127.0.0.1", MAIL_SMTP_PORT=port, MAIL_SMTP_SECURITY="none",
                      MAIL_SENDER="Praxis Hub <hub@praxis.test>", MAIL_RETRY_DELAYS=(60, 300))
    return mailbox


def write_reset_mail(db, practice, locale="de", recipient="anna.berg@example.test"):
    """A password-reset mail written and committed as a use case would."""
    message = queue_mail(kind="accounts.password_reset", recipient=recipient, template="password_reset",
                         locale=locale, practice_id=practice.id, context={"name": "Anna Berg", "minutes": 60,
                                                                          "link": LINK})
    db.session.commit()
    return message


def deliver_next():
    """Claim the next due job and run it, as the worker does."""
    job = claim_next("test-worker")
    assert job is not None, "no job was due"
    return run_job(job)


def test_templates_render_in_the_recipient_s_language(app):
    """One template, German and English through the catalogue; one-line subject; the link in both bodies."""
    german = render_mail("password_reset", "de", {"name": "Anna", "minutes": 60, "link": LINK})
    english = render_mail("password_reset", "en", {"name": "Anna", "minutes": 60, "link": LINK})
    assert german[0] == "Ihr Passwort für Praxis Hub zurücksetzen"
    assert english[0] == "Reset your Praxis Hub password"
    assert "Der Link ist 60 Minuten gültig" in german[1] and "valid for 60 minutes" in english[1]
    for subject, body, html in (german, english):
        assert "\n" not in subject and LINK in body and f'href="{LINK}"' in html
    assert mail_locale("fr", "en") == "en" and mail_locale(None) == "de"


def test_names_cannot_inject_markup_or_headers(app):
    """A name with HTML is escaped in the HTML body, and a line break in a subject value becomes a space."""
    subject, body, html = render_mail("patient_link", "de", {
        "name": "<b>Eva</b>", "practice_name": "Praxis\nBcc: x@evil.test", "link": LINK,
        "valid_until": utcnow()})
    assert "\n" not in subject and "Praxis Bcc" in subject
    assert "<b>Eva</b>" in body and "&lt;b&gt;Eva&lt;/b&gt;" in html


def test_without_a_mail_server_the_mail_is_held_in_the_outbox_and_logged_without_content(db, practice, caplog):
    """Embedded run: stored (body encrypted at rest), no job, and the log names kind and domain only."""
    with caplog.at_level(logging.INFO, logger="app.platform.mail.service"):
        message = write_reset_mail(db, practice)
    assert message.status == HELD
    assert db.session.scalar(select(Job.id)) is None
    raw = db.session.execute(text("SELECT body_text FROM mail_messages")).scalar()
    assert LINK not in raw and "Anna" not in raw
    assert LINK in message_bodies(message)[0]
    assert "accounts.password_reset" in caplog.text and "example.test" in caplog.text
    assert "anna.berg" not in caplog.text and "Anna" not in caplog.text and LINK not in caplog.text


def test_the_mail_is_part_of_the_caller_s_transaction(db, practice, smtp_config):
    """Rolled back with the change that wrote it: neither the mail nor its delivery job remains."""
    queue_mail(kind="accounts.password_reset", recipient="a@example.test", template="password_reset", locale="de",
               practice_id=practice.id, context={"name": "A", "minutes": 60, "link": LINK})
    db.session.rollback()
    assert db.session.scalar(select(MailMessage.id)) is None and db.session.scalar(select(Job.id)) is None


def test_the_worker_delivers_through_a_real_smtp_server(db, practice, smtp_config, caplog):
    """Subject, sender, recipient, both bodies and the link arrive; the mail and its job are marked done."""
    message = write_reset_mail(db, practice, locale="en")
    assert message.status == QUEUED
    with caplog.at_level(logging.INFO, logger="app"):
        job = deliver_next()
    assert job.kind == DELIVER_JOB_KIND and job.status == SUCCEEDED
    [received] = smtp_config.received
    assert received["Subject"] == "Reset your Praxis Hub password"
    assert received["To"] == "anna.berg@example.test" and received["From"] == "Praxis Hub <hub@praxis.test>"
    assert LINK in received.get_body(("plain",)).get_content()
    assert f'href="{LINK}"' in received.get_body(("html",)).get_content()
    db.session.refresh(message)
    assert message.status == SENT and message.attempts == 1 and message.sent_at is not None
    ours = " ".join(record.getMessage() for record in caplog.records if record.name.startswith("app."))
    assert "example.test" in ours and "anna.berg" not in ours and LINK not in ours


def test_no_database_transaction_is_open_while_the_server_is_contacted(db, practice, smtp_config, monkeypatch):
    """The message is read, the transaction ends, then SMTP; the outcome is written afterwards."""
    seen = []
    real_send = mail_jobs.send_email

    def watching_send(config, message):
        seen.append(db.session().in_transaction())
        return real_send(config, message)

    monkeypatch.setattr(mail_jobs, "send_email", watching_send)
    write_reset_mail(db, practice)
    deliver_next()
    assert seen == [False]
    assert db.session.scalar(select(MailMessage.status)) == SENT


def test_an_unreachable_server_is_retried_with_backoff_then_given_up(db, practice, app):
    """Connection refused: the attempt fails, the job waits MAIL_RETRY_DELAYS, and after the last try the mail is
    failed; the stored error is the exception class, never the server's text."""
    app.config.update(MAIL_SMTP_HOST="127.0.0.1", MAIL_SMTP_PORT=free_port(), MAIL_SMTP_SECURITY="none",
                      MAIL_RETRY_DELAYS=(60,))
    message = write_reset_mail(db, practice)
    before = utcnow()
    job = deliver_next()
    db.session.refresh(message)
    db.session.refresh(job)
    assert message.status == QUEUED and message.attempts == 1 and message.last_error == "ConnectionRefusedError"
    assert job.status == JOB_QUEUED and job.run_after >= before + timedelta(seconds=59)
    job.run_after = utcnow()
    db.session.commit()
    deliver_next()
    db.session.refresh(message)
    db.session.refresh(job)
    assert message.status == FAILED and message.attempts == 2 and job.status == JOB_FAILED


def test_a_permanent_refusal_is_not_retried(db, practice, smtp_config):
    """SMTP 550 for the recipient: the mail is failed at once with the code, and nothing is queued again."""
    smtp_config.refuse_with = "550 5.1.1 <anna.berg@example.test>: Recipient address rejected"
    message = write_reset_mail(db, practice)
    deliver_next()
    db.session.refresh(message)
    assert message.status == FAILED and message.attempts == 1
    assert message.last_error == "SMTPRecipientsRefused 550"
    assert claim_next("test-worker") is None and smtp_config.received == []


def test_the_sender_signs_in_when_a_user_is_configured(db, practice, app):
    """MAIL_SMTP_USER and MAIL_SMTP_PASSWORD are used to log in before the mail is handed over."""
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"richtig")

    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        app.config.update(MAIL_SMTP_HOST="127.0.0.1", MAIL_SMTP_PORT=port, MAIL_SMTP_SECURITY="none",
                          MAIL_SMTP_USER="hub", MAIL_SMTP_PASSWORD="richtig")
        message = write_reset_mail(db, practice)
        deliver_next()
    finally:
        controller.stop()
    db.session.refresh(message)
    assert logins == [(b"hub", b"richtig")]
    assert message.status == SENT and len(mailbox.received) == 1


def test_an_unknown_security_mode_fails_the_mail_without_retrying(db, practice, app):
    """A typo in MAIL_SMTP_SECURITY is a configuration error: the mail fails at once with the reason."""
    app.config.update(MAIL_SMTP_HOST="127.0.0.1", MAIL_SMTP_PORT=free_port(), MAIL_SMTP_SECURITY="tls")
    message = write_reset_mail(db, practice)
    deliver_next()
    db.session.refresh(message)
    assert message.status == FAILED and "MAIL_SMTP_SECURITY='tls'" in message.last_error


def test_old_mails_are_pruned_hourly_but_never_those_still_waiting(db, practice, app):
    """Older than MAIL_KEEP_DAYS and sent, failed or held: deleted on the hourly prune; queued ones and recent ones
    stay; the non-pruning ticks delete nothing."""
    old = utcnow() - timedelta(days=app.config["MAIL_KEEP_DAYS"] + 1)
    mails = {status: write_reset_mail(db, practice, recipient=f"{status}@example.test")
             for status in (SENT, FAILED, HELD, QUEUED)}
    for status, message in mails.items():
        message.status, message.created_at = status, old
    recent = write_reset_mail(db, practice, recipient="recent@example.test")
    db.session.commit()
    assert prune_outbox(prune=False) == {"mails_pruned": 0}
    assert prune_outbox(prune=True) == {"mails_pruned": 3}
    left = set(db.session.scalars(select(MailMessage.id)))
    assert left == {mails[QUEUED].id, recent.id}
