"""Shared fixtures: the app on a fresh database per test, client, CLI runner, login helpers, record factories,
and a guard that makes any real network call from a test fail."""

import itertools
from contextlib import contextmanager
from uuid import uuid4

from tests.worker_database import use_worker_database

use_worker_database()  # before config is imported (below): TestConfig reads TEST_DATABASE_URL once

import pytest
import requests.adapters
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import event

from app import create_app
from app.accounts.models import User
from app.platform.extensions import db as _db
from app.platform.security.passwords import hash_password
from app.tenancy.models import Practice
from config import TestConfig
from tests.fakes.calcom import CalcomFake
from tests.fakes.retell import RetellFake
from tests.helpers import PASSWORD

_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No test may reach the network through requests; provider fakes are local servers reached explicitly."""

    def refuse(self, request, *args, **kwargs):
        host = requests.utils.urlparse(request.url).hostname
        if host in ("127.0.0.1", "localhost", "::1"):
            return original(self, request, *args, **kwargs)
        raise RuntimeError(f"test tried to reach the network: {request.url}")

    original = requests.adapters.HTTPAdapter.send
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)


@pytest.fixture
def app_overrides():
    """Config overrides for the ``app`` fixture; a test module can override this fixture."""
    return {}


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in a fresh app context, as in production: its own ``g`` and its
    own database session. (The test's own app context stays pushed for setup and assertions; without this,
    requests would reuse it and share ``g`` and the session, hiding bugs such as a stale logged-in user.)"""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def app(app_overrides):
    """The app on an empty database (in-memory SQLite, or TEST_DATABASE_URL), dropped afterwards."""
    # Each test its own cache namespace, so cached proxy answers never leak between tests (or CI runs) when the
    # cache is Redis (CACHE_REDIS_URL).
    overrides = {"CACHE_KEY_PREFIX": f"praxis-test-{next(_counter)}-{uuid4().hex[:8]}:", **app_overrides}
    app = create_app(TestConfig, **overrides)
    app.test_client_class = IsolatedClient
    with app.app_context():
        _db.drop_all()
        _db.create_all()
        yield app
        _db.session.remove()
        _db.drop_all()
        _db.engine.dispose()  # close this app's pooled connections now, not whenever the engine is collected


@pytest.fixture
def db(app):
    """The database handle, inside the app context."""
    return _db


@pytest.fixture
def client(app):
    """A Flask test client."""
    return app.test_client()


@pytest.fixture
def english(client):
    """Switch the client to English so assertions read naturally (the UI defaults to German)."""
    client.post("/auth/language", data={"lang": "en"})


@pytest.fixture
def english_messages(app):
    """Messages made outside a request (services, worker) in their English source form, so assertions do not
    depend on the German catalogue."""
    with force_locale("en"):
        yield


@pytest.fixture
def sql_statements(db):
    """Records the SQL statements sent inside a block: ``with sql_statements() as sent: ...``, then ``sent`` holds
    them; for tests that a page or a service costs a fixed number of queries, never one per row."""

    @contextmanager
    def recording():
        sent = []

        def before(conn, cursor, statement, parameters, context, executemany):
            sent.append(statement)

        event.listen(db.engine, "before_cursor_execute", before)
        try:
            yield sent
        finally:
            event.remove(db.engine, "before_cursor_execute", before)

    return recording


@pytest.fixture
def runner(app):
    """A CLI runner for ``flask`` commands."""
    return app.test_cli_runner()


@pytest.fixture
def make_practice(db):
    """Factory: a practice with a unique slug."""

    def make(**fields):
        number = next(_counter)
        fields.setdefault("slug", f"practice-{number}")
        fields.setdefault("name", f"Praxis {number}")
        fields.setdefault("timezone", "Europe/Berlin")
        fields.setdefault("settings", {})
        practice = Practice(**fields)
        db.session.add(practice)
        db.session.commit()
        return practice

    return make


@pytest.fixture
def practice(make_practice):
    """The practice most tests act in."""
    return make_practice(name="Praxis am Test", slug="test")


@pytest.fixture
def other_practice(make_practice):
    """A second practice whose data must stay invisible to the first."""
    return make_practice(name="Andere Praxis", slug="andere")


@pytest.fixture
def make_user(db, practice):
    """Factory: a user (default: admin of ``practice``) with password PASSWORD."""

    def make(role="admin", practice=practice, password=PASSWORD, **fields):
        number = next(_counter)
        fields.setdefault("email", f"{role}{number}@example.test")
        fields.setdefault("name", f"{role.title()} {number}")
        user = User(practice_id=practice.id, role=role, active=fields.pop("active", True),
                    password_hash=hash_password(password) if password else None, **fields)
        db.session.add(user)
        db.session.commit()
        return user

    return make


class AuthActions:
    """Sign in and out through the real login form (flaskr's AuthActions)."""

    def __init__(self, client, make_user):
        self._client = client
        self._make_user = make_user
        self.user = None

    def login(self, role="admin", user=None, password=PASSWORD):
        """Sign in as ``user``, or as a new user of ``role``; returns the user."""
        self.user = user or self._make_user(role=role)
        response = self._client.post("/auth/login", data={"email": self.user.email, "password": password})
        assert response.status_code == 303, response.get_data(as_text=True)
        return self.user

    def logout(self):
        """Sign out."""
        return self._client.post("/auth/logout")


@pytest.fixture
def auth(client, make_user):
    """Login helper bound to ``client``."""
    return AuthActions(client, make_user)


@pytest.fixture
def make_token(db):
    """Factory: an API token for a user; returns the plaintext."""
    from app.accounts.tokens import create_token
    from app.platform.security.actor import Actor

    def make(user, name="script"):
        _token, plaintext = create_token(Actor(user), user, name)
        return plaintext

    return make



@pytest.fixture
def make_patient(db, practice):
    """Factory: a patient of ``practice`` (search text kept in step)."""
    from app.patients.models import Patient

    def make(practice=practice, **fields):
        number = next(_counter)
        fields.setdefault("first_name", f"Vorname{number}")
        fields.setdefault("last_name", f"Nachname{number}")
        if fields.get("email"):
            fields.setdefault("email_normalized", fields["email"].lower())
        patient = Patient(practice_id=practice.id, **fields)
        patient.refresh_search_text()
        db.session.add(patient)
        db.session.commit()
        return patient

    return make


@pytest.fixture(scope="module")
def calcom_server():
    """One plain Cal.com fake for the module (a module that needs seeded data or other keys defines its own)."""
    with CalcomFake() as server:
        yield server


@pytest.fixture(scope="module")
def retell_server():
    """One plain Retell fake for the module (the hub's settings name both providers)."""
    with RetellFake() as server:
        yield server
