"""Configuration classes. Every value comes from an environment variable with a safe default for the
embedded run (SQLite file and in-memory limits in ``instance/``); nothing here does I/O at import time."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _env_int(name, default):
    """Read an integer environment variable, falling back to ``default`` when unset."""
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _env_bool(name, default):
    """Read a boolean environment variable (1/true/yes/on are true)."""
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def served_base_url(environ):
    """``http://HOST:PORT`` as `make run` serves (it exports both): 127.0.0.1:5000 when unset, and a wildcard
    HOST (all interfaces) as 127.0.0.1, the address this machine reaches it at."""
    host = environ.get("HOST", "").strip() or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):  # noqa: S104 (compared, not bound)
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{environ.get('PORT', '').strip() or '5000'}"


class Config:
    """Embedded default: SQLite in ``instance/``, in-memory rate limits, keys generated into ``instance/``."""

    ENV_NAME = "embedded"
    # None means "generate once into instance/secret_key" (see app.platform.keys).
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    # Comma-separated Fernet keys, newest first. None means "generate once into instance/encryption.keys".
    APP_ENCRYPTION_KEYS = os.environ.get("APP_ENCRYPTION_KEYS") or None

    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "sqlite:///praxis-hub.sqlite3")
    # No pool_pre_ping: app.platform.database pings only connections that sat idle (one round trip less per request).
    SQLALCHEMY_ENGINE_OPTIONS = {}
    # Connections each process keeps open (app.platform.database.pool_options): at least the threads of a gunicorn
    # worker, or connections beyond the pool are opened and closed per request (issue 16: a new PostgreSQL
    # backend cost about 27 ms of CPU, one per 12 webhook events with 8 threads and SQLAlchemy's default of 5).
    DATABASE_POOL_SIZE = _env_int("DATABASE_POOL_SIZE", 16)
    DATABASE_MAX_OVERFLOW = _env_int("DATABASE_MAX_OVERFLOW", 8)

    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "praxis-hub")
    RATELIMIT_HEADERS_ENABLED = True
    AUTH_LOGIN_RATE_LIMIT = os.environ.get("AUTH_LOGIN_RATE_LIMIT", "20 per minute")
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "300 per minute")

    AUTH_MAX_FAILED_LOGINS = _env_int("AUTH_MAX_FAILED_LOGINS", 5)
    AUTH_LOCKOUT_MINUTES = _env_int("AUTH_LOCKOUT_MINUTES", 15)
    AUTH_INVITE_MAX_AGE_HOURS = _env_int("AUTH_INVITE_MAX_AGE_HOURS", 72)
    AUTH_MIN_PASSWORD_LENGTH = _env_int("AUTH_MIN_PASSWORD_LENGTH", 10)

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    # The CSRF token lives as long as the session: an admin tab left open for an hour must still work.
    WTF_CSRF_TIME_LIMIT = None

    BABEL_DEFAULT_LOCALE = "de"
    BABEL_DEFAULT_TIMEZONE = "Europe/Berlin"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
    LANGUAGES = ("de", "en")

    AUDIT_PAGE_SIZE = _env_int("AUDIT_PAGE_SIZE", 50)
    PATIENTS_PAGE_SIZE = _env_int("PATIENTS_PAGE_SIZE", 25)
    # The patient list's search counts its matches up to this many ("more than 1000 patients"); see paginate.
    PATIENTS_SEARCH_COUNT_LIMIT = _env_int("PATIENTS_SEARCH_COUNT_LIMIT", 1000)
    PATIENT_IMPORT_MAX_BYTES = _env_int("PATIENT_IMPORT_MAX_BYTES", 20 * 1024 * 1024)
    PATIENT_IMPORT_MAX_RECORDS = _env_int("PATIENT_IMPORT_MAX_RECORDS", 10_000)
    # Files of at least PATIENT_IMPORT_PARALLEL_MIN_ROWS rows are validated by PATIENT_IMPORT_PROCESSES processes
    # (0 = one per CPU, at most 4; 1 = no helper processes).
    PATIENT_IMPORT_PARALLEL_MIN_ROWS = _env_int("PATIENT_IMPORT_PARALLEL_MIN_ROWS", 10_000)
    PATIENT_IMPORT_PROCESSES = _env_int("PATIENT_IMPORT_PROCESSES", 0)
    # Whole request bodies are refused above this (413) before they are read; leaves room for form fields.
    MAX_CONTENT_LENGTH = PATIENT_IMPORT_MAX_BYTES + 1024 * 1024
    # Number of proxies in front of the app whose X-Forwarded-* headers are trusted (0 = none).
    PROXY_FIX_X_FOR = _env_int("PROXY_FIX_X_FOR", 0)

    # Inbound webhooks (/api/webhooks/<source>/<endpoint id>).
    # The base URL senders reach this app at; shown on the endpoint cards and printed by `flask webhooks create`.
    # Unset, a page builds it from its own request (behind a proxy from the trusted X-Forwarded-* headers, see
    # PROXY_FIX_X_FOR) and the CLI from SERVED_BASE_URL: the HOST and PORT `make run` serves at (a wildcard HOST
    # is reached at 127.0.0.1). Production behind a load balancer sets it.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").strip()
    # How often the worker checks that PUBLIC_BASE_URL answers our own health check (app.webhooks.public_url); 0: never.
    PUBLIC_URL_CHECK_SECONDS = _env_int("PUBLIC_URL_CHECK_SECONDS", 300)
    SERVED_BASE_URL = served_base_url(os.environ)
    WEBHOOK_MAX_BYTES = _env_int("WEBHOOK_MAX_BYTES", 256 * 1024)
    WEBHOOK_RATE_LIMIT = os.environ.get("WEBHOOK_RATE_LIMIT", "100 per minute")
    # How long the previous secret still verifies events after a rotation.
    WEBHOOK_PREVIOUS_SECRET_HOURS = _env_int("WEBHOOK_PREVIOUS_SECRET_HOURS", 24)
    # Seconds between the worker's retries of an event that failed to apply (then it is listed as failed).
    WEBHOOK_RETRY_DELAYS = tuple(
        int(value) for value in os.environ.get("WEBHOOK_RETRY_DELAYS", "60,300,1800,7200,21600").split(",")
    )
    WEBHOOK_LOG_PAGE_SIZE = _env_int("WEBHOOK_LOG_PAGE_SIZE", 50)
    # Days the counts of refused requests (no valid signature, not JSON, too large) are kept.
    WEBHOOK_REJECTIONS_KEEP_DAYS = _env_int("WEBHOOK_REJECTIONS_KEEP_DAYS", 30)
    # How often an open event log asks for new events (only while its browser tab is visible).
    WEBHOOK_LOG_POLL_SECONDS = _env_int("WEBHOOK_LOG_POLL_SECONDS", 30)
    # A patient's cached appointments are flagged as possibly out of date when their source was last heard from
    # longer ago than this.
    APPOINTMENTS_STALE_HOURS = _env_int("APPOINTMENTS_STALE_HOURS", 24)
    # Lifetime of a patient's personal "Meine Termine" link.
    PATIENT_LINK_DAYS = _env_int("PATIENT_LINK_DAYS", 30)

    # E-mail (app.platform.mail). Without MAIL_SMTP_HOST nothing is sent: mails stay in the outbox page (and the log
    # names their kind and recipient domain), so the embedded run needs no mail server. With it, the worker delivers
    # each mail over SMTP (MAIL_SMTP_SECURITY: starttls, ssl or none), retrying after MAIL_RETRY_DELAYS seconds.
    MAIL_SMTP_HOST = os.environ.get("MAIL_SMTP_HOST", "").strip()
    MAIL_SMTP_PORT = _env_int("MAIL_SMTP_PORT", 587)
    MAIL_SMTP_USER = os.environ.get("MAIL_SMTP_USER", "")
    MAIL_SMTP_PASSWORD = os.environ.get("MAIL_SMTP_PASSWORD", "")
    MAIL_SMTP_SECURITY = os.environ.get("MAIL_SMTP_SECURITY", "starttls").strip().lower()
    MAIL_SMTP_TIMEOUT_SECONDS = float(os.environ.get("MAIL_SMTP_TIMEOUT_SECONDS", "10"))
    MAIL_SENDER = os.environ.get("MAIL_SENDER", "Praxis Hub <noreply@praxis-hub.invalid>")
    MAIL_RETRY_DELAYS = tuple(
        int(value) for value in os.environ.get("MAIL_RETRY_DELAYS", "60,300,1800,7200").split(",")
    )
    # Days a mail is kept in the outbox (its body holds names and links); queued ones are kept until delivered.
    MAIL_KEEP_DAYS = _env_int("MAIL_KEEP_DAYS", 30)
    # Lifetime of a "Passwort vergessen?" link (it also dies once used or when the password changes).
    AUTH_RESET_MAX_AGE_MINUTES = _env_int("AUTH_RESET_MAX_AGE_MINUTES", 60)

    # The Integration Hub. Provider base URLs (change them only for a provider's staging system).
    CALCOM_API_URL = os.environ.get("CALCOM_API_URL", "https://api.cal.com")
    RETELL_API_URL = os.environ.get("RETELL_API_URL", "https://api.retellai.com")
    # Sandbox: offer "Cal.com (Sandbox)" and "Retell (Sandbox)", served by the fakes in tests/fakes that `make run`
    # starts at these URLs, so the hub can be tried without accounts. Off unless set; never on in production.
    HUB_SANDBOX = _env_bool("HUB_SANDBOX", False)
    SANDBOX_CALCOM_URL = os.environ.get("SANDBOX_CALCOM_URL", "http://127.0.0.1:8701")
    SANDBOX_RETELL_URL = os.environ.get("SANDBOX_RETELL_URL", "http://127.0.0.1:8702")
    SANDBOX_FITPASS_URL = os.environ.get("SANDBOX_FITPASS_URL", "http://127.0.0.1:8703")
    SANDBOX_FRICTION_URL = os.environ.get("SANDBOX_FRICTION_URL", "http://127.0.0.1:8704")
    SANDBOX_WELLHUB_URL = os.environ.get("SANDBOX_WELLHUB_URL", "http://127.0.0.1:8705")
    # The keys the sandbox fakes accept (SANDBOX_API_KEY in tests/fakes/calcom.py and retell.py), shown on the hub.
    SANDBOX_CALCOM_KEY = "cal_sandbox_demo"  # noqa: S105 (a public demo key of a local fake)
    SANDBOX_RETELL_KEY = "key_sandbox_demo"  # noqa: S105 (a public demo key of a local fake)
    # Seconds an outbound call may take (read timeout; connecting gets at most 3 s) and retries of idempotent calls.
    PROVIDER_TIMEOUT_SECONDS = float(os.environ.get("PROVIDER_TIMEOUT_SECONDS", "10"))
    PROVIDER_MAX_RETRIES = _env_int("PROVIDER_MAX_RETRIES", 3)
    # Inside a web request (a page, htmx or the API) the provider calls of the request share this many seconds,
    # with one try and no retries; past it the request answers "Anbieter antwortet nicht" at once. Retries with
    # backoff are the worker's (the timeout and retries above).
    PROVIDER_REQUEST_BUDGET_SECONDS = float(os.environ.get("PROVIDER_REQUEST_BUDGET_SECONDS", "5"))
    # How often the status cards refresh, and how often the worker probes each configured provider.
    HUB_STATUS_POLL_SECONDS = _env_int("HUB_STATUS_POLL_SECONDS", 30)
    HUB_PROBE_SECONDS = _env_int("HUB_PROBE_SECONDS", 300)
    # Failed syncs are retried after SYNC_BACKOFF_BASE_SECONDS, doubling up to SYNC_BACKOFF_MAX_SECONDS; after
    # SYNC_PAUSE_AFTER_FAILURES failures in a row the integration pauses itself until an admin resumes it.
    SYNC_BACKOFF_BASE_SECONDS = _env_int("SYNC_BACKOFF_BASE_SECONDS", 60)
    SYNC_BACKOFF_MAX_SECONDS = _env_int("SYNC_BACKOFF_MAX_SECONDS", 6 * 3600)
    SYNC_PAUSE_AFTER_FAILURES = _env_int("SYNC_PAUSE_AFTER_FAILURES", 10)
    # The window of Cal.com bookings a sync pulls into the appointment cache.
    CALCOM_SYNC_DAYS_BACK = _env_int("CALCOM_SYNC_DAYS_BACK", 1)
    CALCOM_SYNC_DAYS_AHEAD = _env_int("CALCOM_SYNC_DAYS_AHEAD", 90)
    # Seconds the outbound proxy (/api/proxy/...) keeps a provider's answer, and days metrics are kept.
    PROXY_CACHE_SECONDS = _env_int("PROXY_CACHE_SECONDS", 60)
    INTEGRATION_METRICS_DAYS = _env_int("INTEGRATION_METRICS_DAYS", 30)
    # The app cache: in this process's memory by default, Redis when CACHE_REDIS_URL is set (shared by all workers).
    CACHE_REDIS_URL = os.environ.get("CACHE_REDIS_URL") or None
    CACHE_TYPE = "RedisCache" if CACHE_REDIS_URL else "SimpleCache"
    CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX", "praxis-hub:")
    CACHE_DEFAULT_TIMEOUT = 60

    # Background worker (flask hub worker): idle poll interval, how old a running job's heartbeat may get before
    # its worker is presumed dead and another worker takes the job over, and how often a running job's heartbeat is
    # refreshed (keep it well below the stale limit).
    WORKER_POLL_SECONDS = _env_int("WORKER_POLL_SECONDS", 2)
    WORKER_STALE_SECONDS = _env_int("WORKER_STALE_SECONDS", 120)
    WORKER_HEARTBEAT_SECONDS = _env_int("WORKER_HEARTBEAT_SECONDS", 15)
    # How often the worker looks for integrations whose scheduled sync or health probe is due.
    WORKER_SCHEDULE_SECONDS = _env_int("WORKER_SCHEDULE_SECONDS", 15)


class DevConfig(Config):
    """Local development: same as the embedded default, with Flask's debug helpers."""

    ENV_NAME = "development"
    DEBUG = True


class TestConfig(Config):
    """pytest: in-memory SQLite (or TEST_DATABASE_URL), no CSRF, no rate limits, fast password hashing."""

    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105 (tests only)
    # A fixed, valid Fernet key so tests are repeatable; never used outside tests.
    APP_ENCRYPTION_KEYS = "q2nqZ0fM3o0hG8m0m3wT0Yl5sSx0p8Jb1m7T3d0G9kU="
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    # The worker's tests run its periodic tasks; the public address check only where a test turns it on.
    PUBLIC_URL_CHECK_SECONDS = 0
    # Cheap hashes keep the suite fast; production uses Werkzeug's scrypt default.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105 (a method name)


class ProdConfig(Config):
    """Production: PostgreSQL, shared rate-limit storage and keys from the environment; refuses to start
    without them (checked in create_app, not at import)."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None
    REQUIRED_SETTINGS = ("SECRET_KEY", "APP_ENCRYPTION_KEYS", "SQLALCHEMY_DATABASE_URI")
    # Environment variable that supplies each required setting, for the error message.
    SETTING_ENV_NAMES = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL"}


CONFIGS = {"embedded": Config, "development": DevConfig, "production": ProdConfig, "test": TestConfig}


def config_from_env():
    """Pick the config class named by APP_ENV (embedded, development, production)."""
    name = os.environ.get("APP_ENV", "embedded")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"APP_ENV={name!r} is unknown; use one of {', '.join(CONFIGS)}") from None
