"""Personal API tokens: created once (the plaintext is shown a single time), stored hashed, revocable, and
optionally limited to one permission's endpoints (a door terminal's token)."""

from datetime import datetime, time, timedelta

from flask import g
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.accounts.models import TOKEN_SCOPES, ApiToken
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.passwords import new_token
from app.platform.security.permissions import has_permission

TOKEN_PREFIX = "phk"  # noqa: S105 (a label, not a secret)
# last_used_at is written at most this often per token, so API traffic does not turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def create_token(actor, user, name, expires_on=None, scope=None):
    """Create a token for ``user``; returns (row, plaintext). ``expires_on`` is a date (end of that day, UTC);
    ``scope`` (one of TOKEN_SCOPES) limits it to that permission's endpoints, which ``user`` must hold."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("Please give the token a name."), field="name")
    if scope is not None and (scope not in TOKEN_SCOPES or not has_permission(user, scope)):
        raise ServiceError(_("This account may not create a token for a check-in terminal."), field="name")
    expires_at = None
    if expires_on is not None:
        expires_at = datetime.combine(expires_on + timedelta(days=1), time.min).replace(tzinfo=utcnow().tzinfo)
        if expires_at <= utcnow():
            raise ServiceError(_("The expiry date must be in the future."), field="expires_on")
    plaintext = new_token(TOKEN_PREFIX)
    token = ApiToken(practice_id=user.practice_id, user_id=user.id, name=name, prefix=plaintext[:10],
                     token_hash=ApiToken.hash_token(plaintext), expires_at=expires_at, scope=scope)
    db.session.add(token)
    db.session.flush()
    record("token.create", actor, object_type="api_token", object_id=token.id,
           meta={"name": name, "prefix": token.prefix, "for_user": user.id, "scope": scope})
    db.session.commit()
    return token, plaintext


def user_tokens(user):
    """The user's tokens, newest first (revoked ones included, for the record)."""
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    return db.session.scalars(query).all()


def own_token(user, token_id):
    """``user``'s token ``token_id``, or None (someone else's token is indistinguishable from a missing one)."""
    token = db.session.get(ApiToken, token_id)
    return token if token is not None and token.user_id == user.id else None


def revoke_token(actor, token):
    """Revoke a token; revoking twice is harmless and audited once."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record("token.revoke", actor, object_type="api_token", object_id=token.id,
               meta={"name": token.name, "prefix": token.prefix})
        db.session.commit()
    return token


def authenticate_bearer(header):
    """The active user behind ``Authorization: Bearer <token>``, or None when missing, unknown, expired or revoked.
    The token's scope goes to ``g.api_token_scope``, where the access guard enforces it."""
    if not header or not header.startswith("Bearer "):
        return None
    plaintext = header[len("Bearer "):].strip()
    # The token and its user in one statement: every API request pays for this lookup.
    token = db.session.scalar(select(ApiToken).options(joinedload(ApiToken.user))
                              .where(ApiToken.token_hash == ApiToken.hash_token(plaintext)))
    now = utcnow()
    if token is None or not token.is_usable(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.session.commit()
    g.api_token_scope = token.scope
    return token.user
