"""Flask extensions, created unbound and initialised in create_app()."""

from flask import request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

# Deterministic constraint names keep Alembic migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"
csrf = CSRFProtect()


class HubLimiter(Limiter):
    """Flask-Limiter that leaves alone the endpoints which count their requests themselves (``counts_itself``).
    For an exempt endpoint its before_request still resolves the app's meta limits and exemption scopes only to
    find nothing to check, and a request filter skips only part of that: 4 % of a worker's time on the webhook
    receiver under the wrk bench (issue 16)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._self_counting = set()

    def counts_itself(self, endpoint):
        """Register ``endpoint`` (e.g. ``"inbound.receive"``) as counting its own requests: mark its view
        ``@limiter.exempt`` too, so it stays exempt wherever this hook is not consulted."""
        self._self_counting.add(endpoint)

    def _check_request_limit(self, callable_name=None, in_middleware=True):
        """Flask-Limiter's check of the request (its before_request), skipped for a self-counting endpoint. The
        hook is Flask-Limiter's own method (4.1, pinned in requirements.txt); test_rate_limit.py fails should a
        release rename it."""
        if in_middleware and request.endpoint in self._self_counting:
            return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)


limiter = HubLimiter(key_func=get_remote_address)
babel = Babel()


class HubSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with its signing serializer built once per set of keys. Flask builds it anew
    for every request, a cookie or not (1.6 % of a worker's time on the webhook receiver, issue 16); it holds
    nothing but its settings, so one per key set serves every thread. A rotated SECRET_KEY or changed
    SECRET_KEY_FALLBACKS is a new key set, hence a new serializer."""

    def __init__(self):
        # (SECRET_KEY, SECRET_KEY_FALLBACKS) -> serializer; emptied when it grows past a few key sets (the tests
        # build many apps).
        self._serializers = {}

    def get_signing_serializer(self, app):
        """Flask's serializer for the app's keys, built on first use of this key set; None without a secret key."""
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            if len(self._serializers) >= 8:
                self._serializers.clear()
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer


# The app cache (outbound proxy answers): in memory, or Redis via CACHE_REDIS_URL so every worker shares it.
cache = Cache()
