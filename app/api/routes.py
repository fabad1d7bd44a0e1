"""The API's own endpoint: the health check for load balancers and monitoring."""

from app.api.blueprint import bp
from app.platform.database import database_answers
from app.platform.extensions import limiter
from app.platform.security.guard import public


@bp.get("/health")
@limiter.exempt
@public
def health():
    """JSON: 200 when the database answers, 503 when it does not (for load balancers and monitoring)."""
    if not database_answers():
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}
