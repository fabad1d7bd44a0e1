"""The Integration Hub: status, settings, sync runs and mappings of the practice's integrations."""

from app.hub.routes import bp

__all__ = ["bp"]
