"""Invites by e-mail: a user created without a password gets a mail with the link to choose one (the same link the
admin is shown once, see app.accounts.service.make_invite_token), in the user's language."""

from flask import current_app

from app.platform.audit.service import record
from app.platform.extensions import db
from app.platform.mail.service import mail_link, mail_locale, queue_mail

MAIL_KIND = "accounts.invite"


def send_invite(actor, user, token):
    """Write the invite mail for ``user`` with the link of ``token`` and audit it; commits. Returns the mail (its
    status says whether it goes out or waits in the outbox)."""
    inviter = actor.user.name if actor.user is not None else user.practice.name
    message = queue_mail(
        kind=MAIL_KIND, recipient=user.email, template="invite", practice_id=user.practice_id,
        locale=mail_locale(user.locale),
        context={"name": user.name, "practice_name": user.practice.name, "inviter_name": inviter,
                 "hours": current_app.config["AUTH_INVITE_MAX_AGE_HOURS"],
                 "link": mail_link("auth.invite", token=token)},
    )
    record("user.invite_sent", actor, object_type="user", object_id=user.id, meta={"mail": message.id})
    db.session.commit()
    return message
