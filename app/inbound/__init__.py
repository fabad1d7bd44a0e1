"""The webhook receiver: signed events from the booking tool, Cal.com and Retell (/api/webhooks/...)."""

from app.inbound.routes import bp

__all__ = ["bp"]
