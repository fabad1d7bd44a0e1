"""JSON API for practice admins: the webhook event log (never the payload) and rotating an endpoint's secret."""

from datetime import date

from flask import current_app, g, request
from flask_babel import gettext as _

from app.api.blueprint import bp
from app.api.helpers import json_body, page_args, paged_json
from app.platform.errors import ServiceError, json_error
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required
from app.providers.registry import WEBHOOK_SOURCES
from app.webhooks.endpoints import get_endpoint, rotate_secret
from app.webhooks.log import STATUSES, filtered_log_page
from app.webhooks.models import RECEIPT_OUTCOMES


def webhook_event_json(row):
    """The API representation of an event log row: what the log shows, never the payload."""
    event = row.WebhookEvent
    return {
        "id": event.id,
        "received_at": event.received_at.isoformat(),
        "source": event.source,
        "event_type": event.event_type,
        "delivery_id": event.delivery_id,
        "outcome": event.outcome,
        "status": row.status,
        "next_retry_at": row.next_retry_at.isoformat() if row.next_retry_at else None,
        "secret_version": event.secret_version,
        "preview": event.preview,
        "reject_reason": event.reject_reason,
    }


def _log_filters(args):
    """The log filters from the query string, or a message naming the first invalid one."""
    choices = {"source": WEBHOOK_SOURCES, "status": STATUSES, "outcome": RECEIPT_OUTCOMES}
    filters = {"event_type": args.get("event_type") or None}
    for name, allowed in choices.items():
        value = args.get(name) or None
        if value is not None and value not in allowed:
            return None, _("%(name)s must be one of: %(values)s.", name=name, values=", ".join(allowed))
        filters[name] = value
    for name in ("date_from", "date_to"):
        try:
            filters[name] = date.fromisoformat(args[name]) if args.get(name) else None
        except ValueError:
            return None, _("%(name)s must be a date (YYYY-MM-DD).", name=name)
    return filters, None


@bp.get("/admin/webhook-events")
@permission_required("webhooks.log")
def admin_webhook_events():
    """JSON: ``{"count", "next", "previous", "results"}`` of the practice's webhook events, newest first; filters
    source, event_type, status, outcome, date_from and date_to (days in the practice's time zone)."""
    page, per_page, error = page_args(current_app.config["WEBHOOK_LOG_PAGE_SIZE"])
    if error:
        return error
    filters, message = _log_filters(request.args)
    if message:
        return json_error(400, "bad_parameter", message)
    return paged_json(page, filtered_log_page(g.api_user.practice, filters, page, per_page), webhook_event_json)


@bp.post("/admin/webhook-secret/rotate")
@permission_required("webhooks.manage")
def admin_rotate_webhook_secret():
    """JSON: rotate an endpoint's secret (``{"endpoint_id": 1}``, plus ``"secret"`` for Retell, whose secret is its
    API key) and return the new secret once; the previous one stays valid until ``previous_valid_until``."""
    body, error = json_body(dict)
    if error:
        return error
    endpoint_id, secret = body.get("endpoint_id"), body.get("secret")
    if type(endpoint_id) is not int:  # bool is an int subclass: {"endpoint_id": true} is refused too
        return json_error(400, "bad_parameter", _("endpoint_id is required and must be a whole number."))
    if secret is not None and not isinstance(secret, str):
        return json_error(400, "bad_parameter", _("secret must be a string."))
    endpoint = get_endpoint(g.api_user.practice_id, endpoint_id)
    if endpoint is None:
        return json_error(404, "not_found", _("This page or record does not exist."))
    try:
        new_secret = rotate_secret(current_actor(), endpoint, secret)
    except ServiceError as service_error:
        return json_error(422, "validation_failed", service_error.message)
    return {
        "endpoint_id": endpoint.id,
        "secret": new_secret,
        "secret_version": endpoint.secret_version,
        "previous_valid_until": endpoint.previous_valid_until.isoformat(),
    }
