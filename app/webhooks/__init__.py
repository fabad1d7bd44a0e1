"""Webhooks in: the endpoints a sender posts to (with their secrets), the receiver that verifies, dedupes, stores
and applies each delivery, the append-only event log with redacted previews, retries and replays; the admins'
pages, the JSON API and ``flask webhooks create``."""

from flask_babel import lazy_gettext as _l

from app.platform.audit.labels import register_action_labels, register_audit_labels
from app.platform.templating import add_navigation


def init_app(app):
    """Register the receiver and the admin blueprints, the API endpoints, the command, the retry job, the
    navigation entry, the audit labels and when each source was last heard from (for the Termine tab)."""
    from app.appointments.reading import register_last_heard
    from app.platform.jobs.registry import register_job_kind, register_periodic
    from app.webhooks import api  # noqa: F401 (attaches the endpoints to the /api blueprint)
    from app.webhooks.cli import webhooks_cli
    from app.webhooks.freshness import last_applied_event_at
    from app.webhooks.ingest import run_retry_job
    from app.webhooks.receiver import bp as receiver_bp
    from app.webhooks.routes import bp

    app.register_blueprint(receiver_bp)
    app.register_blueprint(bp)
    app.cli.add_command(webhooks_cli)
    register_job_kind(app, "webhook_retry", run_retry_job)
    register_last_heard(app, last_applied_event_at)
    from app.webhooks.public_url import check_public_url, public_url_problem

    register_periodic(app, "public_url", check_public_url)  # the warning while PUBLIC_BASE_URL does not answer
    app.jinja_env.globals["public_url_problem"] = public_url_problem
    from app.webhooks.home import register_panels as register_home_panels

    register_home_panels(app)  # failed events on the admins' home page (app.accounts.home)
    add_navigation(app, 50, "webhooks.events", _l("Webhooks"), "webhooks.log")
    register_action_labels({
        "webhook.endpoint.create": _l("Webhook endpoint created"),
        "webhook.endpoint.enable": _l("Webhook endpoint enabled"),
        "webhook.endpoint.disable": _l("Webhook endpoint disabled"),
        "webhook.secret.rotate": _l("Webhook secret rotated"),
        "webhook.replay": _l("Webhook event replayed"),
        "payload.reveal": _l("Webhook payload revealed"),
    })
    from app.providers.registry import WEBHOOK_SOURCES
    from app.webhooks.endpoints import source_label
    from app.webhooks.lines import EVENT_TYPE_LABELS, OUTCOME_LABELS

    register_audit_labels(
        objects={"webhook_endpoint": _l("Webhook endpoint"), "webhook_event": _l("Webhook event")},
        meta={"secret_version": _l("Secret version")},
        values={**{name: source_label(name) for name in WEBHOOK_SOURCES}, **EVENT_TYPE_LABELS, **OUTCOME_LABELS})
