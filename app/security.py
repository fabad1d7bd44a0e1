"""Security in one place: roles and their permissions, the access guard every request passes, password and token
hashing, and encryption of secrets at rest.

Access is deny-by-default: every view declares what it needs with ``@permission_required``, ``@login_only`` or
``@public``, and one ``before_request`` hook enforces it. A view that declares nothing is refused with 403, so a
forgotten decorator fails closed instead of exposing data."""

import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import abort, current_app, g, request
from flask_login import current_user
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import login_manager

ALL, OWN = "all", "own"

# The single source of truth for roles (DESIGN.md §4). Values are permission -> scope ("own" = own patients).
ROLE_PERMISSIONS = {
    "admin": {
        "patients.read": ALL, "patients.write": ALL, "patients.import": ALL, "patients.link": ALL,
        "patients.restore": ALL, "appointments.read": ALL, "appointments.book": ALL,
        "integrations.view": ALL, "integrations.manage": ALL, "webhooks.manage": ALL, "users.manage": ALL,
        "audit.read": ALL, "webhooks.log": ALL, "payload.reveal": ALL,
        "access.validate": ALL, "access.manage": ALL, "access.stats": ALL,
        "api_tokens.manage": ALL,
    },
    "assistant": {
        "patients.read": ALL, "patients.write": ALL, "appointments.read": ALL, "appointments.book": ALL,
        "integrations.view": ALL, "access.validate": ALL, "access.stats": ALL,
    },
    "therapist": {"patients.read": OWN, "appointments.read": OWN, "appointments.book": ALL},
    "billing": {"patients.read": ALL, "appointments.read": ALL, "access.stats": ALL},
}
ROLES = tuple(ROLE_PERMISSIONS)
PERMISSIONS = tuple(sorted({perm for perms in ROLE_PERMISSIONS.values() for perm in perms}))


def has_permission(user, permission) -> bool:
    """True when ``user`` is signed in, active and their role grants ``permission`` (in any scope)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return permission in ROLE_PERMISSIONS.get(user.role, {})


def permission_scope(user, permission):
    """``"all"``, ``"own"`` or None: how far ``permission`` reaches for ``user``."""
    if not has_permission(user, permission):
        return None
    return ROLE_PERMISSIONS[user.role][permission]


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


def view_access(endpoint):
    """The access declaration of ``endpoint`` as (kind, permission), or None when it declared nothing."""
    if endpoint == "static":
        return ("public", None)
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "access", None)


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
        from app.services.api_tokens import authenticate_bearer

        g.api_user = authenticate_bearer(request.headers.get("Authorization"))
        user = g.api_user
    else:
        user = current_user
    if not getattr(user, "is_authenticated", False):
        return login_manager.unauthorized()
    if kind == "permission" and not has_permission(user, permission):
        abort(403)
    return None


def hash_password(password: str) -> str:
    """Hash a password with Werkzeug's scrypt (or PASSWORD_HASH_METHOD, which tests lower for speed)."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    return generate_password_hash(password, method=method)


def verify_password(password_hash, password) -> bool:
    """Constant-time password check; an absent hash never matches."""
    if not password_hash:
        return False
    return check_password_hash(password_hash, password)


def new_token(prefix: str) -> str:
    """A fresh random token (256 bits) with a readable prefix, e.g. ``phk_...``."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def _fernet():
    """MultiFernet over APP_ENCRYPTION_KEYS (comma-separated, newest first); the newest key encrypts."""
    keys = [key.strip() for key in current_app.config["APP_ENCRYPTION_KEYS"].split(",") if key.strip()]
    return MultiFernet([Fernet(key) for key in keys])


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


def encrypt_secret(plaintext: str) -> str:
    """Encrypt a secret for storage; the result is ASCII."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_secret(ciphertext: str) -> str:
    """Decrypt a stored secret with whichever configured key encrypted it."""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("stored secret cannot be decrypted with APP_ENCRYPTION_KEYS") from None


def rotate_secret(ciphertext: str) -> str:
    """Re-encrypt a stored secret under the newest key."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("stored secret cannot be decrypted with APP_ENCRYPTION_KEYS") from None


def init_app(app):
    """Install the session loader, the unauthorized handler, the access guard and the security headers."""
    from app.services.accounts import load_session_user

    login_manager.user_loader(load_session_user)
    login_manager.unauthorized_handler(_unauthorized)
    app.before_request(_guard)
    app.after_request(_security_headers)


def _security_headers(response):
    """A CSP without inline scripts or styles, no framing, no sniffing, a strict referrer policy."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    return response


class Actor:
    """Who performs an action and from where; services take it so they never touch ``request``."""

    def __init__(self, user=None, ip=None, user_agent=None, practice_id=None):
        self.user = user
        self.ip = ip
        self.user_agent = (user_agent or "")[:300] or None
        self._practice_id = practice_id

    def acting_as(self, user):
        """The same client acting as ``user`` (after it has been identified, e.g. by a login)."""
        return Actor(user, self.ip, self.user_agent)

    @property
    def practice_id(self):
        """The actor's practice (the user's, or the one given for a CLI actor), or None."""
        return self.user.practice_id if self.user is not None else self._practice_id


def current_actor():
    """The Actor of the current request: the signed-in (or token) user, client address and user agent."""
    user = g.get("api_user") or (current_user if getattr(current_user, "is_authenticated", False) else None)
    if user is not None and hasattr(user, "_get_current_object"):
        user = user._get_current_object()
    return Actor(user=user, ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))


def is_safe_next(target) -> bool:
    """True for a local path (``/users?page=2``); refuses absolute URLs, ``//host`` and backslash tricks."""
    from urllib.parse import urlsplit

    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def _unauthorized():
    """No valid session or token: JSON 401 under /api, 401 + HX-Redirect for htmx, else the login page."""
    from flask import redirect, url_for

    from app.errors import render_error, wants_json
    from app.htmx import is_htmx

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
    from urllib.parse import urlsplit

    parts = urlsplit(url or "/")
    local = parts.path + (f"?{parts.query}" if parts.query else "")
    if parts.netloc and parts.netloc != request.host:
        return "/"
    return local if is_safe_next(local) else "/"
