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

    from app import (
        access,
        accounts,
        api,
        appointments,
        demo,
        integrations,
        patients,
        platform,
        scheduling,
        tenancy,
        webhooks,
    )
    from app.platform import audit

    platform.init_app(app, migrations_dir=BASE_DIR / "migrations")
    # Lowest layer first (DESIGN.md §2); the /api blueprint last, once every domain has attached its endpoints.
    for domain in (audit, tenancy, accounts, patients, appointments, webhooks, integrations, scheduling, access, demo,
                   api):
        domain.init_app(app)
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

