"""The dashboard: who you are, what you may do, and (for auditors) the latest audit entries."""

from flask import Blueprint, render_template
from flask_login import current_user

from app.platform.audit.service import latest_entries
from app.platform.security.guard import login_only
from app.platform.security.permissions import ROLE_PERMISSIONS, has_permission

bp = Blueprint("dashboard", __name__)

RECENT_AUDIT_ENTRIES = 8


@bp.get("/")
@login_only
def index():
    """Page: the landing page with the user's practice, role, permissions and recent activity."""
    recent = []
    if has_permission(current_user, "audit.read"):
        recent = latest_entries(current_user.practice, RECENT_AUDIT_ENTRIES)
    permissions = sorted(ROLE_PERMISSIONS[current_user.role].items())
    return render_template("dashboard/index.html", recent=recent, permissions=permissions)
