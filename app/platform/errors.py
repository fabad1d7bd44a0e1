"""One error renderer: JSON under /api, a fragment plus a toast for htmx, a full page otherwise."""

import traceback
from pathlib import Path

from flask import render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.platform.extensions import db
from app.platform.htmx import is_htmx, toast


def _messages():
    """Human messages per status code, translated at request time."""
    return {
        400: _("The request could not be understood. Please reload the page and try again."),
        401: _("Please sign in to continue."),
        403: _("You do not have permission to do this."),
        404: _("This page or record does not exist."),
        405: _("This action is not allowed here."),
        413: _("The request is too large."),
        415: _("This content type is not supported."),
        422: _("Some of the input is not valid. Please correct the marked fields."),
        429: _("Too many requests. Please wait a moment and try again."),
        500: _("Something went wrong on our side. The error has been logged."),
    }


def json_error(status: int, code: str, message: str, headers=None):
    """A JSON error body ``{"error": {"code", "message"}}`` with ``status``."""
    return {"error": {"code": code, "message": message}}, status, headers or {}


def wants_json() -> bool:
    """True for requests under /api, which always get JSON."""
    return request.path.startswith("/api/") or request.path == "/api"


def render_error(status: int, message: str | None = None, code: str | None = None, headers=None):
    """Render an error as JSON, htmx fragment (with a toast) or page, whichever the request wants."""
    message = message or _messages().get(status, _messages()[500])
    if wants_json():
        return json_error(status, code or _json_code(status), message, headers)
    if is_htmx():
        body = render_template("errors/_error.html", status=status, message=message)
        response = toast(_response(body, status, headers), message, level="error")
        return response
    template = f"errors/{status}.html" if status in (403, 404, 422, 429, 500) else "errors/error.html"
    return _response(render_template(template, status=status, message=message), status, headers)


def _response(body, status, headers):
    """Build a response object so headers (HX-Trigger) can be added."""
    from flask import make_response

    response = make_response(body, status)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _json_code(status):
    """Machine-readable error code for a status."""
    return {
        400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
        413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_failed",
        429: "rate_limited", 500: "internal_error",
    }.get(status, "error")


def register_error_handlers(app):
    """Route every HTTP error, CSRF failure and unexpected exception through render_error."""

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        """A missing or stale CSRF token: the page must be reloaded."""
        return render_error(
            400, _("Your session's security token is missing or expired. Please reload the page."), "csrf_failed"
        )

    @app.errorhandler(HTTPException)
    def http_error(error):
        """Any werkzeug HTTP error (abort(404), 405, 413, 429 from the limiter ...)."""
        headers = {}
        if error.code == 429:
            retry_after = getattr(error, "retry_after", None) or _retry_after(error)
            if retry_after:
                headers["Retry-After"] = str(retry_after)
        if error.code == 405 and error.get_headers():
            headers.update({k: v for k, v in error.get_headers() if k == "Allow"})
        return render_error(error.code or 500, headers=headers)

    @app.errorhandler(Exception)
    def unexpected_error(error):
        """Log, roll back the session and answer 500 without leaking details."""
        if isinstance(error, HTTPException):
            return http_error(error)
        db.session.rollback()
        app.logger.exception("unhandled error", exc_info=error)
        return render_error(InternalServerError.code)


def _retry_after(error):
    """Seconds until the rate limit resets, read from Flask-Limiter's response headers when present."""
    response = getattr(error, "response", None)
    if response is not None:
        return response.headers.get("Retry-After")
    return None


class ServiceError(Exception):
    """A domain error with a message a person can act on; ``field`` names the form field it belongs to. Services
    raise it (or a subclass); views turn it into a 422, a toast or a flash."""

    def __init__(self, message, field=None, code="invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


def error_location(error):
    """``path:line`` of the innermost frame under app/ that ``error`` passed through (None when it never did)."""
    root = Path(__file__).resolve().parents[2]
    ours = [frame for frame in traceback.extract_tb(error.__traceback__)
            if Path(frame.filename).resolve().is_relative_to(root / "app")]
    if not ours:
        return None
    return f"{Path(ours[-1].filename).resolve().relative_to(root)}:{ours[-1].lineno}"


def loggable_error(error):
    """What a log line or an error column may say about an unexpected ``error``: its class and where in our code
    it was raised, never its text (a database error quotes the statement's parameters: names, emails, phones)."""
    where = error_location(error)
    return f"{type(error).__name__} at {where}" if where else type(error).__name__


def loggable_traceback(error):
    """The stack of ``error`` (files, lines and code) without its message, for the log."""
    return "".join(traceback.format_list(traceback.extract_tb(error.__traceback__))).rstrip()
