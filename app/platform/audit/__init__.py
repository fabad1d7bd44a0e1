"""The audit log viewer for admins."""

from app.platform.audit.routes import bp

__all__ = ["bp"]
