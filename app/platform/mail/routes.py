"""The outbox page: every mail the practice's people and patients were sent, with its delivery state; opening one
shows it as written (audited, as it may hold a patient's name or a sign-in link), and a mail that failed, or was
held while no mail server was set up, can be sent again. In the embedded run, without a mail server, this is
where the mails are read and passed on by hand."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.platform.audit.service import record
from app.platform.extensions import db
from app.platform.mail.models import MailMessage
from app.platform.mail.service import (
    can_send_again,
    message_bodies,
    outbox_query,
    practice_message,
    send_again,
    smtp_configured,
)
from app.platform.pagination import paginate
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required

bp = Blueprint("mail", __name__, url_prefix="/mail")

PAGE_SIZE = 50
# What a stored delivery failure (exception class, then SMTP code) means, by its first word.
FAILURES = {
    "SMTPAuthenticationError": _l("The mail server refused the sign-in (MAIL_SMTP_USER, MAIL_SMTP_PASSWORD)."),
    "SMTPRecipientsRefused": _l("The mail server refused the recipient's address."),
    "SMTPSenderRefused": _l("The mail server refused the sender address (MAIL_SENDER)."),
    "SMTPDataError": _l("The mail server refused the mail."),
    "MAIL_SMTP_SECURITY": _l("MAIL_SMTP_SECURITY must be starttls, ssl or none."),
}
UNREACHABLE = _l("The mail server could not be reached or ended the connection.")


def failure_label(error):
    """A stored delivery failure in words, with the server's SMTP code when it answered with one."""
    name, _sep, code = error.partition(" ")
    label = str(FAILURES.get(name.split("=", 1)[0], UNREACHABLE))
    return f"{label} (SMTP {code})" if code.isdigit() else label


@bp.context_processor
def _helpers():
    """``failure_label(last_error)`` for the templates."""
    return {"failure_label": failure_label}


def _message_or_404(message_id):
    """The practice's mail; another practice's mail is indistinguishable from a missing one."""
    message = practice_message(current_user.practice_id, message_id)
    if message is None:
        abort(404)
    return message


@bp.get("/")
@permission_required("mail.outbox")
def index():
    """Page: the practice's mails, newest first, paged."""
    page = paginate(outbox_query(current_user.practice_id), PAGE_SIZE, MailMessage.id,
                    order_by=(MailMessage.created_at.desc(), MailMessage.id.desc()))
    return render_template("mail/index.html", page=page, smtp_configured=smtp_configured())


@bp.get("/<int:message_id>")
@permission_required("mail.outbox")
def detail(message_id):
    """Page: one mail with its text body; opening it is audited."""
    message = _message_or_404(message_id)
    text, html = message_bodies(message)
    record("mail.read", current_actor(), object_type="mail", object_id=message.id)
    db.session.commit()
    return render_template("mail/detail.html", message=message, text=text, has_html=html is not None,
                           can_send_again=can_send_again(message))


@bp.post("/<int:message_id>/send")
@permission_required("mail.outbox")
def resend(message_id):
    """Queue a failed or held mail for delivery again (audited) and go back to it (303)."""
    message = _message_or_404(message_id)
    if send_again(message):
        record("mail.resend", current_actor(), object_type="mail", object_id=message.id)
        db.session.commit()
        flash(_("The e-mail will be sent again in a moment."), "success")
    else:
        flash(_("This e-mail cannot be sent again: it is on its way, was sent, or no mail server is set up."),
              "error")
    return redirect(url_for("mail.detail", message_id=message.id), code=303)
