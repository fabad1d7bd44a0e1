"""The Integration Hub (/integrations): the Übersicht tab with a status card and a 24-hour chart per provider, a
tab per provider (settings with an inline key check, its webhook, sync runs and, for Cal.com, the mappings), and
the booking tool's tab with its webhook card and event log.

``integrations.view`` may look at everything; changing anything needs ``integrations.manage``. Provider calls happen
only where a person asks for one (key check, save, webhook registration, the choices of the default event type or
agent); the status poll and the pages read cached rows and never call a provider."""

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import format_decimal, format_percent, format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectChoice

from app.integrations import charts, mappings, metrics, proxy, sync
from app.integrations import service as integrations
from app.integrations.forms import INTERVAL_LABELS, SETTINGS_FORMS
from app.integrations.models import (
    AUTH_FAILED,
    DEGRADED,
    MANUAL,
    MAP_EVENT_TYPE,
    MAP_USER,
    OK,
    PAUSED,
    SCHEDULE,
    SYNC_FAILED,
    SYNC_QUEUED,
    SYNC_RUNNING,
    SYNC_SUCCEEDED,
    UNCONFIGURED,
    UNREACHABLE,
    WEBHOOK,
    IntegrationMapping,
)
from app.integrations.service import IntegrationValidationError
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db, limiter
from app.platform.htmx import hx_trigger, toast, wants_fragment
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required
from app.providers.registry import WEBHOOK_SOURCES, webhook_source
from app.tenancy.settings import BOOKING_URL_TEMPLATE
from app.webhooks.endpoints import endpoint_url, practice_endpoints
from app.webhooks.forms import CREATE, ROTATE, EndpointSecretForm

bp = Blueprint("hub", __name__, url_prefix="/integrations")

# The provider part of a URL: only the registered integrations match, anything else is a 404 before the view.
PROVIDER = "<any(" + ",".join(integrations.providers()) + "):provider>"

STATE_LABELS = {
    OK: _l("OK"),
    DEGRADED: _l("degraded"),
    AUTH_FAILED: _l("key rejected"),
    UNREACHABLE: _l("unreachable"),
    PAUSED: _l("paused"),
    UNCONFIGURED: _l("not configured"),
}
STATE_BADGES = {OK: "badge-ok", DEGRADED: "badge-warn", AUTH_FAILED: "badge-error", UNREACHABLE: "badge-error",
                PAUSED: "badge-warn", UNCONFIGURED: "badge-muted"}
RUN_STATUS_LABELS = {
    SYNC_QUEUED: _l("queued"),
    SYNC_RUNNING: _l("running"),
    SYNC_SUCCEEDED: _l("succeeded"),
    SYNC_FAILED: _l("failed"),
}
RUN_BADGES = {SYNC_QUEUED: "badge-muted", SYNC_RUNNING: "badge-muted", SYNC_SUCCEEDED: "badge-ok",
              SYNC_FAILED: "badge-error"}
TRIGGER_LABELS = {SCHEDULE: _l("schedule"), MANUAL: _l("sync now"), WEBHOOK: _l("webhook")}
# What a run counted, per kind of record (app.providers.<name>.integration.sync).
DETAIL_LABELS = {"event_types": _l("event types"), "bookings": _l("bookings"), "calls": _l("calls"),
                 "applied": _l("applied")}
MAPPING_KIND_LABELS = {MAP_USER: _l("User → therapist"), MAP_EVENT_TYPE: _l("Event type → service")}
PENDING = (SYNC_QUEUED, SYNC_RUNNING)


def _relative_time(moment):
    """``moment`` relative to now in the user's language ("5 minutes ago", "in 1 hour"). Needs no time zone, so
    the status poll stays free of the practice lookup that absolute local times would cost."""
    if moment is None:
        return "—"
    return format_timedelta(moment - utcnow(), add_direction=True, granularity="minute")


def _source_label(name):
    """A webhook source's label (the webhook card template needs it, as in the webhooks blueprint)."""
    return webhook_source(name).LABEL if name in WEBHOOK_SOURCES else name


@bp.context_processor
def _helpers():
    """Labels and formatters for the hub templates: provider labels (with "(Sandbox)" while HUB_SANDBOX is on),
    states, run statuses, triggers, relative times and numbers; and the htmx attributes of the key check (aborted
    when the form itself is submitted, the htmx docs' inline-validation pattern) and of the lazily loaded list of
    event types or agents."""
    return {
        "hub_providers": integrations.providers(),
        "provider_label": integrations.label,
        "state_label": lambda state: STATE_LABELS.get(state, state),
        "state_badge": lambda state: STATE_BADGES.get(state, "badge-muted"),
        "run_status_label": lambda status: RUN_STATUS_LABELS.get(status, status),
        "run_badge": lambda status: RUN_BADGES.get(status, "badge-muted"),
        "trigger_label": lambda trigger: TRIGGER_LABELS.get(trigger, trigger),
        "detail_label": lambda name: DETAIL_LABELS.get(name, name),
        "mapping_kind_label": lambda kind: MAPPING_KIND_LABELS.get(kind, kind),
        "interval_label": lambda minutes: INTERVAL_LABELS.get(minutes, minutes),
        "relative_time": _relative_time,
        "source_label": _source_label,
        "format_percent": format_percent,
        "format_decimal": format_decimal,
        "key_check_attrs": lambda provider: {
            "hx-post": url_for("hub.check_key", provider=provider), "hx-trigger": "change",
            "hx-target": "#hub-key-check", "hx-swap": "outerHTML", "hx-sync": "closest form:abort"},
        "options_attrs": lambda provider, selected: {
            "hx-get": url_for("hub.options", provider=provider, selected=selected or None), "hx-trigger": "load",
            "hx-target": "this", "hx-swap": "outerHTML"},
    }


# Forms and template context.

def _saved_values(provider, config):
    """The form's values from the stored config (and the practice's booking page URL)."""
    settings = dict(config.settings or {}) if config else {}
    values = {"sync_enabled": bool(config and config.sync_enabled),
              "sync_interval_minutes": str(config.sync_interval_minutes if config else 60)}
    for name in integrations.SETTING_FIELDS[provider]:
        source = (current_user.practice.settings or {}) if name == BOOKING_URL_TEMPLATE else settings
        value = source.get(name)
        values[name] = "" if value is None else str(value)
    return values


def _placeholder_choices(selected):
    """The default object's choices before (or without) the provider's list: none, and the current choice so a
    save never clears it unseen."""
    choices = [SelectChoice("", _("None"))]
    if selected:
        choices.append(SelectChoice(selected, _("#%(id)s (current choice)", id=selected)))
    return choices


def _settings_form(provider, config=None, posted=False):
    """The provider's settings form: bound to the posted data, or filled with the saved values."""
    form_class = SETTINGS_FORMS[provider]
    form = form_class() if posted else form_class(formdata=None, data=_saved_values(provider, config))
    form.options_field.choices = _placeholder_choices(form.options_field.data)
    return form


def _webhook_context(provider, config):
    """The provider's webhook endpoint for its section: URL, previous-secret validity, Cal.com registration."""
    endpoint = practice_endpoints(current_user.practice_id).get(provider)
    return {"endpoint": endpoint, "url": endpoint_url(endpoint) if endpoint else None, "now": utcnow(),
            "webhook_id": (config.settings or {}).get("webhook_id") if config else None, "error": None}


def _runs_context(provider, config=None):
    """What templates/hub/_runs.html needs: the last runs and whether one is still queued or running."""
    runs = sync.recent_runs(current_user.practice_id, provider)
    config = config or integrations.get_config(current_user.practice_id, provider)
    return {"provider": provider, "runs": runs, "pending": any(run.status in PENDING for run in runs),
            "configured": bool(config and config.api_key)}


def _provider_context(provider, form=None, **extra):
    """Everything the provider tab and its fragments show; ``form`` replaces the saved-values form (to re-show
    what a person typed)."""
    practice_id = current_user.practice_id
    config = integrations.get_config(practice_id, provider)
    cards = [card for card in integrations.status_cards(practice_id) if card.provider == provider]
    context = {"provider": provider, "integration": config, "cards": cards, "card": cards[0], "only": provider,
               "form": form if form is not None else _settings_form(provider, config), "warning": None,
               "webhook": _webhook_context(provider, config), **_runs_context(provider, config)}
    if provider == "calcom":
        context["mappings"] = mappings.practice_mappings(practice_id, provider)
        context["therapists"] = mappings.therapists(practice_id)
    context.update(extra)
    return context


def _add_errors(form, errors):
    """Put the service's messages next to their fields (or above the form for a field it does not show)."""
    for name, message in errors.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


def _status_body(only=None):
    """The #hub-status fragment: the status cards (one statement), all of them or only ``only``'s."""
    cards = [card for card in integrations.status_cards(current_user.practice_id) if only in (None, card.provider)]
    return render_template("hub/_status.html", cards=cards, only=only)


# Pages and fragments.

@bp.get("/")
@permission_required("integrations.view")
def index():
    """Page: the Übersicht tab, a status card and a 24-hour chart (error rate, response time) per provider."""
    practice_id = current_user.practice_id
    cards = integrations.status_cards(practice_id)
    chart_data = {card.provider: charts.build(metrics.hourly(practice_id, card.provider)) for card in cards}
    return render_template("hub/index.html", cards=cards, charts=chart_data, only=None)


@bp.get("/status")
@limiter.exempt
@permission_required("integrations.view")
def status():
    """Fragment #hub-status for the 30-second poll and the ``hub-status-changed`` event: the cards read from the
    cached health rows in one statement, never from a provider. ``?provider=`` narrows it to one provider's tab.
    Exempt from rate limits: a poll must never be answered with 429."""
    if not wants_fragment("hub-status"):
        return redirect(url_for("hub.index"))
    only = request.args.get("provider")
    return _status_body(only if only in integrations.providers() else None)


@bp.get(f"/{PROVIDER}")
@permission_required("integrations.view")
def provider(provider):
    """Page: the provider's tab (status, settings, webhook, sync runs, mappings), or one of its sections when
    htmx refreshes it after an event: #hub-settings-<provider>, #hub-webhook-<provider>, #hub-mappings."""
    context = _provider_context(provider)
    for target, template in ((f"hub-settings-{provider}", "hub/_settings.html"),
                             (f"hub-webhook-{provider}", "hub/_webhook.html"),
                             ("hub-mappings", "hub/_mappings.html")):
        if wants_fragment(target):
            return render_template(template, **context)
    return render_template("hub/provider.html", **context)


@bp.post(f"/{PROVIDER}")
@permission_required("integrations.manage")
def save(provider):
    """Fragment #hub-settings-<provider> (or 303 to the tab): validate with the provider, encrypt, save, start a
    sync when automatic sync is on, then a toast and a status refresh. Invalid input: 422 with every message and
    the typed values (never the key); nothing is saved."""
    form = _settings_form(provider, posted=True)
    if form.validate_on_submit():
        try:
            outcome = integrations.save(current_actor(), current_user.practice, provider, form.data)
        except IntegrationValidationError as error:
            db.session.rollback()
            _add_errors(form, error.errors)
        else:
            return _settings_saved(provider, outcome)
    message = _("Nothing was saved. Please correct the marked fields.")
    if not wants_fragment(f"hub-settings-{provider}"):
        return render_template("hub/provider.html", **_provider_context(provider, form=form)), 422
    body = render_template("hub/_settings.html", **_provider_context(provider, form=form))
    return toast(make_response(body, 422), message, "error")


def _settings_saved(provider, outcome):
    """The answer to a successful save: the fresh settings fragment with a toast (a warning when the provider
    could not be reached) and events that refresh the status, the runs and the webhook section."""
    if not outcome.changed:
        message = _("Nothing changed.")
    elif outcome.sync_queued:
        message = _("Settings saved. A sync has been queued.")
    else:
        message = _("Settings saved.")
    level = "warning" if outcome.warning else "success"
    if not wants_fragment(f"hub-settings-{provider}"):
        flash(outcome.warning or message, level)
        return redirect(url_for("hub.provider", provider=provider), code=303)
    body = render_template("hub/_settings.html", **_provider_context(provider, warning=outcome.warning))
    response = toast(make_response(body), outcome.warning or message, level)
    for event in ("hub-status-changed", "hub-settings-saved", "hub-runs-changed"):
        hx_trigger(response, event)
    return response


@bp.post(f"/{PROVIDER}/check-key")
@permission_required("integrations.manage")
def check_key(provider):
    """Fragment #hub-key-check: the typed key checked with the provider when the field changes (Cal.com
    ``GET /v2/me``, Retell lists agents); nothing is saved. The input itself is not re-rendered, so the typed key
    stays in the field and never travels back in a response."""
    form = _settings_form(provider, posted=True)
    raw = form.api_key.data or ""
    result = integrations.check_key(current_user.practice_id, provider, raw) if raw.strip() else None
    status = 422 if result is not None and not result.ok else 200
    return render_template("hub/_key_check.html", key_result=result), status


@bp.get(f"/{PROVIDER}/options")
@permission_required("integrations.manage")
def options(provider):
    """Fragment #field-default_event_type_id / #field-default_agent_id: the default object's select with the
    provider's event types or agents, loaded through the outbound proxy (cached) when the tab shows the form;
    a clear message in place of the list when the proxy cannot answer. ``?selected=`` keeps the current choice."""
    form = SETTINGS_FORMS[provider](formdata=None)
    field = form.options_field
    if not wants_fragment(f"field-{field.name}"):
        return redirect(url_for("hub.provider", provider=provider))
    field.data = request.args.get("selected", "")
    try:
        result = proxy.fetch(current_user.practice_id, provider, form.OPTIONS_OPERATION, {})
    except proxy.ProxyError as error:
        field.choices = _placeholder_choices(field.data)
        field.errors = [error.message]
    else:
        field.choices = _option_choices(provider, result.data, field.data)
    return render_template("hub/_options.html", field=field)


def _option_choices(provider, items, selected):
    """The select's choices from the proxy's list; a current choice the provider no longer offers is kept and
    marked, so saving the form never drops it silently."""
    choices = [SelectChoice("", _("None"))]
    for item in items:
        if provider == "calcom":
            value = str(item["id"])
            label = _("%(title)s (%(minutes)s min)", title=item.get("title") or item.get("slug") or value,
                      minutes=item.get("length_in_minutes") or "?")
        else:
            value = str(item["agent_id"])
            label = item.get("agent_name") or value
        choices.append(SelectChoice(value, label))
    if selected and selected not in {choice.value for choice in choices}:
        choices.append(SelectChoice(selected, _("#%(id)s (no longer offered by %(provider)s)", id=selected,
                                                provider=integrations.label(provider))))
    return choices


@bp.post(f"/{PROVIDER}/sync")
@permission_required("integrations.manage")
def sync_now(provider):
    """Fragment #hub-runs-<provider> or #hub-status, whichever asked (or 303 to the tab): queue a sync unless
    one is already queued or running (pressing twice queues one run), with a toast."""
    try:
        _run, created = sync.request_sync(current_user.practice_id, provider, MANUAL, user_id=current_user.id)
    except ServiceError as error:
        return _sync_answer(provider, error.message, "error", 422)
    if created:
        return _sync_answer(provider, _("Sync queued. The table of runs shows when it is done."), "success", 200)
    return _sync_answer(provider, _("A sync is already queued or running; it was not started twice."), "info", 200)


def _sync_answer(provider, message, level, status):
    """Answer "sync now" with the widget that sent it and an event for the other one."""
    if wants_fragment("hub-status"):
        body, event = _status_body(), "hub-runs-changed"
    elif wants_fragment(f"hub-runs-{provider}"):
        body, event = render_template("hub/_runs.html", **_runs_context(provider)), "hub-status-changed"
    else:
        flash(message, level)
        return redirect(url_for("hub.provider", provider=provider, _anchor=f"hub-runs-{provider}"), code=303)
    return hx_trigger(toast(make_response(body, status), message, level), event)


@bp.get(f"/{PROVIDER}/runs")
@limiter.exempt
@permission_required("integrations.view")
def runs(provider):
    """Fragment #hub-runs-<provider>: the last sync runs. While one is queued or running the fragment reloads
    itself every 2 s (``?watching=1``); the answer that sees it finished drops the trigger and announces
    ``hub-status-changed`` and ``hub-sync-finished`` so the card and the mappings catch up."""
    if not wants_fragment(f"hub-runs-{provider}"):
        return redirect(url_for("hub.provider", provider=provider, _anchor=f"hub-runs-{provider}"))
    context = _runs_context(provider)
    response = make_response(render_template("hub/_runs.html", **context))
    if request.args.get("watching") and not context["pending"]:
        hx_trigger(hx_trigger(response, "hub-status-changed"), "hub-sync-finished")
    return response


@bp.get("/runs/<int:run_id>")
@permission_required("integrations.view")
def run(run_id):
    """Page: one sync run with everything recorded about it (trigger, times, counts per kind, error)."""
    found = sync.get_run(current_user.practice_id, run_id)
    if found is None:
        abort(404)
    return render_template("hub/run.html", run=found)


@bp.post("/calcom/webhook")
@permission_required("integrations.manage")
def register_webhook():
    """Fragment #hub-webhook-calcom (or 303 to the tab): register our webhook at Cal.com under a fresh secret;
    when Cal.com refuses, nothing changes and the section says why (422)."""
    try:
        url = integrations.register_calcom_webhook(current_actor(), current_user.practice)
    except ServiceError as error:
        db.session.rollback()
        message, level, status = error.message, "error", 422
    else:
        message, level, status = _("Webhook registered at Cal.com: %(url)s", url=url), "success", 200
    if not wants_fragment("hub-webhook-calcom"):
        flash(message, level)
        return redirect(url_for("hub.provider", provider="calcom", _anchor="hub-webhook-calcom"), code=303)
    context = _provider_context("calcom")
    context["webhook"]["error"] = message if status == 422 else None
    response = toast(make_response(render_template("hub/_webhook.html", **context), status), message, level)
    return hx_trigger(response, "hub-status-changed")


@bp.post("/mappings/<int:mapping_id>")
@permission_required("integrations.manage")
def update_mapping(mapping_id):
    """Fragment #hub-mapping-<id> (or 303 to the Cal.com tab): an admin's correction of one mapping (therapist of
    a Cal.com user, service name of an event type), then a sync so the appointments follow; 422 with the reason."""
    practice_id = current_user.practice_id
    try:
        mapping = mappings.correct(current_actor(), practice_id, mapping_id, user_id=request.form.get("user_id"),
                                   service_name=request.form.get("service_name"))
    except ServiceError as error:
        if error.code == "not_found":
            abort(404)
        db.session.rollback()
        return _mapping_answer(db.get_or_404(IntegrationMapping, mapping_id), error.message, "error", 422)
    try:
        sync.request_sync(practice_id, mapping.provider, MANUAL, user_id=current_user.id)
    except ServiceError:
        message = _("Mapping saved. It applies with the next sync.")
    else:
        message = _("Mapping saved. A sync has been queued to apply it to the appointments.")
    return _mapping_answer(mapping, message, "success", 200)


def _mapping_answer(mapping, message, level, status):
    """The mapping's row with a toast (and its error beside the field), or a redirect with a flash message."""
    if not wants_fragment(f"hub-mapping-{mapping.id}"):
        flash(message, level)
        return redirect(url_for("hub.provider", provider=mapping.provider, _anchor="hub-mappings"), code=303)
    body = render_template("hub/_mapping_row.html", mapping=mapping, error=message if status == 422 else None,
                           therapists=mappings.therapists(current_user.practice_id))
    response = toast(make_response(body, status), message, level)
    return hx_trigger(response, "hub-runs-changed") if status == 200 else response


@bp.get("/booking")
@permission_required("integrations.view")
def booking():
    """Page: the Buchungstool tab, the booking tool's webhook card (with ``webhooks.manage``) and its event log
    (with ``webhooks.log``, loaded from the webhooks blueprint, which keeps polling it)."""
    endpoint = practice_endpoints(current_user.practice_id).get("booking")
    card = {"source": "booking", "endpoint": endpoint, "url": endpoint_url(endpoint) if endpoint else None,
            "form": EndpointSecretForm("booking", ROTATE if endpoint else CREATE, formdata=None),
            "new_secret": None, "now": utcnow()}
    return render_template("hub/booking.html", card=card, endpoint=endpoint)
