"""Webhook endpoints and the event log for admins."""

from app.webhooks.routes import bp

__all__ = ["bp"]
