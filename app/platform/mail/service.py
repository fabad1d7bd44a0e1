"""Writing e-mails: render a mail template in the recipient's language, store the message in the caller's
transaction and, when a mail server is configured, queue the job that delivers it. Domains call ``queue_mail``; they
never talk SMTP themselves (see app.platform.mail.jobs), and nothing here knows what a mail is about.

A mail template is ``templates/mail/messages/<name>.txt`` with the blocks ``subject`` and ``body`` (plain text, no
escaping), optionally beside ``<name>.html`` with the block ``body`` for an HTML alternative (escaped). Their texts
go through gettext, so one template serves German and English."""

import logging
import re
from datetime import timedelta

from flask import current_app, has_request_context, request, url_for
from flask_babel import force_locale
from jinja2 import TemplateNotFound
from sqlalchemy import delete, select

from app.platform.database import utcnow
from app.platform.extensions import db
from app.platform.jobs.queue import enqueue
from app.platform.mail.models import FAILED, HELD, QUEUED, MailMessage
from app.platform.security.crypto import decrypt_secret, encrypt_secret

logger = logging.getLogger(__name__)

DELIVER_JOB_KIND = "mail.deliver"


def smtp_configured(config=None):
    """True when MAIL_SMTP_HOST names a mail server; otherwise mails stay in the outbox page."""
    return bool((config or current_app.config)["MAIL_SMTP_HOST"])


def mail_locale(*preferred):
    """The first of ``preferred`` (the recipient's language, then the practice's) that the app speaks, else the
    default language."""
    languages = current_app.config["LANGUAGES"]
    return next((locale for locale in preferred if locale in languages), current_app.config["BABEL_DEFAULT_LOCALE"])


def mail_link(endpoint, **values):
    """An absolute link for a mail: PUBLIC_BASE_URL when set, else the current request's own scheme and host (behind
    a trusted proxy the forwarded ones), else (CLI, worker) SERVED_BASE_URL, where `make run` serves."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if not base:
        base = request.host_url if has_request_context() else current_app.config["SERVED_BASE_URL"]
    return base.rstrip("/") + url_for(endpoint, **values)


def render_mail(name, locale, context):
    """``(subject, text, html)`` of the mail template ``name`` in ``locale``; ``html`` is None without an HTML
    template. The subject is one line (no header can be smuggled in through a name)."""
    env = current_app.jinja_env
    context = {**context, "locale": locale}
    with force_locale(locale):
        text_template = env.get_template(f"mail/messages/{name}.txt")
        text_context = text_template.new_context(context)
        subject = "".join(text_template.blocks["subject"](text_context))
        text = "".join(text_template.blocks["body"](text_context)).strip() + "\n"
        try:
            html_template = env.get_template(f"mail/messages/{name}.html")
        except TemplateNotFound:
            html = None
        else:
            html = html_template.render(**context)
    return re.sub(r"\s+", " ", subject).strip()[:300], text, html


def queue_mail(*, kind, recipient, template, context, locale, practice_id=None):
    """Write one mail to the outbox in the caller's transaction (the caller commits, so the mail and the change that
    causes it are stored together or not at all) and return it. With a mail server configured the delivery job is
    queued with it (retried after MAIL_RETRY_DELAYS); without one the mail is held for the outbox page. The log
    names the kind and the recipient's domain only."""
    subject, text, html = render_mail(template, locale, context)
    message = MailMessage(practice_id=practice_id, kind=kind, recipient=recipient.strip(), locale=locale,
                          subject=subject, body_text=encrypt_secret(text),
                          body_html=encrypt_secret(html) if html else None,
                          status=QUEUED if smtp_configured() else HELD, attempts=0)
    db.session.add(message)
    db.session.flush()
    if message.status == QUEUED:
        _enqueue_delivery(message)
        logger.info("mail %s (%s) to a recipient at %s queued for delivery", message.id, kind,
                    message.recipient_domain)
    else:
        logger.info("mail %s (%s) to a recipient at %s kept in the outbox: no MAIL_SMTP_HOST is set", message.id,
                    kind, message.recipient_domain)
    return message


def _enqueue_delivery(message):
    """Queue the job that delivers ``message`` (in the current transaction), retried after MAIL_RETRY_DELAYS."""
    delays = current_app.config["MAIL_RETRY_DELAYS"]
    enqueue(DELIVER_JOB_KIND, {"message_id": message.id}, practice_id=message.practice_id,
            max_attempts=len(delays) + 1, retry_delays=delays)


def can_send_again(message):
    """True when ``message`` may be handed to the mail server (again): it failed, or it was held while no mail
    server was configured, and one is configured now."""
    return smtp_configured() and message.status in (FAILED, HELD)


def send_again(message):
    """Queue a failed or held mail for delivery once more (after the mail server's settings were fixed or set), in
    the caller's transaction; False when it cannot be sent (see can_send_again)."""
    if not can_send_again(message):
        return False
    message.status = QUEUED
    _enqueue_delivery(message)
    return True


def prune_outbox(*, prune=False):
    """Periodic task: with ``prune`` (the worker asks hourly) delete the mails older than MAIL_KEEP_DAYS that are
    no longer waiting for delivery; their bodies hold names and links nobody needs any more. Returns the count."""
    if not prune:
        return {"mails_pruned": 0}
    cutoff = utcnow() - timedelta(days=current_app.config["MAIL_KEEP_DAYS"])
    result = db.session.execute(delete(MailMessage).where(MailMessage.created_at < cutoff,
                                                          MailMessage.status != QUEUED))
    db.session.commit()
    return {"mails_pruned": result.rowcount}


def message_bodies(message):
    """``(text, html)`` of a stored message, decrypted."""
    return decrypt_secret(message.body_text), decrypt_secret(message.body_html) if message.body_html else None


def mailed_since(kind, recipient, minutes):
    """True when a mail of ``kind`` to ``recipient`` was written in the last ``minutes`` (one indexed lookup), so a
    use case can refuse to flood a mailbox."""
    query = select(MailMessage.id).where(MailMessage.recipient == recipient, MailMessage.kind == kind,
                                         MailMessage.created_at > utcnow() - timedelta(minutes=minutes)).limit(1)
    return db.session.scalar(query) is not None


def outbox_query(practice_id):
    """The practice's mails, for the outbox page (the caller orders and pages)."""
    return select(MailMessage).where(MailMessage.practice_id == practice_id)


def practice_message(practice_id, message_id):
    """The practice's mail ``message_id``, or None (another practice's mail is indistinguishable from none)."""
    return db.session.scalar(select(MailMessage).where(
        MailMessage.id == message_id, MailMessage.practice_id == practice_id))
