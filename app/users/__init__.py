"""User management for practice admins."""

from app.users.routes import bp

__all__ = ["bp"]
