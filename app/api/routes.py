"""JSON API: health and the calling user. Authenticated with ``Authorization: Bearer <token>`` only (no
cookies), so it is exempt from CSRF; errors are ``{"error": {"code", "message"}}``."""

from flask import Blueprint, current_app, g
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.platform.extensions import csrf, db, limiter
from app.platform.security.guard import login_only, public
from app.platform.security.permissions import ROLE_PERMISSIONS

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)


# Every API call counts against API_RATE_LIMIT per client address (the health check is exempt).
limiter.limit(lambda: current_app.config["API_RATE_LIMIT"])(bp)


@bp.get("/health")
@limiter.exempt
@public
def health():
    """JSON: 200 when the database answers, 503 when it does not (for load balancers and monitoring)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("health check: database unreachable")
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}


@bp.get("/me")
@login_only
def me():
    """JSON: the token's user, their practice and their permissions (with scope)."""
    user = g.api_user
    return {
        "user": {"id": user.id, "email": user.email, "name": user.name, "role": user.role},
        "practice": {"id": user.practice.id, "slug": user.practice.slug, "name": user.practice.name,
                     "timezone": user.practice.timezone},
        "permissions": dict(sorted(ROLE_PERMISSIONS[user.role].items())),
    }
