"""What the scheduling API endpoints share: who is asking, reading JSON fields into checked values with a sentence
for each mistake, the 409 conflict body and the list envelope of PraxiApp (``{count, next, previous, results}``)."""

from datetime import date, datetime, time, timedelta

from flask import g, request
from flask_babel import gettext as _
from flask_login import current_user

from app.platform.errors import json_error
from app.platform.security.actor import Actor
from app.platform.security.permissions import OWN, permission_scope
from app.scheduling.engine.calendar import zone_of
from app.scheduling.resolve import SchedulingError, parse_moment

NOT_FOUND = 404


def api_user():
    """The token's user (or, on a GET that allows it, the session's)."""
    user = g.get("api_user") or current_user
    return user._get_current_object() if hasattr(user, "_get_current_object") else user


def actor():
    """The requesting user as an Actor, with the client address for the audit log."""
    return Actor(api_user(), request.remote_addr, request.headers.get("User-Agent"))


def own_only(permission):
    """True when the user's ``permission`` reaches only their own records (a therapist)."""
    return permission_scope(api_user(), permission) == OWN


def not_found():
    """The 404 for a record outside the user's practice or scope."""
    return json_error(404, "not_found", _("This page or record does not exist."))


def invalid(error):
    """422 naming the field of a SchedulingError."""
    body, status, headers = json_error(422, "validation_failed", error.message)
    body["error"]["fields"] = {error.field or "body": error.message}
    return body, status, headers


def conflict_response(error):
    """409 ``{"error": {"code": "conflict", "message", "conflicts": [{"kind", "reason", "with"}]}}``."""
    body, status, headers = json_error(409, "conflict", error.message)
    body["error"]["conflicts"] = [conflict.as_json() for conflict in error.conflicts]
    return body, status, headers


def unknown_fields(body, allowed):
    """Refuse fields the endpoint does not know, so a typo is reported instead of silently ignored."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise SchedulingError(_("Unknown fields: %(fields)s.", fields=", ".join(unknown)), unknown[0])


def integer(body, name, *, required=False, minimum=None, default=None):
    """Field ``name`` as a whole number (None when absent and not required)."""
    value = body.get(name)
    if value is None:
        if required:
            raise SchedulingError(_("%(field)s is required.", field=name), name)
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchedulingError(_("%(field)s must be a whole number.", field=name), name)
    if minimum is not None and value < minimum:
        raise SchedulingError(_("%(field)s must be at least %(minimum)d.", field=name, minimum=minimum), name)
    return value


def text(body, name, *, required=False, max_length=200, default=""):
    """Field ``name`` as trimmed text."""
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise SchedulingError(_("%(field)s is required.", field=name), name)
        return default
    if not isinstance(value, str):
        raise SchedulingError(_("%(field)s must be text.", field=name), name)
    if len(value.strip()) > max_length:
        raise SchedulingError(_("%(field)s may have at most %(n)d characters.", field=name, n=max_length), name)
    return value.strip()


def wall_time(body, name):
    """Field ``name`` as a wall-clock time ``HH:MM``."""
    value = body.get(name)
    try:
        return time.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        pass
    raise SchedulingError(_("%(field)s must be a time like 08:30.", field=name), name)


def day(body, name, *, required=True):
    """Field ``name`` as a date ``YYYY-MM-DD``."""
    value = body.get(name)
    if value is None and not required:
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise SchedulingError(_("%(field)s must be a date like 2027-03-01.", field=name), name)


def moment(body, name, practice, *, required=True):
    """Field ``name`` as a UTC instant (ISO 8601; without offset: the practice's wall-clock time)."""
    value = body.get(name)
    if value is None:
        if required:
            raise SchedulingError(_("%(field)s is required.", field=name), name)
        return None
    if not isinstance(value, str):
        raise SchedulingError(_("Give a date and time like 2027-03-01T09:30 (with or without offset)."), name)
    return parse_moment(value, practice, name)


def range_arg(name, practice, *, end=False):
    """Query argument ``name`` as a UTC instant: a date means the start of that local day (for an ``end``: the
    start of the next one, so the day is included); None when absent."""
    value = request.args.get(name)
    if not value:
        return None
    if len(value) == 10:
        try:
            on = date.fromisoformat(value)
        except ValueError:
            raise SchedulingError(_("%(field)s must be a date like 2027-03-01.", field=name), name) from None
        on += timedelta(days=1) if end else timedelta(0)
        return datetime.combine(on, time.min, zone_of(practice.timezone))
    return parse_moment(value, practice, name)


def int_arg(name):
    """Query argument ``name`` as a whole number, or None when absent."""
    value = request.args.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise SchedulingError(_("%(field)s must be a whole number.", field=name), name) from None


def iso(value):
    """ISO 8601 of a date, time or datetime, or None."""
    return value.isoformat(timespec="minutes") if isinstance(value, time | datetime) else (
        value.isoformat() if value is not None else None)
