"""Webhook endpoints and the event log for admins: one card per source (create, rotate the secret, disable and
enable), the event log with filters and live polling, an event's detail (attempts, reveal payload, replay), and the
counts of requests the endpoints refused without reading them."""

from datetime import timedelta

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectChoice

from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.htmx import fragment_response, is_htmx, mutation_response, wants_fragment
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required
from app.providers.registry import WEBHOOK_SOURCES
from app.webhooks import ingest as webhook_ingest
from app.webhooks.endpoints import (
    create_endpoint,
    endpoint_url,
    get_endpoint,
    practice_endpoints,
    rotate_secret,
    set_active,
    source_label,
)
from app.webhooks.failures import describe_error
from app.webhooks.forms import CREATE, ROTATE, EndpointSecretForm, WebhookLogFilterForm
from app.webhooks.lines import (
    OUTCOME_LABELS,
    TRIGGER_LABELS,
    describe_detail,
    describe_reject_reason,
    event_lines,
    event_type_label,
    pretty_preview,
)
from app.webhooks.log import (
    FAILED,
    PENDING,
    RETRYING,
    STATUSES,
    filtered_log_page,
    get_event_row,
    known_event_types,
    reveal_payload,
)
from app.webhooks.models import DUPLICATE, IGNORED, PROCESSED, REJECTED
from app.webhooks.rejections import rejected_since, rejection_label, rejections_page

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

STATUS_LABELS = {
    PROCESSED: _l("processed"),
    IGNORED: _l("ignored"),
    RETRYING: _l("error, retry pending"),
    FAILED: _l("failed"),
    PENDING: _l("received, not yet applied"),
    DUPLICATE: _l("duplicate"),
    REJECTED: _l("rejected"),
}


@bp.context_processor
def _labels():
    """``source_label(name)``, ``status_label(status)``, ``outcome_label(outcome)``, ``trigger_label(trigger)``,
    ``event_type_label(type)``, ``describe_detail(detail)``, ``describe_reject_reason(reason)``,
    ``attempt_error(stored)``, ``rejection_label(reason)``
    and ``format_decimal`` (counts with the locale's separators) for the webhook templates: codes are never shown as
    they are stored."""
    return {
        "source_label": source_label,
        "status_label": lambda status: STATUS_LABELS.get(status, status),
        "outcome_label": lambda outcome: OUTCOME_LABELS.get(outcome, outcome),
        "trigger_label": lambda trigger: TRIGGER_LABELS.get(trigger, trigger),
        "event_type_label": event_type_label,
        "describe_detail": describe_detail,
        "describe_reject_reason": describe_reject_reason,
        "attempt_error": describe_error,
        "rejection_label": rejection_label,
        "format_decimal": format_decimal,
    }


def _card(source, endpoint, form=None, new_secret=None):
    """Template context of one endpoint card."""
    return {
        "source": source,
        "endpoint": endpoint,
        "url": endpoint_url(endpoint) if endpoint else None,
        "form": form or EndpointSecretForm(source, ROTATE if endpoint else CREATE, formdata=None),
        "new_secret": new_secret,
        "now": utcnow(),
    }


def _card_fragment(source, endpoint, form=None, new_secret=None):
    """The #webhook-card-<source> fragment."""
    return render_template("webhooks/_card.html", card=_card(source, endpoint, form, new_secret))


def _cards_response(source, endpoint, *, form=None, new_secret=None, message=None, level="success", status=200):
    """The #webhook-card-<source> fragment for htmx (with a toast), else the whole endpoints page with that card
    in its new state (a new secret can only be shown in this response, so no redirect)."""
    if is_htmx():
        return fragment_response(_card_fragment(source, endpoint, form, new_secret), message, level=level,
                                 status=status)
    endpoints = practice_endpoints(current_user.practice_id)
    cards = [_card(name, endpoints.get(name)) if name != source else _card(source, endpoint, form, new_secret)
             for name in WEBHOOK_SOURCES]
    return render_template("webhooks/index.html", cards=cards), status


def _endpoint_or_404(endpoint_id):
    """The current practice's endpoint; another practice's endpoint is indistinguishable from a missing one."""
    endpoint = get_endpoint(current_user.practice_id, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


@bp.get("/")
@permission_required("webhooks.manage")
def index():
    """Page: one card per webhook source with its endpoint URL, status and secret actions."""
    endpoints = practice_endpoints(current_user.practice_id)
    return render_template("webhooks/index.html", cards=[_card(name, endpoints.get(name)) for name in WEBHOOK_SOURCES])


@bp.post("/endpoints")
@permission_required("webhooks.manage")
def create():
    """Fragment #webhook-card-<source> (or the page): create the source's endpoint and show a generated secret
    once. The source comes from the card's hidden ``source`` field."""
    source = request.form.get("source")
    if source not in WEBHOOK_SOURCES:
        abort(400)
    form = EndpointSecretForm(source, CREATE)
    if form.validate_on_submit():
        entered = (form.secret.data or "").strip() or None
        try:
            endpoint, secret = create_endpoint(current_actor(), source, entered)
        except ServiceError as error:
            form.secret.errors.append(error.message)
        else:
            return _cards_response(source, endpoint, new_secret=None if entered else secret,
                                   message=_("Endpoint created."))
    endpoint = practice_endpoints(current_user.practice_id).get(source)
    return _cards_response(source, endpoint, form=None if endpoint else form, status=422,
                           message=next(iter(form.secret.errors), None), level="error")


@bp.post("/endpoints/<int:endpoint_id>/rotate")
@permission_required("webhooks.manage")
def rotate(endpoint_id):
    """Fragment #webhook-card-<source> (or the page): give the endpoint a new secret, shown once; the previous one
    stays valid for WEBHOOK_PREVIOUS_SECRET_HOURS."""
    endpoint = _endpoint_or_404(endpoint_id)
    form = EndpointSecretForm(endpoint.source, ROTATE)
    if form.validate_on_submit():
        entered = ((form.secret.data or "").strip() or None) if form.requires_secret else None
        try:
            secret = rotate_secret(current_actor(), endpoint, entered)
        except ServiceError as error:
            form.secret.errors.append(error.message)
        else:
            return _cards_response(endpoint.source, endpoint, new_secret=None if entered else secret,
                                   message=_("Secret rotated."))
    return _cards_response(endpoint.source, endpoint, form=form, status=422,
                           message=next(iter(form.secret.errors), None), level="error")


@bp.post("/endpoints/<int:endpoint_id>/disable")
@permission_required("webhooks.manage")
def disable(endpoint_id):
    """Fragment #webhook-card-<source> (or 303 to the page): stop accepting events at this endpoint."""
    return _set_active(_endpoint_or_404(endpoint_id), False)


@bp.post("/endpoints/<int:endpoint_id>/enable")
@permission_required("webhooks.manage")
def enable(endpoint_id):
    """Fragment #webhook-card-<source> (or 303 to the page): accept events at this endpoint again."""
    return _set_active(_endpoint_or_404(endpoint_id), True)


def _set_active(endpoint, active):
    """Enable or disable ``endpoint`` and answer with its card (htmx) or a redirect with a flash message."""
    set_active(current_actor(), endpoint, active)
    message = _("Endpoint enabled.") if active else _("Endpoint disabled: it answers 404 and stores nothing.")
    return mutation_response(lambda: _card_fragment(endpoint.source, endpoint), message,
                             redirect_to=url_for("webhooks.index"))


def _log_filter_form(practice):
    """The log's filter form bound to the query string, with the sources, the practice's event types and the
    statuses to choose from."""
    form = WebhookLogFilterForm(request.args)
    form.source.choices = [SelectChoice("", _("All sources"))] + [
        SelectChoice(name, source_label(name)) for name in WEBHOOK_SOURCES]
    form.event_type.choices = [SelectChoice("", _("All types"))] + [
        SelectChoice(name, f"{event_type_label(name)} ({source_label(source)})")
        for source, name in known_event_types(practice)]
    form.status.choices = [SelectChoice("", _("All statuses"))] + [
        SelectChoice(status, STATUS_LABELS[status]) for status in STATUSES]
    return form


@bp.get("/events")
@permission_required("webhooks.log")
def events():
    """Page (or #webhook-events-table fragment, also for the poll): the practice's events, newest first, filtered
    and paged, each with its current status; the page also says how many requests were refused in the last day."""
    practice = current_user.practice
    form = _log_filter_form(practice)
    filters = {"source": form.source.data or None, "event_type": form.event_type.data or None,
               "status": form.status.data or None, "date_from": form.date_from.data,
               "date_to": form.date_to.data} if form.validate() else None
    page = filtered_log_page(practice, filters, request.args.get("page", 1, type=int),
                             current_app.config["WEBHOOK_LOG_PAGE_SIZE"])
    context = {"form": form, "page": page,
               "lines": event_lines(practice.id, page.items),
               "filter_args": {key: value for key, value in request.args.items() if key != "page" and value}}
    status = 422 if filters is None else 200
    if wants_fragment("webhook-events-table"):
        return render_template("webhooks/_events_table.html", **context), status
    rejected = rejected_since(practice, utcnow() - timedelta(hours=24))
    return render_template("webhooks/events.html", rejected_last_day=rejected, **context), status


@bp.get("/rejections")
@permission_required("webhooks.log")
def rejections():
    """Page (or #webhook-rejections-table fragment): the requests the practice's endpoints refused before reading
    them (no valid signature, not JSON, too large), counted per minute and reason, newest first; filtered by source
    and date range."""
    practice = current_user.practice
    form = WebhookLogFilterForm(request.args)
    form.source.choices = [SelectChoice("", _("All sources"))] + [
        SelectChoice(name, source_label(name)) for name in WEBHOOK_SOURCES]
    form.event_type.choices = form.status.choices = [SelectChoice("", "")]  # not shown: counts have neither
    filters = {"source": form.source.data or None, "date_from": form.date_from.data,
               "date_to": form.date_to.data} if form.validate() else None
    page = rejections_page(practice, filters, request.args.get("page", 1, type=int),
                           current_app.config["WEBHOOK_LOG_PAGE_SIZE"])
    template = ("webhooks/_rejections_table.html" if wants_fragment("webhook-rejections-table")
                else "webhooks/rejections.html")
    filter_args = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template(template, form=form, page=page, filter_args=filter_args), 422 if filters is None else 200


def _event_row_or_404(event_id):
    """The current practice's event as a log row; another practice's event answers 404 like a missing one."""
    row = get_event_row(current_user.practice, event_id)
    if row is None:
        abort(404)
    return row


@bp.get("/events/<int:event_id>")
@permission_required("webhooks.log")
def event_detail(event_id):
    """Page: one event in words, with all its fields, its attempts and the redacted preview (indented)."""
    return _event_page(_event_row_or_404(event_id), None)


def _event_page(row, payload):
    """The detail page of an event's log ``row``, with the decrypted ``payload`` when it was revealed."""
    event = row.WebhookEvent
    return render_template("webhooks/event.html", row=row, payload=payload,
                           line=event_lines(current_user.practice_id, [row])[event.id],
                           preview=pretty_preview(event.preview))


@bp.post("/events/<int:event_id>/reveal")
@permission_required("payload.reveal")
def reveal(event_id):
    """Fragment #webhook-payload (or the detail page): the decrypted payload, recorded in the audit log."""
    row = _event_row_or_404(event_id)
    payload = reveal_payload(current_actor(), row.WebhookEvent)
    if wants_fragment("webhook-payload"):
        return render_template("webhooks/_payload.html", event=row.WebhookEvent, payload=payload)
    return _event_page(row, payload)


@bp.post("/events/<int:event_id>/replay")
@permission_required("webhooks.manage")
def replay(event_id):
    """Fragment #webhook-attempts with a toast (or 303 to the detail page): apply the stored event again."""
    row = _event_row_or_404(event_id)
    try:
        webhook_ingest.replay(current_actor(), row.WebhookEvent)
    except ServiceError as error:
        message, level, status = error.message, "error", 422
    else:
        row = get_event_row(current_user.practice, event_id)
        message = _("Event applied again: %(status)s.", status=STATUS_LABELS[row.status])
        level, status = ("error" if row.status in (RETRYING, FAILED) else "success"), 200
    return mutation_response(lambda: render_template("webhooks/_attempts.html", row=row), message, level=level,
                             status=status, redirect_to=url_for("webhooks.event_detail", event_id=event_id),
                             target="webhook-attempts")
