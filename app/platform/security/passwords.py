"""Password hashing and random tokens."""

import secrets

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash


def hash_password(password: str) -> str:
    """Hash a password with Werkzeug's scrypt (or PASSWORD_HASH_METHOD, which tests lower for speed)."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    return generate_password_hash(password, method=method)


def verify_password(password_hash, password) -> bool:
    """Constant-time password check; an absent hash never matches."""
    if not password_hash:
        return False
    return check_password_hash(password_hash, password)


def new_token(prefix: str) -> str:
    """A fresh random token (256 bits) with a readable prefix, e.g. ``phk_...``."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"
