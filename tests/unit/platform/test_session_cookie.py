"""The session cookie's signing serializer (app.platform.extensions.HubSessionInterface): built once per key set
instead of for every request, and still Flask's, so a key rotation with SECRET_KEY_FALLBACKS keeps sessions."""

import pytest
from itsdangerous import BadSignature

from app import create_app
from config import TestConfig

OLD_KEY, NEW_KEY = "alter-schluessel-" * 2, "neuer-schluessel-" * 2


def _serializer(app):
    return app.session_interface.get_signing_serializer(app)


def test_the_serializer_is_built_once_per_key_set():
    """Every request of the same keys gets the same serializer; a changed key or fallback list gets a new one."""
    app = create_app(TestConfig, SECRET_KEY=OLD_KEY)
    first = _serializer(app)
    assert _serializer(app) is first
    app.config["SECRET_KEY_FALLBACKS"] = [OLD_KEY]
    app.config["SECRET_KEY"] = NEW_KEY
    rotated = _serializer(app)
    assert rotated is not first and _serializer(app) is rotated


def test_a_cookie_signed_before_a_rotation_is_read_with_the_old_key_as_fallback():
    """A cookie of the old key is read once the old key is a fallback, and refused without it."""
    cookie = _serializer(create_app(TestConfig, SECRET_KEY=OLD_KEY)).dumps({"lang": "en"})
    rotated = create_app(TestConfig, SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY])
    assert _serializer(rotated).loads(cookie) == {"lang": "en"}
    with pytest.raises(BadSignature):
        _serializer(create_app(TestConfig, SECRET_KEY=NEW_KEY)).loads(cookie)


def test_a_session_survives_between_requests(client):
    """The cookie the app sets is the one it reads back: the chosen language holds on the next page."""
    client.post("/auth/language", data={"lang": "en"})
    assert 'lang="en"' in client.get("/auth/login").get_data(as_text=True)
    client.post("/auth/language", data={"lang": "de"})
    assert 'lang="de"' in client.get("/auth/login").get_data(as_text=True)
