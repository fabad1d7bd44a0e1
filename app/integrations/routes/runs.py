"""Sync runs in the hub: "sync now" (from a card or the provider's tab), the tab's table of the last runs that
follows a run until it ends, and one run's page."""

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.integrations import sync
from app.integrations.models import MANUAL
from app.integrations.routes.blueprint import bp
from app.integrations.routes.context import runs_context, status_body
from app.platform.errors import ServiceError
from app.platform.extensions import limiter
from app.platform.htmx import fragment_response, mutation_response, wants_fragment
from app.platform.security.guard import permission_required


@bp.post("/<integration:provider>/sync")
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
    """Answer "sync now" with the widget that sent it (a card or the runs table) and an event for the other one."""
    if wants_fragment("hub-status"):
        return fragment_response(status_body(), message, level=level, status=status, events=("hub-runs-changed",))
    return mutation_response(
        lambda: render_template("hub/_runs.html", **runs_context(provider)), message, level=level, status=status,
        redirect_to=url_for("hub.provider", provider=provider, _anchor=f"hub-runs-{provider}"),
        target=f"hub-runs-{provider}", events=("hub-status-changed",))


@bp.get("/<integration:provider>/runs")
@limiter.exempt
@permission_required("integrations.view")
def runs(provider):
    """Fragment #hub-runs-<provider>: the last sync runs. While one is queued or running the fragment reloads
    itself every 2 s (``?watching=1``); the answer that sees it finished drops the trigger and announces
    ``hub-status-changed`` and ``hub-sync-finished`` so the card and the mappings catch up."""
    if not wants_fragment(f"hub-runs-{provider}"):
        return redirect(url_for("hub.provider", provider=provider, _anchor=f"hub-runs-{provider}"))
    context = runs_context(provider)
    finished = request.args.get("watching") and not context["pending"]
    return fragment_response(render_template("hub/_runs.html", **context),
                             events=("hub-status-changed", "hub-sync-finished") if finished else ())


@bp.get("/runs/<int:run_id>")
@permission_required("integrations.view")
def run(run_id):
    """Page: one sync run with everything recorded about it (trigger, times, counts per kind, error)."""
    found = sync.get_run(current_user.practice_id, run_id)
    if found is None:
        abort(404)
    return render_template("hub/run.html", run=found)
