"""The Integration Hub: each provider's configuration per practice (and location), scheduled syncs, health probes,
call metrics, id mappings and the read-only outbound proxy; the hub's pages and the JSON API."""

from flask_babel import lazy_gettext as _l

from app.platform.audit.labels import register_action_labels, register_audit_labels
from app.platform.templating import add_navigation


def init_app(app):
    """Register the hub blueprint, the API endpoints, the sync and probe jobs, the scheduler's periodic task, the
    navigation entry and the audit labels."""
    from app.appointments.reading import register_provider_state
    from app.integrations import api  # noqa: F401 (attaches the endpoints to the /api blueprint)
    from app.integrations.freshness import UNAVAILABLE_STATES, provider_state
    from app.integrations.routes import bp
    from app.integrations.scheduler import tick
    from app.integrations.sync import run_probe_job, run_sync_job
    from app.platform.jobs.registry import register_job_kind, register_periodic

    app.register_blueprint(bp)
    register_job_kind(app, "integration_sync", run_sync_job)
    register_job_kind(app, "integration_probe", run_probe_job)
    register_periodic(app, "integrations", tick)
    register_provider_state(app, provider_state, UNAVAILABLE_STATES)
    from app.integrations.home import register_panels as register_home_panels

    register_home_panels(app)  # the hub's health on the admins' home page (app.accounts.home)
    add_navigation(app, 40, "hub.index", _l("Integrations"), "integrations.view")
    register_action_labels({
        "integration.update": _l("Integration settings changed"),
        "integration.mapping.update": _l("Integration mapping changed"),
        "integration.webhook.register": _l("Webhook registered with the provider"),
    })
    from app.providers.registry import INTEGRATIONS, integration

    register_audit_labels(
        objects={"integration": _l("Integration"), "integration_mapping": _l("Integration mapping")},
        meta={"kind": _l("Kind"), "webhook_base_url": _l("Webhook address")},
        values={name: integration(name).LABEL for name in INTEGRATIONS})
    register_audit_labels(values={"api_key": _l("API key"), "sync_enabled": _l("Automatic sync"),
                                  "sync_interval_minutes": _l("Sync interval"),
                                  **{setting.name: setting.summary_label or setting.field.args[0]
                                     for name in INTEGRATIONS for setting in integration(name).SETTINGS}})
