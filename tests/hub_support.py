"""Helpers shared by the Integration Hub tests (service layer and JSON API): connecting a provider through the real
save flow against the fakes in tests/fakes, running the queued jobs, and the app settings that point the hub at the
fakes. Fixtures stay in the test modules; these are plain functions."""

from sqlalchemy import select

from app.integrations import service as integrations
from app.integrations.models import IntegrationConfig, ProviderHealth
from app.platform.extensions import db
from app.platform.jobs.worker import run_worker
from app.platform.security.actor import Actor
from config import TestConfig
from tests.fakes.calcom import DEFAULT_KEYS as CALCOM_KEYS
from tests.fakes.retell import DEFAULT_API_KEY as RETELL_KEY

CALCOM_KEY = next(iter(CALCOM_KEYS))
KEYS = {"calcom": CALCOM_KEY, "retell": RETELL_KEY}
# The address webhook URLs are built from: a public one, since the fakes stand in for the real providers, to which
# the hub never registers a loopback address.
PUBLIC_BASE_URL = "https://praxis.example.test"
# A second Retell key the fake accepts, for key changes.
RETELL_NEW_KEY = "key_test_rotated"


def hub_overrides(calcom_fake, retell_fake, **extra):
    """App settings that send the hub's calls to the fakes, without retries and with a short timeout, and with
    English as the default language: messages the worker stores (run errors, health reasons) are written in the
    default language, outside any request, and these tests assert their English source form."""
    return {"CALCOM_API_URL": calcom_fake.url, "RETELL_API_URL": retell_fake.url, "PROVIDER_MAX_RETRIES": 0,
            "PROVIDER_TIMEOUT_SECONDS": 1, "BABEL_DEFAULT_LOCALE": "en", "PUBLIC_BASE_URL": PUBLIC_BASE_URL, **extra}


def file_database(tmp_path):
    """Settings for a database file on SQLite (threads then get their own connections, as in production); nothing
    on PostgreSQL (TEST_DATABASE_URL), which already works that way."""
    if TestConfig.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
        return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/hub.sqlite3"}
    return {}


def connect(user, provider, api_key=None, **fields):
    """Save ``provider``'s settings for the user's practice through the hub's save flow (the key is checked at the
    fake); returns the SaveOutcome."""
    data = {"api_key": KEYS[provider] if api_key is None else api_key, "sync_interval_minutes": "60", **fields}
    return integrations.save(Actor(user=user), user.practice, provider, data)


def run_jobs(app):
    """Run every due job (and one scheduler tick) as the worker does; returns how many jobs ran."""
    return run_worker(app, "test-worker", once=True)


def config_of(practice, provider):
    """The practice's stored config of ``provider``, read fresh."""
    db.session.expire_all()
    return db.session.scalar(select(IntegrationConfig).where(
        IntegrationConfig.practice_id == practice.id, IntegrationConfig.provider == provider))


def health_of(practice, provider):
    """The practice's health row of ``provider``, read fresh (None when never written)."""
    db.session.expire_all()
    return db.session.scalar(select(ProviderHealth).where(
        ProviderHealth.practice_id == practice.id, ProviderHealth.provider == provider))
