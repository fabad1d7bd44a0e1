"""The scheduling settings page (/scheduling): appointment types, rooms and devices, working hours and absences,
each a section swapped by htmx. Admins change everything; the front desk enters absences and reads the rest; a
therapist sees and enters only their own hours and absences. An absence entered here lists the appointments it
now collides with."""

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.platform.audit.service import record
from app.platform.extensions import db
from app.platform.htmx import mutation_response
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required
from app.platform.security.permissions import OWN, has_permission, permission_scope
from app.scheduling.api.hours import colliding_appointments
from app.scheduling.pages import SECTION_BY_KEY, SECTIONS, form_body
from app.scheduling.resolve import SchedulingError

bp = Blueprint("scheduling", __name__, url_prefix="/scheduling")
AUDIT = {"types": "appointment_type", "resources": "resource", "hours": "working_hours", "absences": "absence"}


def _own_only(section):
    """True when the user sees only their own rows of ``section`` (a therapist's hours and absences)."""
    return section.owner is not None and permission_scope(current_user, "scheduling.hours") == OWN


def _rows(section):
    """The practice's rows of ``section`` (a therapist's own only where the section has an owner)."""
    query = select(section.model).where(section.model.practice_id == current_user.practice_id)
    if _own_only(section):
        query = query.where(getattr(section.model, section.owner) == current_user.id)
    return db.session.scalars(query.options(selectinload("*")).order_by(section.model.id)).all()


def _context(section, **extra):
    """What templates/scheduling/_section.html needs for ``section``."""
    practice = current_user.practice
    options = {field.name: [(str(value), label) for value, label in field.options(practice)]
               for field in section.fields if field.options}
    if _own_only(section) and "doctor" in options:
        options["doctor"] = [(value, label) for value, label in options["doctor"] if value == str(current_user.id)]
    return {"section": section, "rows": _rows(section), "practice": practice, "options": options,
            "can_edit": has_permission(current_user, section.permission), "form_values": {}, "error": None,
            "colliding": None, **extra}


@bp.get("/")
@permission_required("scheduling.hours")
def index():
    """Page: every section the user may see (a therapist: their own hours and absences)."""
    sections = [section for section in SECTIONS
                if has_permission(current_user, "scheduling.manage") or section.key in ("hours", "absences")
                or has_permission(current_user, "appointments.override")]
    return render_template("scheduling/index.html", sections=[_context(section) for section in sections])


def _create(key):
    """Fragment #scheduling-<key> (303 to the page without htmx): add a row; 422 with the sentence beside the
    field; an absence answers with the appointments it now collides with."""
    section = SECTION_BY_KEY[key]
    body = form_body(section, request.form)
    try:
        values = section.values(current_user.practice, body)
        if _own_only(section) and values.get(section.owner) != current_user.id:
            raise SchedulingError(_("You can only enter your own hours, breaks and absences."), "doctor")
    except SchedulingError as error:
        db.session.rollback()
        page = render_template("scheduling/_section.html", **_context(section, form_values=request.form, error=error))
        return page, 422
    row = section.model(practice_id=current_user.practice_id, **values)
    db.session.add(row)
    db.session.flush()
    record(f"{AUDIT[key]}.create", current_actor(), object_type=AUDIT[key], object_id=row.id,
           meta={"fields": sorted(body)})
    db.session.commit()
    colliding = (colliding_appointments(row.practice_id, row.starts_at, row.ends_at, therapist_id=row.therapist_id)
                 if key == "absences" else None)
    return mutation_response(
        lambda: render_template("scheduling/_section.html", **_context(section, colliding=colliding)),
        _("Saved."), redirect_to=url_for("scheduling.index", _anchor=f"scheduling-{key}"),
        target=f"scheduling-{key}")


def _register_create_views():
    """One POST route per section (``/scheduling/types``, ...), each declaring the permission its section needs,
    so the access guard and the route walk see the real rule."""
    for section in SECTIONS:
        def view(key=section.key):
            return _create(key)

        view.__doc__ = _create.__doc__
        view.__name__ = f"create_{section.key}"
        bp.add_url_rule(f"/{section.key}", view.__name__, permission_required(section.permission)(view),
                        methods=["POST"])


_register_create_views()
