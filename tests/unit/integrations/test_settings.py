"""Saving a provider's settings in the Integration Hub (key check, encryption, validation, audit), the Retell key
as webhook secret, registering our Cal.com webhook, probes of that registration, the status cards, and the hooks
every registered integration supplies."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.integrations import sync as sync_service
from app.integrations.models import DEGRADED, OK, RATE_LIMITED, UNREACHABLE, IntegrationConfig
from app.integrations.service import IntegrationValidationError, register_webhook, status_cards
from app.platform.audit.models import AuditEntry
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.extensions import db as _db
from app.platform.security.actor import Actor
from app.platform.security.crypto import decrypt_secret
from app.providers import registry
from app.providers.calcom.client import BOOKING_TRIGGERS
from app.tenancy.models import Location
from app.webhooks import ingest as webhook_ingest
from app.webhooks.endpoints import endpoint_url
from app.webhooks.models import WebhookEndpoint
from tests.fakes.calcom import CalcomFake
from tests.fakes.retell import RetellFake
from tests.fakes.retell import demo_seed as retell_seed
from tests.hub_support import (
    CALCOM_KEY,
    RETELL_KEY,
    RETELL_NEW_KEY,
    config_of,
    connect,
    health_of,
    hub_overrides,
)
from tests.signers import compact, sign_retell

CONTRACTS = Path(__file__).resolve().parents[2] / "fixtures" / "contracts" / "retell"


@pytest.fixture(scope="module")
def calcom_server():
    """One Cal.com fake for the module."""
    with CalcomFake() as server:
        yield server


@pytest.fixture(scope="module")
def retell_server():
    """One Retell fake for the module; it accepts two keys, so a key change can be tried."""
    with RetellFake(valid_keys={RETELL_KEY, RETELL_NEW_KEY}, **retell_seed()) as server:
        yield server


@pytest.fixture
def calcom(calcom_server):
    """The Cal.com fake, empty (no webhooks), answering normally."""
    calcom_server.seed()
    calcom_server.reset()
    return calcom_server


@pytest.fixture
def retell(retell_server):
    """The Retell fake, answering normally."""
    retell_server.reset()
    return retell_server


@pytest.fixture
def app_overrides(calcom_server, retell_server):
    """The hub talks to the fakes."""
    return hub_overrides(calcom_server, retell_server)


pytestmark = pytest.mark.usefixtures("english_messages")


@pytest.fixture
def admin(make_user):
    """The practice's admin."""
    return make_user(role="admin")


def _configs():
    """How many integration configs are stored."""
    return _db.session.scalar(select(func.count()).select_from(IntegrationConfig))


def _endpoint(practice, source):
    """The practice's webhook endpoint for ``source``, read fresh."""
    _db.session.expire_all()
    return _db.session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.practice_id == practice.id,
                                                            WebhookEndpoint.source == source))


HOOKS = ("build_client", "check_key", "probe", "sync")
DECLARATIONS = ("LABEL", "SANDBOX_LABEL", "WEBHOOK_SOURCE", "PREREQUISITES", "SYNC_CONFIG", "SYNC_FACTS",
                "COUNT_LABELS", "PROXY_OPERATIONS", "SETTINGS", "KEY_SIGNS_WEBHOOKS", "WEBHOOK_REGISTRATION",
                "WEBHOOK_TEMPLATE", "CARD_FACTS", "MAPPINGS", "HEALTH_CHECKS")


@pytest.mark.parametrize("name", sorted(registry.INTEGRATIONS))
def test_registry_integrations_provide_the_interface(app, name):
    """Every registered integration has every hook the core asks for, in the registry's shapes."""
    module = registry.integration(name)
    assert all(callable(getattr(module, hook)) for hook in HOOKS)
    assert all(hasattr(module, declaration) for declaration in DECLARATIONS)
    assert module.WEBHOOK_SOURCE is None or module.WEBHOOK_SOURCE in registry.WEBHOOK_SOURCES
    assert all(isinstance(setting, registry.SettingField) for setting in module.SETTINGS)
    assert all((setting.clean is None) == setting.practice_setting for setting in module.SETTINGS)
    assert all(isinstance(fact, registry.CardFact) for fact in module.CARD_FACTS)
    assert all(setting.options.operation in module.PROXY_OPERATIONS for setting in module.SETTINGS if setting.options)
    assert set(module.HEALTH_CHECKS) <= {registry.BOOKING_ACTIVITY, registry.UNMATCHED_APPOINTMENTS,
                                         registry.UNMATCHED_CALLS}
    registration = module.WEBHOOK_REGISTRATION
    assert registration is None or (callable(registration.register) and not module.KEY_SIGNS_WEBHOOKS)


@pytest.mark.parametrize(("name", "field", "raw", "value"), [
    ("calcom", "team_slug", " Mein-Team ", "mein-team"),
    ("calcom", "team_slug", "", None),
    ("calcom", "default_event_type_id", "42", 42),
    ("calcom", "default_event_type_id", None, None),
    ("retell", "default_agent_id", " agent_1 ", "agent_1"),
    ("retell", "default_agent_id", "", None),
])
def test_provider_settings_are_cleaned_by_their_hooks(app, name, field, raw, value):
    """Each provider's own settings are read by the clean() its SETTINGS declare."""
    [setting] = [setting for setting in registry.integration(name).SETTINGS if setting.name == field]
    assert setting.clean(raw) == value


@pytest.mark.parametrize(("name", "field", "raw", "message"), [
    ("calcom", "team_slug", "Mein Team!", "A team slug has lower-case letters"),
    ("calcom", "default_event_type_id", "x", "Choose one of the practice's Cal.com event types."),
    ("retell", "default_agent_id", "a b", "Choose one of the account's Retell agents."),
])
def test_provider_settings_refuse_what_their_hooks_refuse(app, name, field, raw, message):
    """A value the provider's clean() refuses raises ValueError with the message for the admin."""
    [setting] = [setting for setting in registry.integration(name).SETTINGS if setting.name == field]
    with pytest.raises(ValueError, match=message):
        setting.clean(raw)


def test_a_key_the_provider_refuses_is_not_saved(app, calcom, practice, admin):
    """A wrong key is refused on the key field with the provider's reason, and nothing is stored."""
    with pytest.raises(IntegrationValidationError) as refused:
        connect(admin, "calcom", api_key="cal_live_wrong")

    assert list(refused.value.errors) == ["api_key"]
    assert "refused the API key (HTTP 401)" in refused.value.errors["api_key"]
    assert _configs() == 0 and health_of(practice, "calcom") is None
    assert _db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


@pytest.mark.parametrize(("typed", "message"), [
    ("cal_test valid", "contains spaces or line breaks"),
    ("cal_test\nvalid", "contains spaces or line breaks"),
    ("cal_test\u200bvalid", "invisible or control characters"),
    ("   \n", "Enter the API key to connect Cal.com"),
])
def test_a_mangled_key_gets_a_clear_message_without_asking_the_provider(app, calcom, admin, typed, message):
    """A key pasted with a space, a line break or an invisible character inside is refused with a message that
    says so, before any call to the provider; nothing is stored."""
    with pytest.raises(IntegrationValidationError) as refused:
        connect(admin, "calcom", api_key=typed)

    assert message in refused.value.errors["api_key"]
    assert calcom.request_count() == 0 and _configs() == 0


def test_a_valid_key_is_stored_encrypted(app, calcom, practice, admin):
    """A key pasted with surrounding blanks and a line break is cleaned, checked, stored encrypted (the column
    never holds the key) with its last four characters as hint, and the card turns ok."""
    outcome = connect(admin, "calcom", api_key=f"  {CALCOM_KEY} \n")

    assert outcome.warning is None and outcome.state == OK and "api_key" in outcome.changed
    config = config_of(practice, "calcom")
    raw = _db.session.execute(text("SELECT api_key FROM integration_configs WHERE id = :id"),
                              {"id": config.id}).scalar_one()
    assert CALCOM_KEY not in raw and decrypt_secret(raw) == CALCOM_KEY
    assert config.api_key_hint == CALCOM_KEY[-4:]
    assert health_of(practice, "calcom").state == OK
    [check] = calcom.requests
    assert check.path == "/v2/me" and check.headers["authorization"] == f"Bearer {CALCOM_KEY}"


def test_saving_with_automatic_sync_on_queues_a_sync(app, calcom, practice, admin):
    """Connecting with automatic sync on queues the first sync at once."""
    outcome = connect(admin, "calcom", sync_enabled="on")

    assert outcome.sync_queued
    assert sync_service.pending_run(practice.id, "calcom").trigger == "manual"


@pytest.mark.parametrize(("scenario", "reason", "state"), [
    ("down", "could not be reached", UNREACHABLE),
    ("500", "server error (HTTP 500)", UNREACHABLE),
    ("429", "limiting the number of requests", RATE_LIMITED),
])
def test_an_unreachable_provider_does_not_lose_the_input(app, calcom, practice, admin, scenario, reason, state):
    """When the provider cannot give a verdict (no answer, a server error, too busy), the settings are saved with
    a warning saying why and the card says unreachable, or rate-limited for a 429."""
    calcom.set_scenario(scenario)

    outcome = connect(admin, "calcom", team_slug="praxis-am-see")

    assert outcome.state == state
    assert "could not be reached to check the key" in outcome.warning and reason in outcome.warning
    config = config_of(practice, "calcom")
    assert decrypt_secret(config.api_key) == CALCOM_KEY and config.settings["team_slug"] == "praxis-am-see"
    assert health_of(practice, "calcom").state == state


@pytest.mark.parametrize(("scenario", "problem"), [
    ("html", "answered with text/html instead of JSON"),
    ("bad_shape", 'the answer should be an object with "status": "success" and "data"'),
])
def test_an_answer_that_is_not_the_api_names_the_problem(app, calcom, practice, admin, scenario, problem):
    """An HTML page (a proxy, a wrong address) or JSON of another shape is refused on the key field with what was
    wrong, and nothing is saved."""
    calcom.set_scenario(scenario)

    with pytest.raises(IntegrationValidationError) as refused:
        connect(admin, "calcom")

    assert list(refused.value.errors) == ["api_key"] and problem in refused.value.errors["api_key"]
    assert _configs() == 0


def test_an_invalid_interval_saves_nothing(app, calcom, admin):
    """An interval the hub does not offer is refused on its field; the key is not even checked."""
    with pytest.raises(IntegrationValidationError) as refused:
        connect(admin, "calcom", sync_interval_minutes="45")

    assert list(refused.value.errors) == ["sync_interval_minutes"]
    assert "15, 30, 60 or 1440" in refused.value.errors["sync_interval_minutes"]
    assert _configs() == 0 and calcom.request_count() == 0


def test_an_empty_key_keeps_the_stored_one(app, calcom, practice, admin):
    """Saving the form again without typing the key keeps the stored key and changes only what was changed,
    without asking the provider."""
    connect(admin, "calcom")
    stored = config_of(practice, "calcom").api_key
    calls = calcom.request_count()

    outcome = connect(admin, "calcom", api_key="", sync_interval_minutes="30")

    config = config_of(practice, "calcom")
    assert outcome.changed == ("sync_interval_minutes",) and outcome.warning is None
    assert config.api_key == stored and config.api_key_hint == CALCOM_KEY[-4:]
    assert config.sync_interval_minutes == 30 and calcom.request_count() == calls


def test_saving_is_audited_without_the_key(app, calcom, practice, admin):
    """Each save leaves an integration.update entry naming the provider and the changed fields, never the key."""
    connect(admin, "calcom", team_slug="praxis")
    connect(admin, "calcom", api_key="", team_slug="")

    entries = _db.session.scalars(select(AuditEntry).where(AuditEntry.action == "integration.update")
                                  .order_by(AuditEntry.id)).all()
    assert [entry.meta for entry in entries] == [
        {"provider": "calcom", "changed": ["api_key", "sync_enabled", "sync_interval_minutes", "team_slug"]},
        {"provider": "calcom", "changed": ["team_slug"]},
    ]
    assert entries[0].user_id == admin.id
    assert CALCOM_KEY not in json.dumps([entry.meta for entry in entries])


def _retell_delivery(client, endpoint, api_key, call_id, now):
    """Post a call_started event for ``call_id`` signed with ``api_key`` at ``now``; returns the status code."""
    payload = json.loads((CONTRACTS / "webhook_call_started.synthetic.json").read_text())
    payload["call"]["call_id"] = call_id
    body = compact(payload)
    headers = sign_retell(api_key, body, timestamp_ms=int(now.timestamp() * 1000))
    return client.post(f"/api/webhooks/retell/{endpoint.public_id}", data=body, headers=headers).status_code


def test_a_retell_key_change_keeps_the_previous_key_valid_for_a_day(app, client, retell, practice, admin,
                                                                    monkeypatch):
    """Retell signs webhooks with the API key: after the key is changed in the hub, calls signed with the old key
    are still accepted for WEBHOOK_PREVIOUS_SECRET_HOURS (24 h) and refused afterwards; the new key works."""
    connect(admin, "retell")
    endpoint = _endpoint(practice, "retell")
    assert decrypt_secret(endpoint.secret) == RETELL_KEY

    connect(admin, "retell", api_key=RETELL_NEW_KEY)
    endpoint = _endpoint(practice, "retell")
    assert endpoint.secret_version == 2 and decrypt_secret(endpoint.secret) == RETELL_NEW_KEY
    assert app.config["WEBHOOK_PREVIOUS_SECRET_HOURS"] == 24
    changed_at = utcnow()

    def at(moment):
        """Let the receiver believe it is ``moment``."""
        monkeypatch.setattr(webhook_ingest, "utcnow", lambda: moment)
        return moment

    now = at(changed_at + timedelta(hours=23, minutes=50))
    assert _retell_delivery(client, endpoint, RETELL_KEY, "call_old_key_in_time", now) == 200
    now = at(changed_at + timedelta(hours=24, minutes=10))
    assert _retell_delivery(client, endpoint, RETELL_KEY, "call_old_key_too_late", now) == 401
    assert _retell_delivery(client, endpoint, RETELL_NEW_KEY, "call_new_key", now) == 200


def test_saving_the_same_retell_key_again_does_not_rotate(app, retell, practice, admin):
    """Entering the same Retell key again keeps the webhook secret as it is (no rotation)."""
    connect(admin, "retell")
    connect(admin, "retell")
    assert _endpoint(practice, "retell").secret_version == 1


def test_registering_the_calcom_webhook(app, calcom, practice, admin):
    """Registering creates a webhook at Cal.com that posts our booking triggers to our endpoint, signed with the
    endpoint's secret; registering again updates that webhook (no 409, no duplicate) under a fresh secret."""
    connect(admin, "calcom")

    url = register_webhook(Actor(user=admin), practice, "calcom")

    endpoint = _endpoint(practice, "calcom")
    assert url == endpoint_url(endpoint)
    [hook] = calcom.webhooks.values()
    assert hook["subscriberUrl"] == url and hook["active"] and hook["triggers"] == list(BOOKING_TRIGGERS)
    assert hook["secret"] == decrypt_secret(endpoint.secret)
    assert config_of(practice, "calcom").settings["webhook_id"] == hook["id"]
    assert health_of(practice, "calcom").webhook_registered is True

    again = register_webhook(Actor(user=admin), practice, "calcom")

    endpoint = _endpoint(practice, "calcom")
    assert again == url and endpoint.secret_version == 2
    [updated] = calcom.webhooks.values()
    assert updated["id"] == hook["id"] and updated["secret"] == decrypt_secret(endpoint.secret)
    methods = [request.method for request in calcom.requests if request.path.startswith("/v2/webhooks")]
    assert methods == ["GET", "POST", "GET", "PATCH"]


def test_a_refused_registration_changes_nothing_here(app, calcom, practice, admin):
    """When Cal.com refuses the registration, our endpoint keeps its secret (events signed with it still verify)
    and the admin is told why."""
    connect(admin, "calcom")
    register_webhook(Actor(user=admin), practice, "calcom")
    before = _endpoint(practice, "calcom")
    secret, version = decrypt_secret(before.secret), before.secret_version
    calcom.set_scenario("401")

    with pytest.raises(ServiceError, match="Cal.com did not accept the webhook"):
        register_webhook(Actor(user=admin), practice, "calcom")

    after = _endpoint(practice, "calcom")
    assert decrypt_secret(after.secret) == secret and after.secret_version == version
    [hook] = calcom.webhooks.values()
    assert hook["secret"] == secret


def test_a_refused_first_registration_creates_no_endpoint(app, calcom, practice, admin):
    """A first registration that Cal.com refuses leaves no half-made endpoint behind."""
    connect(admin, "calcom")
    calcom.set_scenario("500")
    with pytest.raises(ServiceError, match="Cal.com did not accept the webhook"):
        register_webhook(Actor(user=admin), practice, "calcom")
    assert _endpoint(practice, "calcom") is None
    assert "webhook_id" not in config_of(practice, "calcom").settings


def test_a_probe_notices_a_webhook_deleted_at_calcom(app, calcom, practice, admin):
    """If our webhook registration disappears at Cal.com, the next probe marks the integration degraded with a
    reason that says to register it again."""
    connect(admin, "calcom")
    register_webhook(Actor(user=admin), practice, "calcom")
    assert sync_service.probe(practice.id, "calcom").state == OK
    calcom.webhooks.clear()

    row = sync_service.probe(practice.id, "calcom")

    assert row.state == DEGRADED and "no longer exists" in row.reason and row.webhook_registered is False


def test_a_probe_notices_a_default_agent_deleted_at_retell(app, retell, practice, admin):
    """A Retell default agent that no longer exists makes the probe report the integration degraded."""
    connect(admin, "retell", default_agent_id="agent_deleted_meanwhile")

    row = sync_service.probe(practice.id, "retell")

    assert row.state == DEGRADED and "default agent no longer exists" in row.reason and row.agent_count == 2


def test_status_cards_are_one_statement_and_list_what_is_missing(app, calcom, practice, admin, make_user,
                                                                sql_statements):
    """The status cards (polled every 30 s) cost one SQL statement and no provider call; each card names the
    prerequisites the practice still lacks (a location, a therapist), until they exist."""
    connect(admin, "calcom")
    calls = calcom.request_count()
    practice_id = practice.id
    with sql_statements() as sent:
        cards = {card.provider: card for card in status_cards(practice_id)}

    assert len(sent) == 1 and calcom.request_count() == calls
    assert cards["calcom"].missing == ("location", "therapist") and cards["retell"].missing == ("location",)
    assert cards["calcom"].configured and cards["calcom"].key_hint == CALCOM_KEY[-4:]
    assert cards["calcom"].health.state == OK and cards["calcom"].connected
    assert not cards["retell"].configured and cards["retell"].health.state == "unconfigured"

    _db.session.add(Location(practice_id=practice.id, name="Praxis am See"))
    _db.session.commit()
    make_user(role="therapist")
    cards = {card.provider: card for card in status_cards(practice.id)}
    assert cards["calcom"].missing == () and cards["retell"].missing == ()


def test_status_cards_show_only_the_own_practice(app, calcom, practice, other_practice, admin, make_user):
    """Another practice's connection and therapists never appear on this practice's cards."""
    connect(make_user(role="admin", practice=other_practice), "calcom")
    make_user(role="therapist", practice=other_practice)

    cards = {card.provider: card for card in status_cards(practice.id)}

    assert not cards["calcom"].configured and cards["calcom"].health.state == "unconfigured"
    assert cards["calcom"].missing == ("location", "therapist")

