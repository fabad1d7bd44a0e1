"""Sign-in, sign-out, invite links and language choice."""

from app.auth.routes import bp

__all__ = ["bp"]
