"""The platform every domain stands on: extensions, database helpers, htmx and error handling, i18n, templating,
pagination, signals, and the security, jobs and audit sub-packages. It imports no domain package; domains plug
into it through its registries (job kinds, periodic tasks, audit labels, navigation, token authentication)."""


def init_app(app, *, migrations_dir):
    """Initialise the platform on ``app``: instance keys, the proxy fix, the session cookie, extensions, i18n, the
    access guard, templating, error handlers, e-mail (outbox page, delivery job) and the platform's commands
    (``flask crypto``, ``flask hub worker``)."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app.platform import errors, i18n, mail, templating
    from app.platform.database import pool_options
    from app.platform.extensions import HubSessionInterface, cache, csrf, db, limiter, login_manager, migrate
    from app.platform.jobs.cli import hub_cli
    from app.platform.keys import ensure_instance_keys
    from app.platform.security import guard
    from app.platform.security.cli import crypto_cli

    ensure_instance_keys(app)
    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"], x_proto=1, x_host=1)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**pool_options(app.config),
                                               **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    app.session_interface = HubSessionInterface()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(migrations_dir))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    cache.init_app(app)
    i18n.init_app(app)
    guard.init_app(app)
    templating.init_app(app)
    errors.register_error_handlers(app)
    mail.init_app(app)
    app.cli.add_command(crypto_cli)
    app.cli.add_command(hub_cli)
