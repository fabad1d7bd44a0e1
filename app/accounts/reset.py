""""Passwort vergessen?": a person asks for a link by e-mail and chooses a new password with it.

The answer to a request never says whether the address belongs to an account (the page shows the same text
either way, and the request is rate-limited like the login). The link carries a token signed with SECRET_KEY that
names the user, their session version and a fingerprint of their password hash, and expires after
AUTH_RESET_MAX_AGE_MINUTES. Nothing is stored: setting the password moves the session version on and changes the
hash, so the link dies once used, and so do all of the user's sessions (as with "sign out everywhere"). A new mail
is written at most once per RESEND_MINUTES per account, so nobody can flood a mailbox through the form."""

import hashlib
import hmac

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.service import _set_password, check_password_policy, normalise_email
from app.platform.audit.service import record
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.mail.service import mail_link, mail_locale, mailed_since, queue_mail

MAIL_KIND = "accounts.password_reset"
RESEND_MINUTES = 2


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="praxis-hub-password-reset")


def _fingerprint(user):
    """A short digest of the current password hash: a token made before the password changed no longer matches."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def make_reset_token(user):
    """A signed token that lets ``user`` choose a new password once, until it expires."""
    return _serializer().dumps({"u": user.id, "v": user.session_version, "p": _fingerprint(user)})


def request_password_reset(email, actor):
    """Mail a reset link to the active account with ``email``, if there is one; audited either way. Returns
    nothing, so the caller cannot answer differently for an unknown address."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.active:
        record("user.reset_requested", actor, meta={"sent": False})
        db.session.commit()
        return
    sent = not mailed_since(MAIL_KIND, user.email, RESEND_MINUTES)
    if sent:
        minutes = current_app.config["AUTH_RESET_MAX_AGE_MINUTES"]
        queue_mail(kind=MAIL_KIND, recipient=user.email, template="password_reset", practice_id=user.practice_id,
                   locale=mail_locale(user.locale),
                   context={"name": user.name, "minutes": minutes,
                            "link": mail_link("auth.reset_password", token=make_reset_token(user))})
    record("user.reset_requested", actor, practice_id=user.practice_id, object_type="user", object_id=user.id,
           meta={"sent": sent})
    db.session.commit()


def user_for_reset(token):
    """The user a reset token belongs to, or raise ServiceError (expired, used or forged)."""
    max_age = current_app.config["AUTH_RESET_MAX_AGE_MINUTES"] * 60
    try:
        data = _serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise ServiceError(_("This link has expired. Ask for a new one on the sign-in page."),
                           code="expired") from None
    except BadSignature:
        raise ServiceError(_("This link is not valid."), code="invalid_link") from None
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.active or user.session_version != data.get("v") \
            or not hmac.compare_digest(_fingerprint(user), str(data.get("p"))):
        raise ServiceError(_("This link has already been used. Ask for a new one on the sign-in page."),
                           code="used_link")
    return user


def reset_password_with_token(token, password, actor):
    """Set a new password from a reset link. The link dies with it, every session of the user ends and a lockout
    is lifted; audited."""
    user = user_for_reset(token)
    check_password_policy(password, user.email)
    _set_password(user, password)
    record("user.reset_completed", actor.acting_as(user), object_type="user", object_id=user.id)
    db.session.commit()
    return user
