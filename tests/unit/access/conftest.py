"""Fixtures of the access tests: the provider fakes, a location, providers enabled there, an acting desk user."""

import pytest

from app.access.models import AccessProvider
from app.platform.security.actor import Actor
from app.platform.security.crypto import encrypt_secret
from app.tenancy.models import Location
from tests.fakes import fitpass, friction, wellhub


@pytest.fixture(scope="module")
def fitpass_server():
    """The Fitpass fake for the module ("slow" waits 1.5 s)."""
    with fitpass.FitpassFake(slow_seconds=1.5) as fake:
        yield fake


@pytest.fixture(scope="module")
def friction_server():
    """The Friction fake for the module."""
    with friction.FrictionFake(slow_seconds=1.5) as fake:
        yield fake


@pytest.fixture(scope="module")
def wellhub_server():
    """The Wellhub fake for the module."""
    with wellhub.WellhubFake(slow_seconds=1.5) as fake:
        yield fake


@pytest.fixture
def make_location(db, practice):
    """Factory: a location of ``practice``."""

    def make(name="Studio Mitte", practice=practice):
        location = Location(practice_id=practice.id, name=name)
        db.session.add(location)
        db.session.commit()
        return location

    return make


@pytest.fixture
def location(make_location):
    """The location the desk checks people in at."""
    return make_location()


@pytest.fixture
def enable(db, fitpass_server, friction_server, wellhub_server):
    """Factory: enable ``provider`` at a location against its fake (fresh scenario and request log)."""
    servers = {"fitpass": (fitpass_server, fitpass.DEFAULT_SECRET,
                           {"sport_partner": fitpass.SPORT_PARTNER, "user_id": fitpass.PARTNER_USER}),
               "friction": (friction_server, None, {"partner_id": friction.PARTNER_ID}),
               "wellhub": (wellhub_server, wellhub.DEFAULT_TOKEN, {"gym_id": wellhub.GYM_ID})}

    def make(location, provider="fitpass", **fields):
        server, secret, settings = servers[provider]
        server.reset()
        fields.setdefault("timeout_ms", 1000)
        config = AccessProvider(practice_id=location.practice_id, location_id=location.id, provider=provider,
                                base_url=server.url, secret=encrypt_secret(secret) if secret else None,
                                secret_hint=secret[-4:] if secret else None, settings=settings, **fields)
        db.session.add(config)
        db.session.commit()
        return config

    return make


@pytest.fixture
def desk(make_user):
    """The Actor of an assistant at the desk."""
    return Actor(make_user(role="assistant"), ip="127.0.0.1", user_agent="pytest")
