"""The lockout holds under parallel attack: failures are counted before the password is checked, in one atomic
UPDATE, so no more than AUTH_MAX_FAILED_LOGINS passwords of an account are ever tried in a row, however many
requests arrive at once; plus the sequential rules around it (expiry, a right password as the last try)."""

import threading
import time
from datetime import timedelta

import pytest

from app.accounts import service
from app.accounts.models import User
from app.platform.database import utcnow
from config import TestConfig
from tests.helpers import PASSWORD, at_once, audit_actions

CONCURRENT_ATTEMPTS = 16
# How long each password check takes here: Werkzeug's scrypt takes about this long in production, while the suite's
# cheap test hash takes microseconds and would leave no window for requests to overlap.
CHECK_SECONDS = 0.05


@pytest.fixture
def app_overrides(tmp_path):
    """Threads need their own connections to one database: a file on SQLite (PostgreSQL when configured)."""
    if TestConfig.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
        return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/lockout.sqlite3"}
    return {}


@pytest.fixture
def password_checks(monkeypatch):
    """The password hashes checked at sign-in, one entry per check, in order; each check takes CHECK_SECONDS."""
    checked = []
    lock = threading.Lock()
    original = service.verify_password

    def slow_counting_check(password_hash, password):
        with lock:
            checked.append(password_hash)
        time.sleep(CHECK_SECONDS)
        return original(password_hash, password)

    monkeypatch.setattr(service, "verify_password", slow_counting_check)
    return checked


def login(app, email, password):
    """POST the login form from a fresh client; returns the status code."""
    return app.test_client().post("/auth/login", data={"email": email, "password": password}).status_code


def fresh(db, user):
    """``user`` as stored now."""
    db.session.expire_all()
    return db.session.get(User, user.id)


def test_parallel_wrong_passwords_check_no_more_than_the_limit(app, db, make_user, password_checks):
    """16 wrong passwords at once: exactly AUTH_MAX_FAILED_LOGINS of them are checked, the rest are refused before
    their password is looked at; the account is locked once, and then even the right password is refused unchecked."""
    user = make_user()
    email, password_hash = user.email, user.password_hash  # the threads must not load them through this session
    limit = app.config["AUTH_MAX_FAILED_LOGINS"]

    statuses = at_once(app, CONCURRENT_ATTEMPTS, lambda: login(app, email, "wrong password!"))

    assert statuses == [422] * CONCURRENT_ATTEMPTS
    assert password_checks.count(password_hash) == limit
    actions = audit_actions(db)
    assert actions.count("login.locked") == 1
    assert actions.count("login.failed") == CONCURRENT_ATTEMPTS  # every attempt is audited, refused or checked
    locked = fresh(db, user)
    assert locked.locked_until is not None and locked.locked_until > utcnow() + timedelta(minutes=14)

    assert login(app, email, PASSWORD) == 422
    assert password_checks.count(password_hash) == limit
    assert fresh(db, user).last_login_at is None


def test_right_password_as_the_last_allowed_try_signs_in(app, db, make_user):
    """Four wrong passwords and then the right one: signed in, not locked, the count starts over."""
    user = make_user()
    for _ in range(app.config["AUTH_MAX_FAILED_LOGINS"] - 1):
        assert login(app, user.email, "wrong password!") == 422
    assert login(app, user.email, PASSWORD) == 303
    signed_in = fresh(db, user)
    assert signed_in.failed_logins == 0 and signed_in.locked_until is None
    assert "login.locked" not in audit_actions(db)


def test_an_expired_lock_gives_a_fresh_set_of_tries(app, db, make_user):
    """A lock that has run out (even one whose last try never reported back) counts from zero again."""
    user = make_user(failed_logins=app.config["AUTH_MAX_FAILED_LOGINS"], locked_until=utcnow() - timedelta(minutes=1))
    assert login(app, user.email, "wrong password!") == 422
    after = fresh(db, user)
    assert after.failed_logins == 1 and after.locked_until is None
