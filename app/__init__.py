"""Application factory: folders, configuration, extensions, blueprints, error handlers and CLI. No network calls,
no migrations here; the only I/O is creating the instance folder and, in the embedded default, its key files."""

from pathlib import Path

from flask import Flask

from config import BASE_DIR, config_from_env


def create_app(config_class=None, **overrides):
    """Build the Flask app from ``config_class`` (default: APP_ENV) with ``overrides`` applied last."""
    config_class = config_class or config_from_env()
    app = Flask(
        __name__,
        instance_path=str(BASE_DIR / "instance"),
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
    )
    app.config.from_object(config_class)
    app.config.update(overrides)
    _check_required_settings(app)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from app import cli, platform

    platform.init_app(app, migrations_dir=BASE_DIR / "migrations")
    cli.init_app(app)
    _wire(app)

    from app import accounts, api, appointments, patients, tenancy
    from app.hub import bp as hub_bp
    from app.inbound import bp as inbound_bp
    from app.platform import audit
    from app.webhooks import bp as webhooks_bp

    for domain in (audit, tenancy, accounts, patients, appointments):
        domain.init_app(app)
    for blueprint in (inbound_bp, webhooks_bp, hub_bp):
        app.register_blueprint(blueprint)
    api.init_app(app)
    return app


def _check_required_settings(app):
    """Refuse to start (ProdConfig) when a required setting is missing, naming every missing variable."""
    required = app.config.get("REQUIRED_SETTINGS", ())
    names = app.config.get("SETTING_ENV_NAMES", {})
    missing = [names.get(key, key) for key in required if not app.config.get(key)]
    if missing:
        raise RuntimeError(
            "Praxis Hub refuses to start in production without these environment variables: " + ", ".join(missing)
        )


def _wire(app):
    """Plug the domains into the platform's registries (moves into each domain's init_app)."""
    from flask_babel import lazy_gettext as _l

    from app.api import admin, integrations  # noqa: F401 (attach their endpoints to the /api blueprint)
    from app.platform.jobs.registry import register_job_kind, register_periodic
    from app.platform.templating import add_navigation
    from app.services import scheduler, sync, webhook_ingest

    register_job_kind(app, "webhook_retry", webhook_ingest.run_retry_job)
    register_job_kind(app, "integration_sync", sync.run_sync_job)
    register_job_kind(app, "integration_probe", sync.run_probe_job)
    register_periodic(app, "integrations", scheduler.tick)
    add_navigation(app, 40, "hub.index", _l("Integrations"), "integrations.view")
    add_navigation(app, 50, "webhooks.events", _l("Webhooks"), "webhooks.log")
