"""Audit log list with filters and pagination."""

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from app.platform.audit.forms import AuditFilterForm
from app.platform.audit.labels import action_label, object_names
from app.platform.audit.service import audit_page, known_actions, known_users
from app.platform.htmx import wants_fragment
from app.platform.security.guard import permission_required

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@permission_required("audit.read")
def index():
    """Page (or #audit-table fragment): the practice's audit entries, newest first, filtered and paged."""
    form = AuditFilterForm(request.args)
    form.user.choices = [SelectChoice("", _("All users"))] + [
        SelectChoice(str(user_id), name) for user_id, name in known_users(current_user.practice)
    ]
    form.action.choices = [SelectChoice("", _("All actions"))] + [
        SelectChoice(action, str(action_label(action)))
        for action in sorted(known_actions(current_user.practice), key=lambda code: str(action_label(code)).lower())
    ]
    filters = {"user_id": int(form.user.data) if form.user.data else None, "action": form.action.data or None,
               "date_from": form.date_from.data, "date_to": form.date_to.data} if form.validate() else None
    page = audit_page(current_user.practice, filters, current_app.config["AUDIT_PAGE_SIZE"])
    template = "audit/_table.html" if wants_fragment("audit-table") else "audit/index.html"
    filter_args = {key: value for key, value in request.args.items() if key != "page" and value}
    names = object_names(current_user.practice_id, page.items)
    return (render_template(template, form=form, page=page, filter_args=filter_args, object_names=names),
            422 if filters is None else 200)

