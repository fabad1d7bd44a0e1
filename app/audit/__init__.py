"""The audit log viewer for admins."""

from app.audit.routes import bp

__all__ = ["bp"]
