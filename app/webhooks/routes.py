"""Webhook endpoints and the event log for admins."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
