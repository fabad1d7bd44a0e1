"""JSON API of the access domain: a door terminal checks codes in (``POST /api/access/checkins``), the log and the
memberships are listed, and memberships are linked. Another practice's location or membership is 404."""

from flask import current_app, g, request
from flask_babel import gettext as _

from app.access import adapters
from app.access.checkins import check_in
from app.access.log import checkin_page
from app.access.memberships import MembershipTaken, link_membership, membership_query
from app.access.models import DECISIONS, Membership
from app.access.setup import enabled_by_location, get_location, practice_locations
from app.access.stats import access_stats
from app.api.blueprint import bp
from app.api.helpers import json_body, page_args, paged_json
from app.platform.database import utcnow
from app.platform.errors import ServiceError, json_error
from app.platform.pagination import paginate
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required


def _iso(value):
    """ISO 8601 or None."""
    return value.isoformat() if value is not None else None


def membership_json(membership):
    """The API representation of a membership (the person by name; the patient id when it is a patient)."""
    return {"id": membership.id, "provider": membership.provider, "external_id": membership.external_id,
            "patient_id": membership.patient_id, "name": membership.person_name,
            "linked_at": _iso(membership.created_at)}


def checkin_json(checkin):
    """The API representation of a logged check-in."""
    return {"id": checkin.id, "location": checkin.location_id, "provider": checkin.provider,
            "code_kind": checkin.code_kind, "decision": checkin.decision, "granted": checkin.granted,
            "awaiting_confirmation": checkin.awaiting_confirmation, "membership": checkin.membership_id,
            "name": checkin.member_name, "provider_code": checkin.provider_code,
            "provider_message": checkin.provider_message, "override": checkin.override,
            "override_reason": checkin.override_reason, "overrides": checkin.overrides_id,
            "reentry_of": checkin.reentry_of_id, "device": checkin.device, "processing_ms": checkin.processing_ms,
            "created_at": _iso(checkin.created_at)}


@bp.post("/access/checkins")
@permission_required("access.validate")
def api_check_in():
    """JSON: decide on ``{"location": id, "code": text, "device"?}`` → ``{"decision", "reason", "provider",
    "membership", "reentry", "processing_ms", "granted", "checkin"}``. 404 for a location not of this practice."""
    body, error = json_body(dict)
    if error:
        return error
    location_id, code, device = body.get("location"), body.get("code"), body.get("device")
    if not isinstance(location_id, int) or isinstance(location_id, bool):
        return json_error(400, "invalid", _("location must be the id of one of the practice's locations."))
    if not isinstance(code, str) or not code.strip():
        return json_error(400, "invalid", _("code must be the scanned text."))
    if device is not None and not isinstance(device, str):
        return json_error(400, "invalid", _("device must be text."))
    location = get_location(g.api_user.practice_id, location_id)
    if location is None:
        current_app.logger.warning("access check-in refused: location %s is not one of practice %s's (user %s)",
                                   location_id, g.api_user.practice_id, g.api_user.id)
        return json_error(404, "not_found", _("This page or record does not exist."))
    outcome = check_in(current_actor(), location, code, device=device)
    row = outcome.checkin
    return {"decision": row.decision, "reason": str(outcome.reason), "provider": row.provider,
            "provider_message": row.provider_message, "membership": row.membership_id,
            "name": row.member_name, "reentry": row.reentry_of_id is not None, "reentry_of": row.reentry_of_id,
            "granted": row.granted, "awaiting_confirmation": row.awaiting_confirmation,
            "processing_ms": row.processing_ms, "duplicate": outcome.duplicate, "checkin": row.id}


@bp.get("/access/checkins")
@permission_required("access.validate")
def api_checkins():
    """JSON list envelope of the practice's check-ins, newest first; filters ``location``, ``provider``,
    ``decision``."""
    page, per_page, error = page_args(50)
    if error:
        return error
    args = request.args
    location = args.get("location", "")
    if location and not location.isdigit():
        return json_error(400, "bad_parameter", _("location must be a location id."))
    decision = args.get("decision") or None
    if decision and decision not in DECISIONS:
        return json_error(400, "bad_parameter", _("decision must be one of: %(values)s.", values=", ".join(DECISIONS)))
    filters = {"location": location or None, "provider": args.get("provider") or None, "decision": decision}
    result = checkin_page(g.api_user.practice, filters, per_page)
    return paged_json(page, result, checkin_json)


@bp.get("/access/memberships")
@permission_required("access.validate")
def api_memberships():
    """JSON list envelope of the practice's linked memberships (``provider`` filters)."""
    page, per_page, error = page_args(50)
    if error:
        return error
    provider = request.args.get("provider") or None
    result = paginate(membership_query(g.api_user.practice_id, provider), per_page, Membership.id,
                      order_by=(Membership.id.desc(),))
    return paged_json(page, result, membership_json)


@bp.post("/access/memberships")
@permission_required("access.validate")
def api_link_membership():
    """JSON: link ``{"provider", "external_id", "patient_id" | "member_name"}`` → 201 with the membership; 409 with
    the holder when the id or the person is linked already; 422 for invalid input."""
    body, error = json_body(dict)
    if error:
        return error
    patient_id = body.get("patient_id")
    if patient_id is not None and (not isinstance(patient_id, int) or isinstance(patient_id, bool)):
        return json_error(400, "invalid", _("patient_id must be a number."))
    provider, external_id, name = body.get("provider"), body.get("external_id"), body.get("member_name")
    if not all(value is None or isinstance(value, str) for value in (provider, external_id, name)):
        return json_error(400, "invalid", _("provider, external_id and member_name must be text."))
    if provider not in adapters.ACCESS_PROVIDERS:
        return json_error(422, "invalid", _("provider must be one of: %(values)s.",
                                            values=", ".join(adapters.provider_names())))
    try:
        membership = link_membership(current_actor(), g.api_user.practice_id, provider, external_id,
                                     patient_id=patient_id, member_name=name)
    except MembershipTaken as taken:
        return json_error(409, "conflict", str(taken.message))
    except ServiceError as invalid:
        return json_error(422, "invalid", str(invalid.message))
    return membership_json(membership), 201


@bp.get("/access/stats")
@permission_required("access.stats")
def api_stats():
    """JSON: this month's figures per provider and location and the 30-day trend (the statistics page's data)."""
    groups, days = access_stats(g.api_user.practice, utcnow())
    return {"results": [{
        "provider": group.provider, "location": group.location, "active_members": group.members,
        "today": group.today, "month": group.month, "success_rate": group.success_rate, "mean_ms": group.mean_ms,
        "p95_ms": group.p95_ms, "peak_hour": group.peak_hour, "reentry_share": group.reentry_share,
        "top_refusals": [{"decision": decision, "count": count} for decision, count in group.refusals],
        "trend": [{"day": day.isoformat(), "count": count} for day, count in group.trend(days)],
    } for group in groups]}


@bp.get("/locations/")
@permission_required("access.validate")
def api_locations():
    """JSON: the practice's locations with the access providers enabled at each, so a door terminal can be set up
    from the API alone."""
    enabled = enabled_by_location(g.api_user.practice_id)
    return {"results": [{"id": location.id, "name": location.name, "address": location.address,
                         "access_providers": enabled.get(location.id, [])}
                        for location in practice_locations(g.api_user.practice_id)]}
