"""Signing in, lockout, invite links and user management within a practice."""

from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import and_, case, func, literal, null, or_, select, update

from app.accounts.models import User
from app.platform.audit.service import record
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db
from app.platform.security.passwords import hash_password, verify_password
from app.platform.security.permissions import ROLES

# Verified against when the email is unknown or the account locked, so a failed login takes as long either way.
_DUMMY_HASH = None


class LoginFailed(ServiceError):
    """Sign-in refused. The message is the same for unknown email, wrong password, lockout and deactivation."""


def normalise_email(email: str) -> str:
    """Emails are compared case-insensitively and without surrounding spaces."""
    return (email or "").strip().lower()


def _generic_failure():
    return LoginFailed(_("Email or password is wrong, or the account is temporarily locked."), code="login_failed")


def _spend_a_password_check(password):
    """Check ``password`` against a dummy hash: answers that refuse without looking at an account's password take
    as long as the others, so timing tells nobody whether an email exists or an account is locked."""
    global _DUMMY_HASH
    _DUMMY_HASH = _DUMMY_HASH or hash_password("not-a-real-password")
    verify_password(_DUMMY_HASH, password)


def authenticate(email, password, actor):
    """Check credentials and return the user, or raise LoginFailed. After AUTH_MAX_FAILED_LOGINS failures in a row
    the account is locked for AUTH_LOCKOUT_MINUTES, and during the lock even the right password is refused. A try
    is counted (``_claim_attempt``) before its password is checked, so parallel requests cannot check more than
    the limit. Every outcome is audited."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        _spend_a_password_check(password)
        record("login.failed", actor, meta={"reason": "unknown_email"})
        db.session.commit()
        raise _generic_failure()
    # Read before the claim commits (which expires the object), so checking the password needs no database.
    password_hash, active, target = user.password_hash, user.active, {
        "practice_id": user.practice_id, "object_type": "user", "object_id": user.id}
    attempt = _claim_attempt(user.id)
    if attempt is None:
        _spend_a_password_check(password)
        record("login.failed", actor, **target, meta={"reason": "locked"})
        db.session.commit()
        raise _generic_failure()
    if not verify_password(password_hash, password) or not active:
        _record_failure(actor, target, attempt, reason="wrong_password" if active else "inactive")
        raise _generic_failure()
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    record("login.success", actor.acting_as(user), object_type="user", object_id=user.id)
    db.session.commit()
    return user


def _claim_attempt(user_id):
    """Count one sign-in try of ``user_id`` before its password is checked, in one conditional UPDATE (atomic on
    SQLite and PostgreSQL, where concurrent updates of the row queue up and each sees the one before). Returns the
    try's number in the current series, or None when the account is locked: then the password is not checked.
    The try that reaches AUTH_MAX_FAILED_LOGINS sets the lock itself, so no try after it is admitted however many
    arrive at once; if its password turns out right the sign-in lifts the lock again. A lock that has run out
    starts a new series. Committed at once, so no transaction stays open while the password is checked."""
    config = current_app.config
    now = utcnow()
    lock_over = and_(User.locked_until.is_not(None), User.locked_until <= now)
    number = case((lock_over, 1), else_=User.failed_logins + 1)
    locked_until = literal(now + timedelta(minutes=config["AUTH_LOCKOUT_MINUTES"]), User.locked_until.type)
    claim = (
        update(User)
        .where(User.id == user_id, or_(User.locked_until.is_(None), User.locked_until <= now))
        .values(failed_logins=number,
                locked_until=case((number >= config["AUTH_MAX_FAILED_LOGINS"], locked_until), else_=null()))
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)
    )
    attempt = db.session.scalar(claim)
    db.session.commit()
    return attempt


def _record_failure(actor, target, attempt, reason):
    """Audit a failed try (already counted by ``_claim_attempt``) on ``target`` (the user's audit columns); the try
    that reached the limit, and so locked the account, also writes the one ``login.locked`` entry."""
    config = current_app.config
    record("login.failed", actor, **target, meta={"reason": reason, "failed_logins": attempt})
    if attempt >= config["AUTH_MAX_FAILED_LOGINS"]:
        record("login.locked", actor, **target, meta={"minutes": config["AUTH_LOCKOUT_MINUTES"]})
    db.session.commit()


def log_out(actor, user):
    """Sign ``user`` out on the server: the session version moves on, so every session cookie issued before (a
    copied one too) stops working on its next request. The version is per user, so this ends the user's sessions
    on every device; the caller then clears the current one."""
    _bump_session_version(user)
    record("logout", actor, object_type="user", object_id=user.id)
    db.session.commit()


def end_other_sessions(actor, user):
    """End every session of ``user`` (a forgotten or lost device, a copied cookie) by moving the session version
    on; the caller signs the current session in again under the new version, so only that one goes on."""
    _bump_session_version(user)
    record("logout.other_devices", actor, object_type="user", object_id=user.id)
    db.session.commit()


def _bump_session_version(user):
    """Move ``user``'s session version on, computed by the database (``session_version + 1``) so that two
    concurrent bumps never land on the same number."""
    user.session_version = User.session_version + 1


def remember_locale(user, locale):
    """Keep ``user``'s interface language for their next sessions."""
    user.locale = locale
    db.session.commit()


def _invite_serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="praxis-hub-invite")


def make_invite_token(user) -> str:
    """A signed link token that lets ``user`` set a password once (it dies when session_version changes)."""
    return _invite_serializer().dumps({"u": user.id, "v": user.session_version})


def user_for_invite(token):
    """The user an invite token belongs to, or raise ServiceError (expired, used or forged)."""
    max_age = current_app.config["AUTH_INVITE_MAX_AGE_HOURS"] * 3600
    try:
        data = _invite_serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise ServiceError(_("This link has expired. Ask your practice admin for a new one."), code="expired") from None
    except BadSignature:
        raise ServiceError(_("This link is not valid."), code="invalid_link") from None
    user = db.session.get(User, data.get("u"))
    if user is None or not user.active or user.session_version != data.get("v"):
        raise ServiceError(_("This link has already been used or has been revoked."), code="used_link")
    return user


def check_password_policy(password, user_email=None):
    """Raise ServiceError when a new password is too weak."""
    minimum = current_app.config["AUTH_MIN_PASSWORD_LENGTH"]
    if len(password or "") < minimum:
        raise ServiceError(_("The password must have at least %(n)d characters.", n=minimum), field="password")
    if user_email and normalise_email(password) == normalise_email(user_email):
        raise ServiceError(_("The password must not be your email address."), field="password")


def set_password_from_invite(token, password, actor):
    """Set the password of the user an invite token names; the token stops working afterwards."""
    user = user_for_invite(token)
    check_password_policy(password, user.email)
    _set_password(user, password)
    record("user.password_set", actor.acting_as(user), object_type="user",
           object_id=user.id)
    db.session.commit()
    return user


def change_own_password(user, current_password, new_password, actor):
    """A signed-in user changes their password; other sessions of that user end."""
    if not verify_password(user.password_hash, current_password):
        raise ServiceError(_("The current password is wrong."), field="current_password")
    check_password_policy(new_password, user.email)
    _set_password(user, new_password)
    record("user.password_change", actor, object_type="user", object_id=user.id)
    db.session.commit()
    return user


def _set_password(user, password):
    user.password_hash = hash_password(password)
    _bump_session_version(user)
    user.failed_logins = 0
    user.locked_until = None


def practice_users(practice_id):
    """All users of a practice, by name."""
    return db.session.scalars(select(User).where(User.practice_id == practice_id).order_by(User.name)).all()


def practice_user(practice_id, user_id):
    """The practice's user ``user_id``, or None (another practice's user is indistinguishable from a missing one)."""
    user = db.session.get(User, user_id)
    return user if user is not None and user.practice_id == practice_id else None


def email_taken(email, exclude_user_id=None) -> bool:
    """True when another account uses ``email`` (emails are the sign-in name, unique across practices)."""
    query = select(User.id).where(User.email == normalise_email(email))
    if exclude_user_id is not None:
        query = query.where(User.id != exclude_user_id)
    return db.session.scalar(query) is not None


def create_user(actor, *, email, name, role, password=None):
    """Create a user in the actor's practice. Without a password, returns an invite token to hand over."""
    if role not in ROLES:
        raise ServiceError(_("Unknown role."), field="role")
    if email_taken(email):
        raise ServiceError(_("A user with this email address already exists."), field="email")
    if password:
        check_password_policy(password, email)
    user = User(practice_id=actor.practice_id, email=normalise_email(email), name=name.strip(), role=role,
                active=True, password_hash=hash_password(password) if password else None)
    db.session.add(user)
    db.session.flush()
    record("user.create", actor, object_type="user", object_id=user.id,
           meta={"email": user.email, "role": role, "invite": not password})
    db.session.commit()
    return user, (None if password else make_invite_token(user))


def _active_admins(practice_id):
    return db.session.scalar(
        select(func.count(User.id)).where(User.practice_id == practice_id, User.role == "admin", User.active)
    )


def update_user(actor, user, *, name, role, active):
    """Change a user's name, role or active flag. The practice's last active admin cannot lose admin rights."""
    if role not in ROLES:
        raise ServiceError(_("Unknown role."), field="role")
    removes_admin = user.role == "admin" and user.active and (role != "admin" or not active)
    if removes_admin and _active_admins(user.practice_id) <= 1:
        raise ServiceError(_("The practice needs at least one active admin."), field="role")
    changes = {}
    if name.strip() != user.name:
        changes["name"] = [user.name, name.strip()]
        user.name = name.strip()
    if role != user.role:
        record("user.role_change", actor, object_type="user", object_id=user.id,
               meta={"from": user.role, "to": role})
        user.role = role
    if active != user.active:
        record("user.activate" if active else "user.deactivate", actor, object_type="user", object_id=user.id)
        user.active = active
        _bump_session_version(user)
    if changes:
        record("user.update", actor, object_type="user", object_id=user.id, meta=changes)
    db.session.commit()
    return user


def reset_password(actor, user):
    """Invalidate the user's password and sessions, clear a lockout, and return a fresh invite token."""
    user.password_hash = None
    _bump_session_version(user)
    user.failed_logins = 0
    user.locked_until = None
    record("user.password_reset", actor, object_type="user", object_id=user.id)
    db.session.commit()
    return make_invite_token(user)


def session_user_clause(session_id):
    """The condition on ``users`` that the session id ``"<id>:<session_version>"`` (what the session cookie points
    to) meets only while that session lives: that user, still active, still at that session version. None when the
    id is malformed. The one place the session check is written, for the user loader and for a read that fetches the
    user together with its own rows in one statement (the hub's status poll)."""
    try:
        raw_id, raw_version = session_id.split(":", 1)
        user_id, version = int(raw_id), int(raw_version)
    except (ValueError, AttributeError):
        return None
    if str(version) != raw_version:
        return None
    return and_(User.id == user_id, User.session_version == version, User.active)


def load_session_user(user_id):
    """Flask-Login loader: ``"<id>:<session_version>"`` → the active user, or None when the version moved on (one
    statement, by primary key, never answered from the identity map)."""
    clause = session_user_clause(user_id)
    return None if clause is None else db.session.scalar(select(User).where(clause))


def practice_therapists(practice_id):
    """Active therapists of a practice, by name, for the therapist choices."""
    query = select(User).where(User.practice_id == practice_id, User.role == "therapist", User.active)
    return db.session.scalars(query.order_by(User.name)).all()


def active_therapist_id(practice_id, user_id):
    """SQL (a scalar subquery): ``user_id`` when it is an active therapist of the practice, else NULL. Both may
    be SQL expressions, so a statement can assign a therapist and check it at once (the webhook receiver's new
    patients, app.webhooks.fast_patient)."""
    return select(User.id).where(User.id == user_id, User.practice_id == practice_id, User.role == "therapist",
                                 User.active).scalar_subquery()


def is_active_therapist(practice_id, user_id):
    """True when ``user_id`` is an active therapist of the practice (one indexed lookup)."""
    return db.session.scalar(select(active_therapist_id(practice_id, user_id))) is not None
