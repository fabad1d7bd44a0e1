"""The access guard every request passes. Access is deny-by-default: every view declares what it needs with
``@permission_required``, ``@login_only`` or ``@public``, and one ``before_request`` hook enforces it. A view that
declares nothing is refused with 403, so a forgotten decorator fails closed instead of exposing data.

Who a session or an API token belongs to is the accounts domain's business: it plugs its user loader and token
check in with ``use_authentication``; until it has, no session and no token authenticates anybody. A view polled
every few seconds may read the session's user together with its own data in one statement (``session_read``)."""

from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.platform.errors import json_error, render_error, wants_json
from app.platform.extensions import login_manager
from app.platform.htmx import is_htmx
from app.platform.security.headers import security_headers
from app.platform.security.permissions import PERMISSIONS, has_permission

BEARER_AUTH = "praxis.bearer_auth"
SESSION_LOADER = "praxis.session_loader"


def permission_required(permission):
    """Declare that a view needs ``permission``; enforced by the access guard."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorate(view):
        view.access = ("permission", permission)
        return view

    return decorate


def login_only(view):
    """Declare that a view needs a signed-in user but no particular permission (own account, dashboard)."""
    view.access = ("login", None)
    return view


def public(view):
    """Declare that a view is open to anonymous requests (login page, health check, signed webhooks)."""
    view.access = ("public", None)
    return view


def session_allowed(view):
    """Let a read-only (GET) JSON API view also be used with the browser session, for the hub's own pages; without
    an ``Authorization`` header the session's user is checked instead of a token. Only for GET views: the API is
    exempt from CSRF."""
    view.session_allowed = True
    return view


def session_read(read):
    """Declare that a view reads its data together with the session's user, in one statement: ``read(session_id)``
    returns (the user the session id stands for, or None when that session has ended; the view's data), and is then
    Flask-Login's user loader for the view's requests, in place of the accounts domain's. The guard goes on exactly
    as after the plain loader (an ended session is unauthorized, the permission is checked on the user read); the
    view finds its data with ``session_data()``. For the status polls, which would otherwise cost two statements.
    ``read`` runs while Flask-Login is still loading the user, so it must only read: anything that asks who the
    user is (``current_user``, and translations, which ask for the user's language) would recurse."""

    def decorate(view):
        view.session_read = read
        return view

    return decorate


def session_data():
    """What the view's ``session_read`` read together with the session's user."""
    return g.session_data


def _load_session_user(session_id):
    """Flask-Login's user loader: the view's ``session_read`` when it declares one, else the loader the accounts
    domain installed (None without one: fail closed)."""
    read = getattr(current_app.view_functions.get(request.endpoint), "session_read", None)
    if read is not None:
        user, g.session_data = read(session_id)
        return user
    load = current_app.extensions.get(SESSION_LOADER)
    return load(session_id) if load else None


def view_access(endpoint):
    """The access declaration of ``endpoint`` as (kind, permission), or None when it declared nothing."""
    if endpoint == "static":
        return ("public", None)
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "access", None)


def _token_user():
    """The user of the request's bearer token, through the authenticator the accounts domain installed (None
    without one: fail closed)."""
    authenticate = current_app.extensions.get(BEARER_AUTH)
    return authenticate(request.headers.get("Authorization")) if authenticate else None


def _guard():
    """before_request: authenticate API tokens, then enforce the view's access declaration (deny by default)."""
    if request.endpoint is None:
        return None  # 404/405: let routing answer
    access = view_access(request.endpoint)
    if access is None:
        current_app.logger.error("view %s declares no access rule; refusing", request.endpoint)
        abort(403)
    kind, permission = access
    if kind == "public":
        return None
    view = current_app.view_functions[request.endpoint]
    browser = (getattr(view, "session_allowed", False) and request.method == "GET"
               and "Authorization" not in request.headers)
    if request.blueprint == "api" and not browser:
        g.api_user = _token_user()
        user = g.api_user
    else:
        user = current_user
    if not getattr(user, "is_authenticated", False):
        return login_manager.unauthorized()
    # A token limited to one permission (a door terminal's) calls only the endpoints that declare exactly it.
    scope = g.get("api_token_scope") if user is g.get("api_user") else None
    if scope is not None and permission != scope:
        current_app.logger.info("token limited to %s refused at %s", scope, request.endpoint)
        return json_error(403, "token_scope", _("This token may only be used by a check-in terminal (checking "
                                                "codes in and listing locations); use a personal token here."))
    if kind == "permission" and not has_permission(user, permission):
        abort(403)
    return None


def init_app(app):
    """Install the unauthorized handler, the access guard and the security headers."""
    login_manager.unauthorized_handler(_unauthorized)
    login_manager.user_loader(_load_session_user)
    app.before_request(_guard)
    app.after_request(security_headers)


def use_authentication(app, *, load_user, authenticate_token):
    """Plug in who a session belongs to (``load_user(session_id)``) and who an ``Authorization`` header belongs
    to (``authenticate_token(header)``, raising or returning None when nobody)."""
    app.extensions[SESSION_LOADER] = load_user
    app.extensions[BEARER_AUTH] = authenticate_token


def is_safe_next(target) -> bool:
    """True for a local path (``/users?page=2``); refuses absolute URLs, ``//host`` and backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def _unauthorized():
    """No valid session or token: JSON 401 under /api, 401 + HX-Redirect for htmx, else the login page."""
    if wants_json():
        return render_error(401, headers={"WWW-Authenticate": 'Bearer realm="praxis-hub"'})
    next_path = request.full_path.rstrip("?") if request.method == "GET" else request.headers.get(
        "HX-Current-URL", "/")
    login_url = url_for("auth.login", next=_local_part(next_path))
    if is_htmx() or request.headers.get("HX-Request") == "true":
        response = render_error(401)
        response.headers["HX-Redirect"] = login_url
        return response
    return redirect(login_url)


def _local_part(url):
    """The path and query of ``url`` when it is local to this app, else the dashboard."""
    parts = urlsplit(url or "/")
    local = parts.path + (f"?{parts.query}" if parts.query else "")
    if parts.netloc and parts.netloc != request.host:
        return "/"
    return local if is_safe_next(local) else "/"
