"""The JSON API for external systems and scripts (Bearer tokens, JSON errors)."""

from app.api.routes import bp

__all__ = ["bp"]
