"""The webhook receiver: signed events from the booking tool, Cal.com and Retell (/api/webhooks/...)."""

from flask import Blueprint

bp = Blueprint("inbound", __name__, url_prefix="/api/webhooks")
