"""The job kind that delivers a queued mail. The message is read in one short transaction that ends before the
mail server is contacted, and the outcome is written in a new short one, so no row lock or snapshot is held across
the network call. A failure the server calls temporary (or no answer at all) fails the job's attempt, and the
worker tries again after MAIL_RETRY_DELAYS; a permanent refusal (SMTP 5xx) marks the mail failed at once.

Delivery is at least once: should the worker die between the server's acceptance and the outcome's commit, the
job is taken over and the mail sent again."""

import logging

from flask import current_app
from sqlalchemy import update

from app.platform.database import utcnow
from app.platform.extensions import db
from app.platform.jobs.queue import lease_of
from app.platform.mail.models import FAILED, QUEUED, SENT, MailMessage
from app.platform.mail.sender import MailDeliveryError, build_email, send_email
from app.platform.mail.service import message_bodies

logger = logging.getLogger(__name__)


def deliver_mail(job, progress):
    """Job handler: send the mail ``job.payload["message_id"]`` and record the outcome on it."""
    attempt, last_attempt = lease_of(job).attempt, lease_of(job).attempt >= job.max_attempts
    message = db.session.get(MailMessage, job.payload["message_id"])
    if message is None or message.status == SENT:
        db.session.commit()
        return
    config = current_app.config
    text, html = message_bodies(message)
    email = build_email(config["MAIL_SENDER"], message.recipient, message.subject, text, html)
    message_id, kind, domain = message.id, message.kind, message.recipient_domain
    db.session.commit()  # end the read transaction before talking to the mail server
    try:
        send_email(config, email)
    except MailDeliveryError as error:
        final = error.permanent or last_attempt
        _record(message_id, status=FAILED if final else QUEUED, last_error=error.reason[:300])
        logger.warning("mail %s (%s) to a recipient at %s: attempt %s failed (%s)%s", message_id, kind, domain,
                       attempt, error.reason, "; giving up" if final else "; will retry")
        if not error.permanent:
            raise
        return
    _record(message_id, status=SENT, last_error=None, sent_at=utcnow())
    logger.info("mail %s (%s) to a recipient at %s sent", message_id, kind, domain)


def _record(message_id, **values):
    """Write a delivery outcome (one more attempt) in a short transaction of its own."""
    db.session.execute(update(MailMessage).where(MailMessage.id == message_id)
                       .values(attempts=MailMessage.attempts + 1, **values)
                       .execution_options(synchronize_session=False))
    db.session.commit()
