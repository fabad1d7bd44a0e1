"""The JSON API for external systems and scripts (Bearer tokens, JSON errors)."""

from app.api import patients  # noqa: F401 (registers the patient endpoints on bp)
from app.api.routes import bp

__all__ = ["bp"]
