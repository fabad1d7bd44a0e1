"""The /api blueprint every domain's ``api`` module attaches its endpoints to. Authenticated with
``Authorization: Bearer <token>`` only (no cookies), so it is exempt from CSRF; errors are
``{"error": {"code", "message"}}``."""

from flask import Blueprint, current_app

from app.platform.extensions import csrf, limiter

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)

# Every API call counts against API_RATE_LIMIT per client address (the health check is exempt).
limiter.limit(lambda: current_app.config["API_RATE_LIMIT"])(bp)
