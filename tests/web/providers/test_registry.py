"""The core names no provider: a throwaway provider, registered in app.providers.registry for one test (and gone
afterwards), gets its tab and status card in the Integration Hub, a settings form with its own field, and a webhook
source whose endpoint the webhooks admin creates and whose deliveries the receiver verifies with the throwaway's
own verify(), without any edit of the core and after the app was created."""

import hashlib
import hmac
import json
import secrets
import sys
import types

import pytest
from sqlalchemy import select
from wtforms import StringField

from app.integrations.models import IntegrationConfig
from app.platform.database import utcnow
from app.platform.jobs.queue import claim_next, run_job
from app.providers import registry
from app.providers.base import ProviderAuthError
from app.providers.events import KeyCheck, ParsedEvent, PayloadError, ProbeResult, SyncBatch
from app.providers.fields import header, hex_hmac_version
from app.webhooks.endpoints import practice_endpoints, valid_secrets
from app.webhooks.models import WebhookEvent, WebhookRejection
from tests.helpers import htmx

NAME = "throwaway"
KEY = "tw_key_valid"


class ThrowawayClient:
    """The throwaway's HTTP client: it only remembers its key (no test reaches a network)."""

    def __init__(self, api_key):
        self.api_key = api_key


def _integration():
    """The throwaway's integration module, with every hook of the registry's interface."""
    module = types.ModuleType("tests.throwaway_integration")

    def build_client(base_url, api_key, *, on_call, timeout, max_retries, deadline):
        """A client for ``api_key``."""
        return ThrowawayClient(api_key)

    def check_key(client):
        """Accept only KEY; report three widgets."""
        if client.api_key != KEY:
            raise ProviderAuthError("Throwaway refused the key.")
        return KeyCheck(account="Throwaway account", facts={"agent_count": 3})

    def clean_colour(raw):
        """A colour in lower case; ValueError for one with digits."""
        colour = (raw or "").strip().lower()
        if any(character.isdigit() for character in colour):
            raise ValueError("A colour has no digits.")
        return colour or None

    module.__dict__.update(
        LABEL="Throwaway", SANDBOX_LABEL="Throwaway (Sandbox)", WEBHOOK_SOURCE=NAME, PREREQUISITES=(),
        build_client=build_client, check_key=check_key,
        probe=lambda client, settings, webhook_url: ProbeResult(),
        sync=lambda client, settings, now, since=None: SyncBatch(counts={"widgets": 0}),
        SYNC_CONFIG={}, SYNC_FACTS={}, COUNT_LABELS={"widgets": "widgets"}, PROXY_OPERATIONS={},
        SETTINGS=(registry.SettingField("colour", StringField("Favourite colour"), clean=clean_colour),),
        KEY_SIGNS_WEBHOOKS=False, WEBHOOK_REGISTRATION=None, WEBHOOK_TEMPLATE=None,
        CARD_FACTS=(registry.CardFact("agent_count", "Widgets", "widgets"),), MAPPINGS=False, HEALTH_CHECKS=(),
    )
    return module


def _webhooks():
    """The throwaway's webhook source module: a hex HMAC of the body in ``X-Throwaway-Signature``, secrets that
    start with ``tw_``, and events that carry nothing to apply."""
    module = types.ModuleType("tests.throwaway_webhooks")

    def verify(body, headers, secrets_, now):
        """The version of the secret whose HMAC-SHA256 of ``body`` is the signature header."""
        return hex_hmac_version(secrets_, body, header(headers, "x-throwaway-signature"))

    def parse(payload, headers):
        """The event's type; nothing to apply."""
        if not isinstance(payload.get("type"), str):
            raise PayloadError("type: expected a string")
        return ParsedEvent(event_type=payload["type"], ignored="the throwaway sends nothing to apply")

    def check_secret(secret):
        """A throwaway secret starts with tw_."""
        if not secret.startswith("tw_"):
            raise ValueError("A throwaway secret starts with tw_.")

    module.__dict__.update(
        LABEL="Throwaway", verify=verify, parse=parse, check_secret=check_secret,
        delivery_id=lambda body, headers, payload: header(headers, "x-throwaway-delivery"),
        generate_secret=lambda: "tw_" + secrets.token_hex(16), SECRET_ENTRY=None, HUB_TEMPLATE=None,
    )
    return module


@pytest.fixture
def app_overrides():
    """Where the throwaway's API would be (the core reads <NAME>_API_URL, as for every provider)."""
    return {"THROWAWAY_API_URL": "https://throwaway.invalid"}


@pytest.fixture
def throwaway(app, monkeypatch):
    """Register the throwaway as an integration and a webhook source, after the app was created; monkeypatch
    removes it again when the test ends."""
    for module in (_integration(), _webhooks()):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(registry.INTEGRATIONS, NAME, "tests.throwaway_integration")
    monkeypatch.setitem(registry.WEBHOOK_SOURCES, NAME, "tests.throwaway_webhooks")
    return NAME


@pytest.fixture
def admin(client, auth):
    """A signed-in admin with the English UI."""
    user = auth.login()
    client.post("/auth/language", data={"lang": "en"})
    return user


def _sign(secret, body):
    """The throwaway's signature of ``body``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_the_hub_shows_the_throwaways_tab_and_card(client, admin, throwaway):
    """The overview lists the throwaway's tab, its card (with the fact its hooks name) and its chart; its tab has
    the settings form with the throwaway's own field and no mappings."""
    overview = client.get("/integrations/").get_data(as_text=True)
    assert 'id="hub-tab-throwaway"' in overview and 'href="/integrations/throwaway"' in overview
    assert 'id="hub-card-throwaway"' in overview and "<h2>Throwaway</h2>" in overview
    assert 'id="hub-widgets-throwaway"' in overview and 'id="hub-chart-throwaway"' in overview
    assert 'id="hub-card-calcom"' in overview and 'id="hub-tab-booking"' in overview

    tab = client.get("/integrations/throwaway").get_data(as_text=True)
    assert 'id="hub-tab-throwaway" aria-current="page"' in tab
    assert 'id="hub-settings-form-throwaway"' in tab and 'name="colour"' in tab and "Favourite colour" in tab
    assert 'id="hub-webhook-throwaway"' in tab and 'id="hub-runs-throwaway"' in tab
    assert 'id="hub-mappings"' not in tab
    status = client.get("/integrations/status?provider=throwaway", headers=htmx("hub-status"))
    assert status.status_code == 200 and 'id="hub-card-throwaway"' in status.get_data(as_text=True)


def test_the_throwaways_settings_are_cleaned_and_saved_by_its_hooks(client, admin, throwaway, db, practice):
    """Saving asks the throwaway's check_key and its field's clean(): a refused key and a bad colour are 422 with
    their messages; a good save stores the cleaned colour and the card shows the reported fact."""
    refused = client.post("/integrations/throwaway", data={"api_key": "wrong", "sync_interval_minutes": "60"},
                          headers=htmx("hub-settings-throwaway"))
    assert refused.status_code == 422 and "Throwaway refused the key." in refused.get_data(as_text=True)
    bad = client.post("/integrations/throwaway", headers=htmx("hub-settings-throwaway"),
                      data={"api_key": KEY, "sync_interval_minutes": "60", "colour": "red5"})
    assert bad.status_code == 422 and "A colour has no digits." in bad.get_data(as_text=True)

    saved = client.post("/integrations/throwaway", headers=htmx("hub-settings-throwaway"),
                        data={"api_key": KEY, "sync_interval_minutes": "60", "colour": " Teal "})

    assert saved.status_code == 200, saved.get_data(as_text=True)
    config = db.session.scalar(select(IntegrationConfig).where(IntegrationConfig.practice_id == practice.id,
                                                               IntegrationConfig.provider == NAME))
    assert config.settings == {"colour": "teal"} and config.api_key_hint == KEY[-4:]
    card = client.get("/integrations/status", headers=htmx("hub-status")).get_data(as_text=True)
    assert 'id="hub-widgets-throwaway">3<' in card


def test_the_throwaway_syncs_through_its_hook(client, admin, throwaway):
    """"Sync now" queues a run that the worker runs with the throwaway's sync(); the run's counts are named by
    the throwaway's COUNT_LABELS."""
    client.post("/integrations/throwaway", headers=htmx("hub-settings-throwaway"),
                data={"api_key": KEY, "sync_interval_minutes": "60"})
    queued = client.post("/integrations/throwaway/sync", headers=htmx("hub-runs-throwaway"))
    assert queued.status_code == 200
    while (job := claim_next("test-worker")) is not None:
        run_job(job)

    runs = client.get("/integrations/throwaway/runs", headers=htmx("hub-runs-throwaway")).get_data(as_text=True)

    assert 'data-status="succeeded"' in runs and "widgets: 0" in runs and "applied: 0" in runs


def test_the_throwaways_webhook_endpoint_is_created_and_verifies_deliveries(client, admin, throwaway, db,
                                                                             practice):
    """The webhooks admin has a card for the throwaway, refuses a secret its check_secret() refuses, creates the
    endpoint with a secret from its generate_secret(); the receiver then accepts a delivery signed with that secret
    (verified by the throwaway's verify()) and rejects one with a wrong signature."""
    assert 'id="webhook-card-throwaway"' in client.get("/webhooks/").get_data(as_text=True)
    refused = client.post("/webhooks/endpoints", data={"source": NAME, "create-throwaway-secret": "plain"},
                          headers=htmx("webhook-card-throwaway"))
    assert refused.status_code == 422 and "A throwaway secret starts with tw_." in refused.get_data(as_text=True)

    created = client.post("/webhooks/endpoints", data={"source": NAME}, headers=htmx("webhook-card-throwaway"))

    assert created.status_code == 200 and 'id="webhook-new-secret-throwaway"' in created.get_data(as_text=True)
    endpoint = practice_endpoints(practice.id)[NAME]
    [(_version, secret)] = valid_secrets(endpoint, utcnow())
    assert secret.startswith("tw_") and secret in created.get_data(as_text=True)
    url = f"/api/webhooks/throwaway/{endpoint.public_id}"
    body = json.dumps({"type": "widget.polished"}).encode()

    accepted = client.post(url, data=body, content_type="application/json",
                           headers={"X-Throwaway-Signature": _sign(secret, body), "X-Throwaway-Delivery": "d-1"})
    forged = client.post(url, data=body, content_type="application/json",
                         headers={"X-Throwaway-Signature": _sign("tw_other", body), "X-Throwaway-Delivery": "d-2"})

    assert accepted.status_code == 200 and accepted.get_json()["status"] == "ignored"
    assert forged.status_code == 401
    events = db.session.scalars(select(WebhookEvent).where(WebhookEvent.source == NAME)
                                .order_by(WebhookEvent.id)).all()
    assert [(event.delivery_id, event.outcome) for event in events] == [("d-1", "accepted")]
    [rejection] = db.session.scalars(select(WebhookRejection).where(WebhookRejection.source == NAME)).all()
    assert rejection.reason.startswith("invalid signature") and rejection.count == 1
    assert url in client.get("/integrations/throwaway").get_data(as_text=True)


def test_an_unregistered_provider_is_unknown_again(client, admin):
    """Without the registration the throwaway's URLs answer 404 and nothing lists it."""
    assert client.get("/integrations/throwaway").status_code == 404
    assert client.post("/webhooks/endpoints", data={"source": NAME}).status_code == 400
    assert client.post("/api/webhooks/throwaway/anything", json={}).status_code == 404
    assert "throwaway" not in client.get("/integrations/").get_data(as_text=True)
