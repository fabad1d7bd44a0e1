"""JSON API: the calling user."""

from flask import g

from app.api.blueprint import bp
from app.platform.security.guard import login_only
from app.platform.security.permissions import ROLE_PERMISSIONS


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
