"""One way to expose a scheduling table as a PraxiApp-style collection: ``GET/POST /<name>/`` and
``GET/PATCH/DELETE /<name>/<id>/``, each behind its permission, scoped to the user's practice (and for a therapist
to their own rows where the collection says so), validated with a sentence per mistake and audited. PATCH merges
the given fields into the stored ones and validates the whole, so a partial change cannot leave a row invalid.
Every change of rules (hours, breaks, absences, closures: created, changed or deleted) answers with
``collisions``, the future appointments that now collide with them, for the user to move: the same list the
settings pages show."""

from dataclasses import dataclass

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.api.blueprint import bp
from app.api.helpers import json_body, page_args, paged_json
from app.platform.audit.service import record
from app.platform.extensions import db
from app.platform.pagination import paginate
from app.platform.security.guard import permission_required, session_allowed
from app.scheduling.api.common import actor, api_user, invalid, iso, not_found, own_only
from app.scheduling.collisions import changed_scope, rule_collisions
from app.scheduling.resolve import SchedulingError


@dataclass
class Collection:
    """How one table is read and written through the API.

    ``to_json(row)``: its representation; ``values(practice, body, row)``: the checked column values from a body
    (for an update: the stored row's fields with the given ones over them; ``row`` is None on create), raising
    SchedulingError; ``owner``: the column holding the therapist for collections a therapist may only
    see and change for themselves; ``deactivate``: DELETE sets ``active`` false instead of deleting (rows that
    bookings refer to); ``filters(query, practice)``: the list's query arguments; ``affects(row)``: whose
    appointments a change of the row can make collide (keyword arguments of rule_collisions), for collections of
    rules."""

    name: str
    path: str
    model: type
    audit: str
    to_json: object
    values: object
    read_permission: str
    write_permission: str
    owner: str | None = None
    deactivate: bool = False
    filters: object = None
    order_by: tuple = ()
    affects: object = None


def _scoped(collection, permission):
    """A select of the collection's rows the user may reach with ``permission``."""
    user = api_user()
    query = select(collection.model).where(collection.model.practice_id == user.practice_id)
    if collection.owner and own_only(permission):
        query = query.where(getattr(collection.model, collection.owner) == user.id)
    return query


def _row(collection, row_id, permission):
    """The row ``row_id`` if the user may reach it with ``permission``, else None."""
    return db.session.scalar(_scoped(collection, permission).where(collection.model.id == row_id))


def _check_owner(collection, values):
    """A therapist writes only their own rows: another therapist's id is refused as unknown."""
    if collection.owner and own_only(collection.write_permission) and values.get(collection.owner) != api_user().id:
        raise SchedulingError(_("You can only enter your own hours, breaks and absences."), "doctor")


def collisions_json(scope):
    """``{"collisions": [{"id", "start_time", "end_time", "doctor", "reasons"}]}``: the future appointments in
    ``scope`` (keyword arguments of rule_collisions) that collide with the rules as they stand now."""
    return {"collisions": [
        {"id": found.id, "start_time": iso(found.starts_at), "end_time": iso(found.ends_at),
         "doctor": found.therapist_id, "reasons": list(found.reasons)}
        for found in rule_collisions(api_user().practice, **scope)]}


def _saved(collection, row, status, scope=None):
    """The answer after a save: the row, and for rules the appointments that now collide in ``scope`` (by default
    the row's)."""
    body = collection.to_json(row)
    if collection.affects:
        body.update(collisions_json(collection.affects(row) if scope is None else scope))
    return body, status


def register(collection):
    """Add the collection's five endpoints to the /api blueprint."""

    @permission_required(collection.read_permission)
    @session_allowed
    def index():
        """JSON: the practice's rows, paged ``{count, next, previous, results}``."""
        page, per_page, error = page_args(50)
        if error:
            return error
        query = _scoped(collection, collection.read_permission)
        try:
            if collection.filters:
                query = collection.filters(query, api_user().practice)
        except SchedulingError as problem:
            return invalid(problem)
        # Every relationship of the page's rows in one query each (a type's requirements, say), never per row.
        result = paginate(query, per_page, collection.model.id, options=(selectinload("*"),),
                          order_by=collection.order_by or (collection.model.id,))
        return paged_json(page, result, collection.to_json)

    @permission_required(collection.read_permission)
    @session_allowed
    def detail(row_id):
        """JSON: one row; 404 outside the practice or the user's scope."""
        row = _row(collection, row_id, collection.read_permission)
        return collection.to_json(row) if row is not None else not_found()

    @permission_required(collection.write_permission)
    def create():
        """JSON: create a row; 201 with it and its Location, 422 naming the field that is wrong."""
        body, error = json_body(dict)
        if error:
            return error
        try:
            values = collection.values(api_user().practice, body, None)
            _check_owner(collection, values)
        except SchedulingError as problem:
            db.session.rollback()
            return invalid(problem)
        row = collection.model(practice_id=api_user().practice_id, **values)
        db.session.add(row)
        db.session.flush()
        record(f"{collection.audit}.create", actor(), object_type=collection.audit, object_id=row.id,
               meta={"fields": sorted(body)})
        db.session.commit()
        body, status = _saved(collection, row, 201)
        return body, status, {"Location": url_for(f"api.{collection.name}_detail", row_id=row.id)}

    @permission_required(collection.write_permission)
    def update(row_id):
        """JSON: change the given fields of a row; 422 naming the field that is wrong."""
        row = _row(collection, row_id, collection.write_permission)
        if row is None:
            return not_found()
        body, error = json_body(dict)
        if error:
            return error
        try:
            values = collection.values(api_user().practice, {**collection.to_json(row), **body}, row)
            _check_owner(collection, values)
        except SchedulingError as problem:
            db.session.rollback()
            return invalid(problem)
        before = collection.affects(row) if collection.affects else None
        for name, value in values.items():
            setattr(row, name, value)
        record(f"{collection.audit}.update", actor(), object_type=collection.audit, object_id=row.id,
               meta={"fields": sorted(body)})
        db.session.commit()
        return _saved(collection, row, 200, None if before is None else changed_scope(before, collection.affects(row)))

    @permission_required(collection.write_permission)
    def delete(row_id):
        """JSON: delete a row (204; for rules 200 with ``collisions``, the appointments that collide without it),
        or deactivate it where bookings may refer to it (200 with the row)."""
        row = _row(collection, row_id, collection.write_permission)
        if row is None:
            return not_found()
        if collection.deactivate:
            row.active = False
            record(f"{collection.audit}.deactivate", actor(), object_type=collection.audit, object_id=row.id)
            db.session.commit()
            return collection.to_json(row)
        scope = collection.affects(row) if collection.affects else None
        record(f"{collection.audit}.delete", actor(), object_type=collection.audit, object_id=row.id)
        db.session.delete(row)
        db.session.commit()
        return ("", 204) if scope is None else collisions_json(scope)

    base = f"/{collection.path}/"
    item = f"/{collection.path}/<int:row_id>/"
    bp.add_url_rule(base, f"{collection.name}_index", index, methods=["GET"])
    bp.add_url_rule(base, f"{collection.name}_create", create, methods=["POST"])
    bp.add_url_rule(item, f"{collection.name}_detail", detail, methods=["GET"])
    bp.add_url_rule(item, f"{collection.name}_update", update, methods=["PATCH"])
    bp.add_url_rule(item, f"{collection.name}_delete", delete, methods=["DELETE"])
    return collection

