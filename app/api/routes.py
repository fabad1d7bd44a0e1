"""The JSON API blueprint, its health check and the helpers every domain's api module shares. Authenticated
with ``Authorization: Bearer <token>`` only (no cookies), so it is exempt from CSRF; errors are
``{"error": {"code", "message"}}``."""

from flask import Blueprint, current_app, request
from flask_babel import gettext as _
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.platform.errors import json_error
from app.platform.extensions import csrf, db, limiter
from app.platform.security.guard import public

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


def json_body(expected_type):
    """The request's JSON body of ``expected_type``, or a JSON error response (415, 400) to return."""
    if not request.is_json:
        return None, json_error(415, "unsupported_media_type", _("Send the body as application/json."))
    body = request.get_json(silent=True)
    if body is None:
        return None, json_error(400, "malformed_json", _("The body is not valid JSON."))
    if not isinstance(body, expected_type):
        kind = _("an object") if expected_type is dict else _("an array or an object")
        return None, json_error(400, "wrong_type", _("The body must be %(kind)s.", kind=kind))
    return body, None
