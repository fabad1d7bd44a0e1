"""JSON API of the Integration Hub: each provider's cached health, its detailed report and metrics, a probe on
demand, and the outbound proxy of allowed reads (``/api/proxy/<provider>/<operation>``, also usable from the hub's
pages with the browser session)."""

from flask import request
from flask_babel import gettext as _

from app.api.blueprint import bp
from app.integrations import health, metrics
from app.integrations.clients import providers
from app.integrations.health_report import detailed
from app.integrations.proxy import ProxyError, fetch
from app.integrations.sync import probe
from app.platform.errors import json_error
from app.platform.security.actor import current_actor
from app.platform.security.guard import permission_required, session_allowed


def _unknown(provider):
    """A 404 answer for a provider the hub does not know, or None."""
    if provider not in providers():
        return json_error(404, "not_found", _("Unknown provider %(provider)s.", provider=provider))
    return None


@bp.get("/health/<provider>")
@permission_required("integrations.view")
def provider_health(provider):
    """JSON: the provider's cached state (one indexed read; never a provider call)."""
    return _unknown(provider) or health.as_json(health.read(current_actor().practice_id, provider), provider)


@bp.get("/health/<provider>/detailed")
@permission_required("integrations.view")
def provider_health_detailed(provider):
    """JSON: every health check with its status and figures, from stored data (never a provider call)."""
    return _unknown(provider) or detailed(current_actor().practice_id, provider)


@bp.get("/health/<provider>/metrics")
@permission_required("integrations.view")
def provider_metrics(provider):
    """JSON for dashboards: 24-hour summary, per action, and per hour (calls, failures, mean duration)."""
    if (error := _unknown(provider)) is not None:
        return error
    practice_id = current_actor().practice_id
    summary = metrics.summary(practice_id, provider)
    return {
        "provider": provider,
        "window_hours": 24,
        "calls": summary.calls,
        "failures": summary.failures,
        "error_rate": summary.error_rate,
        "error_level": summary.error_level,
        "mean_ms": round(summary.mean_ms, 1) if summary.mean_ms is not None else None,
        "actions": metrics.by_action(practice_id, provider),
        "hourly": [{"start": bucket.start.isoformat(), "calls": bucket.calls, "failures": bucket.failures,
                    "mean_ms": round(bucket.mean_ms, 1) if bucket.mean_ms is not None else None}
                   for bucket in metrics.hourly(practice_id, provider)],
    }


@bp.post("/health/<provider>/check")
@permission_required("integrations.manage")
def provider_check(provider):
    """Probe the provider now (one call or a few) and answer with the stored health."""
    if (error := _unknown(provider)) is not None:
        return error
    practice_id = current_actor().practice_id
    row = probe(practice_id, provider)
    return health.as_json(row, provider)


@bp.get("/proxy/<provider>/<operation>")
@permission_required("integrations.view")
@session_allowed
def proxy(provider, operation):
    """JSON ``{"data", "cached"}``: an allowed read of the provider, cached briefly; 400 for bad parameters,
    404 for an operation the allow-list does not have, 409 when not connected, 502-504 for provider errors."""
    try:
        result = fetch(current_actor().practice_id, provider, operation, request.args.to_dict())
    except ProxyError as error:
        return json_error(error.status, "proxy_error", error.message)
    return {"data": result.data, "cached": result.cached}
