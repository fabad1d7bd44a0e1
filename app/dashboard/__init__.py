"""The landing page after sign-in."""

from app.dashboard.routes import bp

__all__ = ["bp"]
