"""Practice settings: default therapist, booking page URL template, time zone."""

from app.settings.routes import bp

__all__ = ["bp"]
