"""The scheduling settings page (/scheduling): appointment types, rooms and devices, opening hours, working hours,
breaks, absences and closures, each a section swapped by htmx, with rows to add, edit and delete (types and rooms
in use are deactivated, never deleted). Admins change everything; the front desk keeps working hours, breaks and
absences and reads the rest; a therapist sees and changes only their own hours, breaks and absences. Every change
of hours, a break, an absence or a closure lists the future appointments that now collide with the rules."""

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import selectinload

from app.platform.audit.service import record
from app.platform.extensions import db
from app.platform.htmx import is_htmx, mutation_response
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required
from app.platform.security.permissions import OWN, has_permission, permission_scope
from app.scheduling.collisions import changed_scope, rule_collisions
from app.scheduling.models import AppointmentDetail, AppointmentType, Occupancy, TreatmentSeries, TypeRequirement
from app.scheduling.pages import SECTION_BY_KEY, SECTIONS, form_body, row_form, update_body
from app.scheduling.resolve import SchedulingError

bp = Blueprint("scheduling", __name__, url_prefix="/scheduling")
AUDIT = {"types": "appointment_type", "resources": "resource", "opening": "opening_hours", "hours": "working_hours",
         "breaks": "break", "absences": "absence", "closures": "closure", "holidays": "holiday_opening"}
OWN_SECTIONS = ("hours", "breaks", "absences")


def _own_only(section):
    """True when the user sees only their own rows of ``section`` (a therapist's hours, breaks and absences)."""
    return section.owner is not None and permission_scope(current_user, "scheduling.hours") == OWN


def _may_write(section):
    """Whether the user changes ``section`` (its permission; a therapist's own scope limits them to their rows)."""
    return has_permission(current_user, section.permission)


def _visible(section):
    """Whether the user sees ``section``: admins and the front desk all, a therapist their own hours."""
    return section.key in OWN_SECTIONS or has_permission(current_user, "scheduling.manage") \
        or has_permission(current_user, "appointments.override")


def _scoped(section):
    """A select of the rows of ``section`` the user may reach."""
    query = select(section.model).where(section.model.practice_id == current_user.practice_id)
    if _own_only(section):
        query = query.where(getattr(section.model, section.owner) == current_user.id)
    return query


def _row_or_404(section, row_id):
    """The row ``row_id`` of ``section`` if the user may reach it; another practice's or therapist's is 404."""
    if not _visible(section):
        abort(404)
    row = db.session.scalar(_scoped(section).where(section.model.id == row_id))
    if row is None:
        abort(404)
    return row


def _context(section, **extra):
    """What templates/scheduling/_section.html needs for ``section``."""
    practice = current_user.practice
    options = {field.name: [(str(value), label) for value, label in field.options(practice)]
               for field in section.fields if field.options}
    if _own_only(section):  # a therapist chooses only themselves, and no colleague as a substitute
        for name in ("doctor", "substitute"):
            if name in options:
                options[name] = [(value, label) for value, label in options[name]
                                 if value in ("", str(current_user.id)) and not (name == "substitute" and value)]
    rows = db.session.scalars(_scoped(section).options(selectinload("*")).order_by(section.model.id)).all()
    return {"section": section, "rows": rows, "practice": practice, "options": options,
            "can_edit": _may_write(section), "form_values": {}, "error": None, "colliding": None, "editing": None,
            **extra}


def _fragment(section, status=200, **extra):
    """The section's fragment."""
    return render_template("scheduling/_section.html", **_context(section, **extra)), status


@bp.get("/")
@permission_required("scheduling.hours")
def index():
    """Page: every section the user may see (a therapist: their own hours, breaks and absences)."""
    return render_template("scheduling/index.html",
                           sections=[_context(section) for section in SECTIONS if _visible(section)])


def _checked(section, body, row):
    """The checked column values of ``body`` (SchedulingError with the field otherwise); a therapist only for
    themselves."""
    values = section.values(current_user.practice, body, row)
    if _own_only(section) and values.get(section.owner) != current_user.id:
        raise SchedulingError(_("You can only enter your own hours, breaks and absences."), "doctor")
    return values


def _saved(section, message, affects):
    """After a change: the fresh section listing the appointments that now collide (htmx), else 303 back."""
    colliding = rule_collisions(current_user.practice, **affects) if section.affects else None
    return mutation_response(lambda: _fragment(section, colliding=colliding)[0], message,
                             redirect_to=url_for("scheduling.index", _anchor=f"scheduling-{section.key}"),
                             target=f"scheduling-{section.key}")


def _create(key):
    """Fragment #scheduling-<key> (303 to the page without htmx): add a row; 422 with the sentence beside the
    field; hours, breaks, absences and closures answer with the appointments that now collide."""
    section = SECTION_BY_KEY[key]
    body = form_body(section, request.form)
    try:
        values = _checked(section, body, None)
    except SchedulingError as error:
        db.session.rollback()
        return _fragment(section, 422, form_values=request.form, error=error)
    row = section.model(practice_id=current_user.practice_id, **values)
    db.session.add(row)
    db.session.flush()
    record(f"{AUDIT[key]}.create", current_actor(), object_type=AUDIT[key], object_id=row.id,
           meta={"fields": sorted(body)})
    db.session.commit()
    return _saved(section, _("Saved."), section.affects(row) if section.affects else {})


def _edit(key, row_id):
    """Fragment #scheduling-<key> with the row's values in the form, to change them."""
    section = SECTION_BY_KEY[key]
    row = _row_or_404(section, row_id)
    extra = {"editing": row, "form_values": row_form(section, row, current_user.practice)}
    if is_htmx():
        return _fragment(section, **extra)
    return render_template("scheduling/index.html", sections=[
        _context(other, **(extra if other is section else {})) for other in SECTIONS if _visible(other)])


def _update(key, row_id):
    """Fragment #scheduling-<key> (303 without htmx): change a row; 422 with the sentence beside the field.
    Lists the appointments that now collide, of the owner before and after the change."""
    section = SECTION_BY_KEY[key]
    row = _row_or_404(section, row_id)
    before = section.affects(row) if section.affects else {}
    body = form_body(section, request.form)
    try:
        values = _checked(section, update_body(section, row, body), row)
    except SchedulingError as error:
        db.session.rollback()
        return _fragment(section, 422, editing=row, form_values=request.form, error=error)
    for name, value in values.items():
        setattr(row, name, value)
    record(f"{AUDIT[key]}.update", current_actor(), object_type=AUDIT[key], object_id=row.id,
           meta={"fields": sorted(body)})
    db.session.commit()
    after = section.affects(row) if section.affects else {}
    return _saved(section, _("Saved."), changed_scope(before, after))


def _in_use(section, row):
    """Whether bookings, series or types refer to a type or resource (then it is deactivated, not deleted)."""
    if section.model is AppointmentType:
        return db.session.scalar(select(or_(exists().where(AppointmentDetail.type_id == row.id),
                                            exists().where(TreatmentSeries.type_id == row.id))))
    return db.session.scalar(select(or_(exists().where(Occupancy.resource_id == row.id),
                                        exists().where(TypeRequirement.resource_id == row.id))))


def _delete(key, row_id):
    """Fragment #scheduling-<key> (303 without htmx): delete a row, or deactivate a type or resource in use.
    Removing hours or opening hours lists the appointments that now lie outside them."""
    section = SECTION_BY_KEY[key]
    row = _row_or_404(section, row_id)
    affects = section.affects(row) if section.affects else {}
    if section.deactivate and _in_use(section, row):
        row.active = False
        record(f"{AUDIT[key]}.deactivate", current_actor(), object_type=AUDIT[key], object_id=row.id)
        message = _("Deactivated: it is in use, so it stays for the existing appointments.")
    else:
        record(f"{AUDIT[key]}.delete", current_actor(), object_type=AUDIT[key], object_id=row.id)
        db.session.delete(row)
        message = _("Deleted.")
    db.session.commit()
    return _saved(section, message, affects)


def _activate(key, row_id):
    """Fragment #scheduling-<key> (303 without htmx): make a deactivated type or resource bookable again."""
    section = SECTION_BY_KEY[key]
    row = _row_or_404(section, row_id)
    row.active = True
    record(f"{AUDIT[key]}.activate", current_actor(), object_type=AUDIT[key], object_id=row.id)
    db.session.commit()
    return _saved(section, _("Activated."), {})


def _section(key):
    """Fragment #scheduling-<key>: the section with its add form (e.g. when an edit is cancelled)."""
    section = SECTION_BY_KEY[key]
    if not _visible(section):
        abort(404)
    return _fragment(section)


def _register_views():
    """The routes of each section, each declaring the permission its section needs, so the access guard and the
    route walk see the real rule: ``/scheduling/<key>`` (GET fragment, POST add),
    ``/scheduling/<key>/<id>/edit`` (GET), ``/scheduling/<key>/<id>`` (POST change), ``/scheduling/<key>/<id>/delete``
    and, for types and resources, ``/scheduling/<key>/<id>/activate`` (POST); the id argument is named after the
    section's table (``appointment_type_id``, ``resource_id``, ``opening_hour_id``, ``working_hour_id``,
    ``therapist_break_id``, ``absence_id``, ``closure_id``, ``holiday_opening_id``)."""
    for section in SECTIONS:
        guard = permission_required(section.permission)
        routes = [("", "section", _section, ["GET"], permission_required("scheduling.hours")),
                  ("", "create", _create, ["POST"], guard),
                  (f"/<int:{section.arg}>/edit", "edit", _edit, ["GET"], guard),
                  (f"/<int:{section.arg}>", "update", _update, ["POST"], guard),
                  (f"/<int:{section.arg}>/delete", "delete", _delete, ["POST"], guard)]
        if section.deactivate:
            routes.append((f"/<int:{section.arg}>/activate", "activate", _activate, ["POST"], guard))
        for suffix, verb, handler, methods, decorator in routes:
            def view(key=section.key, handler=handler, **kwargs):
                return handler(key, *kwargs.values())

            view.__doc__ = handler.__doc__
            view.__name__ = f"{verb}_{section.key}"
            bp.add_url_rule(f"/{section.key}{suffix}", view.__name__, decorator(view), methods=methods)


_register_views()
