"""The home page: a greeting and the panels the domains register for the user's role (app.accounts.home): today's
appointments, what needs a person, the hub's health. The audit trail's latest entries are this package's own panel,
registered with the blueprint."""

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.accounts.home import home_panels, register_home_panel
from app.platform.audit.models import AuditEntry
from app.platform.audit.service import audit_query
from app.platform.extensions import db
from app.platform.security.guard import login_only

bp = Blueprint("dashboard", __name__)

RECENT_AUDIT_ENTRIES = 8


def recent_activity_panel(user):
    """The practice's latest audit entries with their users, in one query (for users who may read the audit log);
    None when there are none."""
    query = audit_query(user.practice).options(joinedload(AuditEntry.user)).limit(RECENT_AUDIT_ENTRIES)
    return db.session.scalars(query).all() or None


@bp.record_once
def _register_panels(state):
    """Register the recent-activity panel when the blueprint is registered (once per app)."""
    register_home_panel(state.app, "recent_activity", permission="audit.read",
                        template="home/_recent_activity.html", context=recent_activity_panel, order=90)


@bp.get("/")
@login_only
def index():
    """Page: the user's home, the panels their role may see (each links to where its items are handled)."""
    return render_template("dashboard/index.html", panels=home_panels(current_user))
