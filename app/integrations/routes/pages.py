"""The hub's pages: the Übersicht tab with a status card and a 24-hour chart per provider, its 30-second status
poll, a provider's tab with the sections htmx refreshes one by one, and the tab of each access provider (door
check-ins: its status from the recorded calls, the 24-hour chart and the locations where it is enabled)."""

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from app.integrations import charts, metrics
from app.integrations import service as integrations
from app.integrations.access_tab import access_card, access_label, access_tabs
from app.integrations.clients import providers
from app.integrations.overview import booking_card
from app.integrations.routes.blueprint import bp
from app.integrations.routes.context import provider_context, status_body
from app.platform.extensions import limiter
from app.platform.htmx import wants_fragment
from app.platform.security.guard import permission_required, session_data, session_read


@bp.get("/")
@permission_required("integrations.view")
def index():
    """Page: the Übersicht tab, a status card and a 24-hour chart (error rate, response time) per provider."""
    practice_id = current_user.practice_id
    cards = integrations.status_cards(practice_id)
    chart_data = {card.provider: charts.build(metrics.hourly(practice_id, card.provider)) for card in cards}
    return render_template("hub/index.html", cards=cards, charts=chart_data, only=None,
                           booking=booking_card(practice_id))


@bp.get("/status")
@limiter.exempt
@permission_required("integrations.view")
@session_read(integrations.session_status_rows)
def status():
    """Fragment #hub-status for the 30-second poll and the ``hub-status-changed`` event: the cards read from the
    cached health rows, never from a provider, in the same statement as the session's user, so the whole request is
    one statement. ``?provider=`` narrows it to one provider's tab. Exempt from rate limits: a poll must never be
    answered with 429."""
    if not wants_fragment("hub-status"):
        return redirect(url_for("hub.index"))
    only = request.args.get("provider")
    cards = integrations.status_cards(current_user.practice_id, rows=session_data())
    return status_body(only if only in providers() else None, cards=cards)


@bp.get("/<integration:provider>")
@permission_required("integrations.view")
def provider(provider):
    """Page: the provider's tab (status, settings, webhook, sync runs and, when its hooks ask for them, the
    mappings), or one of its sections when htmx refreshes it after an event: #hub-settings-<provider>,
    #hub-webhook-<provider>, #hub-mappings."""
    context = provider_context(provider)
    sections = [(f"hub-settings-{provider}", "hub/_settings.html"), (f"hub-webhook-{provider}", "hub/_webhook.html")]
    if context["hooks"].MAPPINGS:
        sections.append(("hub-mappings", "hub/_mappings.html"))
    for target, template in sections:
        if wants_fragment(target):
            return render_template(template, **context)
    return render_template("hub/provider.html", **context)


@bp.context_processor
def _access_helpers():
    """The access providers' tabs and names for the hub's tab bar."""
    return {"hub_access_tabs": access_tabs(), "access_label": access_label}


@bp.get("/access/<provider>")
@permission_required("integrations.view")
def access_provider(provider):
    """Page: the tab of access provider ``provider``: its status card and 24-hour chart from the calls the check-ins
    recorded (no provider call here), and the locations where it is set up; 404 for an unknown one."""
    if provider not in access_tabs():
        abort(404)
    card = access_card(current_user.practice_id, provider)
    chart = charts.build(metrics.hourly(current_user.practice_id, provider))
    return render_template("hub/access.html", card=card, chart=chart, provider=provider)
