"""The JSON API for external systems and scripts (Bearer tokens, JSON errors)."""

from app.api import admin, appointments, integrations, patients  # noqa: F401 (each registers its endpoints on bp)
from app.api.routes import bp

__all__ = ["bp"]
