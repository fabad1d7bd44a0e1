"""Meine Termine: the page a patient opens with a personal link, without an account."""

from app.portal.routes import bp

__all__ = ["bp"]
