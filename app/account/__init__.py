"""The signed-in user's own account: password and personal API tokens."""

from app.account.routes import bp

__all__ = ["bp"]
