"""Language and time zone selection: German by default, English second; times shown in the practice's zone."""

from flask import current_app, has_request_context, session
from flask_login import current_user

from app.platform.extensions import babel


def select_locale():
    """The language chosen in this session, else the signed-in user's saved choice, else German."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]  # CLI and worker
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone():
    """The signed-in user's practice time zone (times are stored in UTC)."""
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return current_user.practice.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def init_app(app):
    """Bind Flask-Babel with our selectors and register the one set of date and time filters (formatting)."""
    from app.platform import formatting

    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    formatting.init_app(app)
