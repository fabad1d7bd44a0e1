"""Users of a practice and their personal API tokens."""

import hashlib
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.platform.database import UTCDateTime, utcnow
from app.platform.extensions import db


class User(UserMixin, db.Model):
    """A person who signs in to Praxis Hub. ``role`` selects a permission set
    (app.platform.security.permissions.ROLE_PERMISSIONS)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # None until the user sets a password through an invite link.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped on password change, reset or deactivation: invalidates existing sessions and invite links.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    practice = relationship("Practice")

    @property
    def is_active(self):
        """Flask-Login: deactivated users cannot sign in, and their sessions stop working."""
        return self.active

    def get_id(self):
        """Session identity = id plus session version, so a password change logs out every other session."""
        return f"{self.id}:{self.session_version}"

    def __repr__(self):
        return f"<User {self.email}>"


# The one scope a token may be limited to: a check-in terminal at a door may only call the endpoints whose
# permission is access.validate (issue 19 item 9). A token without a scope acts with all its user's permissions.
TERMINAL_SCOPE = "access.validate"
TOKEN_SCOPES = (TERMINAL_SCOPE,)


class ApiToken(db.Model):
    """A personal API token. Only the SHA-256 of the token is stored (tokens are 256-bit random, so a fast hash
    is safe); the prefix lets a person recognise a token in the list. ``scope`` (one of TOKEN_SCOPES, or None for
    the user's full permissions) limits the endpoints the token may call to those declaring that permission."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id_revoked_at", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scope: Mapped[str | None] = mapped_column(String(32))

    user = relationship("User")

    @staticmethod
    def hash_token(token: str) -> str:
        """The stored form of a token."""
        return hashlib.sha256(token.encode()).hexdigest()

    def is_usable(self, now) -> bool:
        """True when the token is neither revoked nor expired."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
