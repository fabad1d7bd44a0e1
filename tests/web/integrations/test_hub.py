"""The Integration Hub UI (/integrations) against the Cal.com and Retell fakes (real HTTP servers): pages and tabs
per role, the status poll (no provider call, one statement), the save flow with every kind of bad input, sync runs,
mappings, webhook registration, the option lists, prerequisites, sandbox labels, tenant isolation and CSRF."""

import json

import pytest
from sqlalchemy import select

from app.integrations import metrics
from app.integrations.models import IntegrationConfig, IntegrationMapping, ProviderHealth, SyncRun
from app.platform.database import utcnow
from app.platform.jobs.queue import claim_next, run_job
from app.platform.security.crypto import decrypt_secret
from app.tenancy.models import Location
from app.webhooks.endpoints import practice_endpoints, valid_secrets
from tests.conftest import AuthActions
from tests.fakes.calcom import CalcomFake
from tests.fakes.calcom import demo_seed as calcom_demo_seed
from tests.fakes.retell import RetellFake
from tests.fakes.retell import demo_seed as retell_demo_seed
from tests.helpers import PASSWORD, audit_actions, htmx
from tests.hub_support import PUBLIC_BASE_URL

CAL_KEY = "cal_test_valid"
RETELL_KEY = "key_test_valid"
RETELL_NEW_KEY = "key_test_rotated"
PAGES = ("/integrations/", "/integrations/calcom", "/integrations/retell", "/integrations/booking")


@pytest.fixture(scope="module")
def calcom_server():
    """One Cal.com fake for the module, with the demo practice's event types and bookings."""
    fake = CalcomFake(valid_keys={CAL_KEY}, **calcom_demo_seed()).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def retell_server():
    """One Retell fake for the module, with the demo agents and calls; it accepts two keys (for a key change)."""
    fake = RetellFake(valid_keys={RETELL_KEY, RETELL_NEW_KEY}, **retell_demo_seed()).start()
    yield fake
    fake.stop()


@pytest.fixture
def calcom(calcom_server):
    """The Cal.com fake, answering normally, with an empty request log and its seeded state."""
    calcom_server.reset()
    yield calcom_server
    calcom_server.reset()


@pytest.fixture
def retell(retell_server):
    """The Retell fake, answering normally, with an empty request log."""
    retell_server.reset()
    yield retell_server
    retell_server.reset()


@pytest.fixture
def hub_sandbox():
    """Whether HUB_SANDBOX is on (a test parametrizes this to True)."""
    return False


@pytest.fixture
def csrf_enabled():
    """Whether CSRF protection is on (off like in TestConfig; the CSRF test parametrizes this to True)."""
    return False


@pytest.fixture
def app_overrides(calcom, retell, hub_sandbox, csrf_enabled):
    """Point the app at the fakes (also as the sandbox URLs), without retries and with a short timeout."""
    return {"CALCOM_API_URL": calcom.url, "RETELL_API_URL": retell.url, "SANDBOX_CALCOM_URL": calcom.url,
            "SANDBOX_RETELL_URL": retell.url, "PROVIDER_MAX_RETRIES": 0, "PROVIDER_TIMEOUT_SECONDS": 1,
            "HUB_SANDBOX": hub_sandbox, "WTF_CSRF_ENABLED": csrf_enabled, "PUBLIC_BASE_URL": PUBLIC_BASE_URL}


def _english(client):
    """Switch the session to the English UI, so messages can be checked against the msgids."""
    client.post("/auth/language", data={"lang": "en"})


@pytest.fixture
def admin(client, auth):
    """A signed-in admin with the English UI."""
    user = auth.login()
    _english(client)
    return user


@pytest.fixture
def ready(db, practice, make_user):
    """The prerequisites of both providers: a location and a therapist."""
    db.session.add(Location(practice_id=practice.id, name="Praxis Mitte"))
    db.session.commit()
    return make_user(role="therapist", name="Anna Becker", email="anna.becker@praxis-am-see.example")


def _form(provider, **fields):
    """A settings form post: automatic sync off, hourly, plus ``fields``."""
    data = {"sync_interval_minutes": "60"}
    data.update(fields)
    return data


def _save(client, provider, **fields):
    """Save a provider's settings through htmx, as the tab's form does."""
    return client.post(f"/integrations/{provider}", data=_form(provider, **fields),
                       headers=htmx(f"hub-settings-{provider}"))


def _check(client, provider, key):
    """The inline key check, as the key field sends it when it changes."""
    return client.post(f"/integrations/{provider}/check-key", data={"api_key": key}, headers=htmx("hub-key-check"))


def _config(db, practice, provider):
    """The practice's stored config of ``provider``, fresh from the database (or None)."""
    db.session.expire_all()
    return db.session.scalar(select(IntegrationConfig).where(IntegrationConfig.practice_id == practice.id,
                                                             IntegrationConfig.provider == provider))


def _health(db, practice, provider):
    """The practice's cached health row of ``provider`` (or None)."""
    db.session.expire_all()
    return db.session.scalar(select(ProviderHealth).where(ProviderHealth.practice_id == practice.id,
                                                          ProviderHealth.provider == provider))


def _trigger(response):
    """The HX-Trigger events of a response as a dict."""
    return json.loads(response.headers.get("HX-Trigger", "{}"))


def _run_jobs():
    """Run every queued job now, as the worker would."""
    while (job := claim_next("test-worker")) is not None:
        run_job(job)


# Pages and roles.

def test_admin_sees_every_tab_with_its_forms(client, admin, calcom, retell):
    """The Übersicht has a card and a chart per provider, the "Integrations" nav link and the tabs; the provider
    tabs have the settings form, the booking tab has the webhook card and loads the booking tool's event log.
    Rendering the pages calls no provider."""
    overview = client.get("/integrations/").get_data(as_text=True)
    assert 'href="/integrations/"' in overview and ">Integrations<" in overview
    for tab in ("overview", "calcom", "retell", "booking"):
        assert f'id="hub-tab-{tab}"' in overview
    for provider, label in (("calcom", "Cal.com"), ("retell", "Retell.ai")):
        assert f'id="hub-card-{provider}"' in overview and f"<h2>{label}</h2>" in overview
        assert f'id="hub-chart-{provider}"' in overview and "<svg" in overview
        assert 'data-state="unconfigured"' in overview
    assert "not configured" in overview and "no API key saved yet" in overview
    calcom_tab = client.get("/integrations/calcom").get_data(as_text=True)
    assert 'id="hub-settings-form-calcom"' in calcom_tab and 'type="password"' in calcom_tab
    assert "data-reveal" in calcom_tab and 'name="team_slug"' in calcom_tab
    assert 'name="booking_url_template"' in calcom_tab
    assert 'id="hub-runs-calcom"' in calcom_tab and 'id="hub-mappings"' in calcom_tab
    assert 'id="hub-tab-calcom" aria-current="page"' in calcom_tab
    retell_tab = client.get("/integrations/retell").get_data(as_text=True)
    assert 'id="hub-settings-form-retell"' in retell_tab and 'name="default_agent_id"' in retell_tab
    assert "The webhook URL appears here once the API key is saved." in retell_tab
    booking = client.get("/integrations/booking").get_data(as_text=True)
    assert 'id="webhook-card-booking"' in booking and 'id="webhook-create-booking"' in booking
    assert 'hx-get="/webhooks/events?source=booking"' in booking and 'id="webhook-events-table"' in booking
    assert calcom.request_count() == 0 and retell.request_count() == 0


def test_assistant_sees_the_cards_but_cannot_change_anything(client, auth, make_user, calcom, retell, db, practice):
    """integrations.view without manage: every tab renders with the cards and the saved values, but no form, no
    button and no htmx mutation; every POST is refused with 403 and nothing is saved."""
    auth.login(role="assistant")
    _english(client)
    for url in PAGES:
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert "hx-post" not in html and 'type="password"' not in html and "Sync now" not in html, url
    overview = client.get("/integrations/").get_data(as_text=True)
    assert 'id="hub-card-calcom"' in overview and 'id="hub-card-retell"' in overview
    calcom_tab = client.get("/integrations/calcom").get_data(as_text=True)
    assert 'id="hub-settings-facts-calcom"' in calcom_tab and "Only an admin can change these settings." in calcom_tab
    booking = client.get("/integrations/booking").get_data(as_text=True)
    assert 'id="hub-booking-endpoint"' in booking and "webhook-events-table" not in booking
    for url in ("/integrations/calcom", "/integrations/calcom/check-key", "/integrations/calcom/sync",
                "/integrations/calcom/webhook", "/integrations/retell", "/integrations/mappings/1"):
        assert client.post(url, data={"api_key": CAL_KEY, "sync_interval_minutes": "60"}).status_code == 403, url
    assert client.get("/integrations/calcom/options", headers=htmx("field-default_event_type_id")).status_code == 403
    assert _config(db, practice, "calcom") is None
    assert calcom.request_count() == 0


@pytest.mark.parametrize("role", ["therapist", "billing"])
def test_roles_without_integrations_view_are_refused(client, auth, role):
    """Therapists and billing see no "Integrations" link and get 403 on every hub page and fragment."""
    auth.login(role=role)
    assert "/integrations/" not in client.get("/").get_data(as_text=True)
    for url in (*PAGES, "/integrations/status", "/integrations/calcom/runs"):
        assert client.get(url, headers=htmx("hub-status")).status_code == 403, url


def test_anonymous_poll_is_sent_to_the_login_page(client):
    """An expired session answers the poll with 401 and HX-Redirect instead of swapping the login page in."""
    response = client.get("/integrations/status", headers=htmx("hub-status"))
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/auth/login")
    assert client.get("/integrations/").status_code == 302


# The status poll.

def test_status_poll_never_calls_a_provider_and_is_one_statement(client, admin, calcom, retell, ready, practice,
                                                                   sql_statements):
    """After connecting both providers, polling the status several times sends no request to either fake, and
    each poll costs one SQL statement in all: the session's user is read in the statement that reads the cards."""
    assert _save(client, "calcom", api_key=CAL_KEY).status_code == 200
    assert _save(client, "retell", api_key=RETELL_KEY).status_code == 200
    before = (calcom.request_count(), retell.request_count())
    assert before[0] > 0 and before[1] > 0

    polls = []
    for _attempt in range(3):
        with sql_statements() as sent:
            response = client.get("/integrations/status", headers=htmx("hub-status"))
        polls.append(sent)
        assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="hub-status"') and "<html" not in html
    assert 'data-poll-seconds="30"' in html and "hub-status-changed from:body" in html
    assert 'data-state="ok"' in html and "Connected" in html
    assert "HX-Request" in response.headers["Vary"]
    for poll in polls:
        assert len(poll) == 1, poll
        assert all(table in poll[0] for table in ("users", "integration_configs", "provider_health")), poll
    client.get("/integrations/")
    assert (calcom.request_count(), retell.request_count()) == before


def test_status_poll_shows_the_cards_of_the_users_own_practice(app, client, admin, calcom, make_user,
                                                              other_practice):
    """The poll finds the practice through the session's user, inside its one statement: a user of another practice
    polling at the same time sees that practice's cards (nothing configured), never this practice's connection."""
    assert _save(client, "calcom", api_key=CAL_KEY).status_code == 200
    other = app.test_client()
    AuthActions(other, make_user).login(user=make_user(practice=other_practice))

    mine = client.get("/integrations/status", headers=htmx("hub-status")).get_data(as_text=True)
    theirs = other.get("/integrations/status", headers=htmx("hub-status")).get_data(as_text=True)

    assert 'id="hub-card-calcom" data-state="ok"' in mine and "<strong>Connected</strong>" in mine
    assert 'id="hub-card-calcom" data-state="unconfigured"' in theirs and 'data-state="ok"' not in theirs


def test_status_without_htmx_goes_to_the_overview(client, admin):
    """The fragment URL opened directly leads to the page that shows it."""
    response = client.get("/integrations/status")
    assert response.status_code == 302 and response.headers["Location"].endswith("/integrations/")


def test_status_for_one_provider_has_no_actions(client, admin, calcom):
    """The provider tab's status region shows only that provider's card, without the sync button."""
    _save(client, "calcom", api_key=CAL_KEY)
    html = client.get("/integrations/status?provider=calcom", headers=htmx("hub-status")).get_data(as_text=True)
    assert 'id="hub-card-calcom"' in html and 'id="hub-card-retell"' not in html
    assert 'hx-get="/integrations/status?provider=calcom"' in html and "hub-sync-calcom" not in html
    overview = client.get("/integrations/status", headers=htmx("hub-status")).get_data(as_text=True)
    assert 'id="hub-sync-calcom"' in overview and 'id="hub-sync-retell"' not in overview


# Prerequisites.

def test_missing_prerequisites_are_listed_with_links(client, admin, db, practice, make_user):
    """Without a location and a therapist, Cal.com lists both and Retell the location, each with a link to where
    it is fixed; once they exist the lists are gone."""
    html = client.get("/integrations/").get_data(as_text=True)
    calcom_card = html.split('id="hub-card-calcom"')[1].split("</article>")[0]
    retell_card = html.split('id="hub-card-retell"')[1].split("</article>")[0]
    assert 'id="hub-missing-calcom-location"' in calcom_card and 'href="/settings/#locations"' in calcom_card
    assert 'id="hub-missing-calcom-therapist"' in calcom_card and 'href="/users/new"' in calcom_card
    assert 'id="hub-missing-retell-location"' in retell_card and "hub-missing-retell-therapist" not in retell_card
    db.session.add(Location(practice_id=practice.id, name="Praxis Mitte"))
    db.session.commit()
    make_user(role="therapist")
    assert "hub-missing-" not in client.get("/integrations/").get_data(as_text=True)


def test_prerequisites_for_the_front_desk_name_who_fixes_them(client, auth):
    """An assistant gets no links to pages they cannot open, but is told who can fix it."""
    auth.login(role="assistant")
    _english(client)
    html = client.get("/integrations/").get_data(as_text=True)
    assert "An admin adds it in the settings." in html and "An admin invites them on the users page." in html
    assert 'href="/settings/#locations"' not in html and 'href="/users/new"' not in html


# The key: inline check and save.

def test_wrong_key_is_refused_inline_and_on_save(client, admin, calcom, db, practice):
    """A key Cal.com refuses: the inline check says so (422), saving re-shows the form with the message and the
    typed values, and nothing is saved or audited."""
    checked = _check(client, "calcom", "cal_wrong_key")
    assert checked.status_code == 422 and "refused the API key" in checked.get_data(as_text=True)
    assert 'id="hub-key-check"' in checked.get_data(as_text=True)
    saved = _save(client, "calcom", api_key="cal_wrong_key", team_slug="praxis-am-see")
    html = saved.get_data(as_text=True)
    assert saved.status_code == 422 and "refused the API key" in html
    assert 'value="praxis-am-see"' in html and "cal_wrong_key" not in html
    assert _trigger(saved)["toast"]["level"] == "error"
    assert _config(db, practice, "calcom") is None
    assert audit_actions(db, action="integration.update") == []
    assert calcom.request_count("/v2/me") == 2


@pytest.mark.parametrize("key", ["cal_test valid", "cal_test\nvalid", "cal_test\u200bvalid"])
def test_key_with_inner_whitespace_gets_a_message_and_is_never_sent(client, admin, calcom, db, practice, key):
    """A key pasted with a space, a line break or an invisible character inside: a message to copy it again,
    inline and on save; the key never reaches the provider and nothing is saved."""
    checked = _check(client, "calcom", key)
    assert checked.status_code == 422
    assert "Copy it again" in checked.get_data(as_text=True)
    saved = _save(client, "calcom", api_key=key)
    assert saved.status_code == 422 and "Copy it again" in saved.get_data(as_text=True)
    assert _config(db, practice, "calcom") is None
    assert calcom.request_count() == 0


def test_right_key_is_saved_encrypted_and_never_shown(client, admin, calcom, db, practice, ready):
    """A valid key pasted with a trailing newline: the inline check names the account; saving stores it
    encrypted with a hint, audits the change, marks the card ok and tells the page to refresh; no response
    ever contains the key."""
    checked = _check(client, "calcom", CAL_KEY + "\n")
    assert checked.status_code == 200
    assert "Key accepted: Praxis am See (praxis-am-see)" in checked.get_data(as_text=True)
    saved = _save(client, "calcom", api_key=f"  {CAL_KEY}\n", team_slug="praxis-am-see",
                  booking_url_template="https://cal.example/praxis/erstgespraech")
    html = saved.get_data(as_text=True)
    assert saved.status_code == 200
    assert html.lstrip().startswith('<section id="hub-settings-calcom"') and "<html" not in html
    assert "Set, ends in …alid. Leave the field empty to keep this key." in html
    events = _trigger(saved)
    assert events["toast"] == {"level": "success", "text": "Settings saved."}
    assert {"hub-status-changed", "hub-settings-saved", "hub-runs-changed"} <= set(events)
    config = _config(db, practice, "calcom")
    assert config.api_key != CAL_KEY and CAL_KEY not in config.api_key and decrypt_secret(config.api_key) == CAL_KEY
    assert config.api_key_hint == "alid" and config.settings["team_slug"] == "praxis-am-see"
    assert practice.settings["booking_url_template"] == "https://cal.example/praxis/erstgespraech"
    assert audit_actions(db, action="integration.update") == ["integration.update"]
    assert _health(db, practice, "calcom").state == "ok"
    for response in (checked, saved, *(client.get(url) for url in PAGES),
                     client.get("/integrations/status", headers=htmx("hub-status"))):
        assert CAL_KEY not in response.get_data(as_text=True)
        assert CAL_KEY not in str(response.headers)
    page = client.get("/integrations/calcom").get_data(as_text=True)
    assert 'value="praxis-am-see"' in page and 'name="api_key" spellcheck="false" type="password" value=""' in page


def test_saving_without_a_new_key_keeps_the_stored_one(client, admin, calcom, db, practice):
    """An empty key field keeps the key; the other settings change without a new key check."""
    _save(client, "calcom", api_key=CAL_KEY)
    stored = _config(db, practice, "calcom").api_key
    checks = calcom.request_count("/v2/me")
    response = _save(client, "calcom", api_key="", team_slug="neues-team", sync_interval_minutes="1440")
    assert response.status_code == 200
    config = _config(db, practice, "calcom")
    assert config.api_key == stored and config.settings["team_slug"] == "neues-team"
    assert config.sync_interval_minutes == 1440 and calcom.request_count("/v2/me") == checks
    assert _save(client, "calcom", api_key="", team_slug="neues-team", sync_interval_minutes="1440").headers[
        "HX-Trigger"].count("Nothing changed.") == 1


def test_first_save_needs_a_key(client, admin, db, practice):
    """Without a stored key, saving with an empty key field asks for one."""
    response = _save(client, "calcom")
    assert response.status_code == 422 and "Enter the API key to connect Cal.com." in response.get_data(as_text=True)
    assert _config(db, practice, "calcom") is None


def test_unreachable_provider_keeps_the_input_with_a_warning(client, admin, calcom, db, practice):
    """Cal.com down: the settings are saved (the key encrypted) with a visible warning, the toast is a warning
    and the card shows the state unreachable with the error."""
    calcom.set_scenario("down")
    response = _save(client, "calcom", api_key=CAL_KEY, team_slug="praxis-am-see")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="hub-save-warning"' in html and "could not be reached" in html
    assert _trigger(response)["toast"]["level"] == "warning"
    config = _config(db, practice, "calcom")
    assert decrypt_secret(config.api_key) == CAL_KEY and config.settings["team_slug"] == "praxis-am-see"
    health = _health(db, practice, "calcom")
    assert health.state == "unreachable" and health.consecutive_failures == 1
    card = client.get("/integrations/status", headers=htmx("hub-status")).get_data(as_text=True)
    assert 'data-state="unreachable"' in card and "could not be reached" in card
    assert 'id="hub-failures-calcom">1<' in card


@pytest.mark.parametrize(("scenario", "message"), [
    ("html", "instead of JSON"),
    ("bad_shape", "does not understand"),
])
def test_html_or_unexpected_shape_gets_a_message(client, admin, calcom, db, practice, scenario, message):
    """An HTML page or a 200 without the documented shape is not the provider's API: the inline check and the
    save both say what is wrong, and nothing is saved (unlike an unreachable provider, which saves with a
    warning)."""
    calcom.set_scenario(scenario)
    checked = _check(client, "calcom", CAL_KEY)
    assert checked.status_code == 422 and message in checked.get_data(as_text=True)
    saved = _save(client, "calcom", api_key=CAL_KEY)
    assert saved.status_code == 422 and message in saved.get_data(as_text=True)
    assert _trigger(saved)["toast"]["level"] == "error"
    assert db.session.scalar(select(IntegrationConfig)) is None
    assert CAL_KEY not in saved.get_data(as_text=True)


@pytest.mark.parametrize("interval", ["45", "", "60; DROP TABLE", "-15"])
def test_interval_outside_the_choices_is_refused(client, admin, calcom, db, practice, interval):
    """An interval that is not 15, 30, 60 or 1440: a message naming the choices, the typed values kept, nothing
    saved and no provider call."""
    response = _save(client, "calcom", api_key=CAL_KEY, sync_interval_minutes=interval, team_slug="mein-team",
                     sync_enabled="y")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Choose an interval of 15, 30, 60 or 1440 minutes." in html and 'value="mein-team"' in html
    assert 'checked id="sync_enabled"' in html and CAL_KEY not in html
    assert _config(db, practice, "calcom") is None and calcom.request_count() == 0


def test_invalid_fields_are_all_reported(client, admin, calcom, db, practice):
    """A bad team slug, default event type and booking page URL are reported beside their fields in one answer
    (an event type that is not a number is a message, not a server error)."""
    response = _save(client, "calcom", api_key=CAL_KEY, team_slug="Mein Team!", default_event_type_id="x",
                     booking_url_template="ftp://x")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "A team slug has lower-case letters" in html
    assert "Choose one of the practice&#39;s Cal.com event types." in html
    assert 'id="team_slug-errors"' in html and 'id="booking_url_template-errors"' in html
    assert 'id="default_event_type_id-errors"' in html
    assert _config(db, practice, "calcom") is None


@pytest.mark.parametrize("agent", ["agent with spaces", "a" * 129])
def test_an_invalid_default_agent_is_refused(client, admin, retell, db, practice, agent):
    """A default agent id with whitespace or longer than 128 characters is reported beside its field."""
    response = _save(client, "retell", api_key=RETELL_KEY, default_agent_id=agent)
    assert response.status_code == 422
    assert "Choose one of the account&#39;s Retell agents." in response.get_data(as_text=True)
    assert _config(db, practice, "retell") is None


def test_save_without_htmx_redirects_with_a_flash(client, admin, calcom, db, practice):
    """A plain form post: 303 back to the tab with the message; an invalid one renders the page with 422."""
    response = client.post("/integrations/calcom", data=_form("calcom", api_key=CAL_KEY))
    assert response.status_code == 303 and response.headers["Location"].endswith("/integrations/calcom")
    assert "Settings saved." in client.get("/integrations/calcom").get_data(as_text=True)
    invalid = client.post("/integrations/calcom", data=_form("calcom", sync_interval_minutes="45"))
    assert invalid.status_code == 422 and "<html" in invalid.get_data(as_text=True)


def test_saving_with_automatic_sync_queues_a_sync(client, admin, calcom, db, practice):
    """Automatic sync on: the save queues a run and says so."""
    response = _save(client, "calcom", api_key=CAL_KEY, sync_enabled="y", sync_interval_minutes="15")
    assert _trigger(response)["toast"]["text"] == "Settings saved. A sync has been queued."
    runs = db.session.scalars(select(SyncRun).where(SyncRun.practice_id == practice.id)).all()
    assert [(run.provider, run.status) for run in runs] == [("calcom", "queued")]


# Options loaded through the proxy.

def test_event_types_and_agents_are_offered(client, admin, calcom, retell, db, practice):
    """Once a key is saved, the tab loads the default's choices through the proxy (cached): Cal.com's visible
    event types, Retell's agents; the current choice stays selected."""
    _save(client, "calcom", api_key=CAL_KEY)
    tab = client.get("/integrations/calcom").get_data(as_text=True)
    assert 'hx-get="/integrations/calcom/options"' in tab and 'hx-trigger="load"' in tab
    first = client.get("/integrations/calcom/options?selected=102", headers=htmx("field-default_event_type_id"))
    html = first.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="field-default_event_type_id"')
    assert "Erstgespräch (30 min)" in html and '<option selected value="102">Physiotherapie (45 min)' in html
    assert "Lymphdrainage" not in html
    calls = calcom.request_count("/v2/event-types")
    client.get("/integrations/calcom/options", headers=htmx("field-default_event_type_id"))
    assert calcom.request_count("/v2/event-types") == calls
    _save(client, "retell", api_key=RETELL_KEY)
    agents = client.get("/integrations/retell/options", headers=htmx("field-default_agent_id"))
    assert "Rezeption Praxis" in agents.get_data(as_text=True) and "Terminerinnerung" in agents.get_data(as_text=True)


def test_options_say_why_the_list_is_missing(client, admin, calcom, db, practice):
    """Without a key the proxy is not asked for a list and says what to do; with the provider refusing the
    stored key, the field shows the reason; a stale choice stays selectable."""
    html = client.get("/integrations/calcom/options?selected=7", headers=htmx("field-default_event_type_id"))
    text = html.get_data(as_text=True)
    assert "not connected yet: save its API key first" in text
    assert '<option selected value="7">no. 7 (current choice)' in text
    assert calcom.request_count() == 0
    _save(client, "calcom", api_key=CAL_KEY, default_event_type_id="999")
    calcom.set_scenario("401")
    refused = client.get("/integrations/calcom/options?selected=999", headers=htmx("field-default_event_type_id"))
    assert "refused the stored API key" in refused.get_data(as_text=True)
    calcom.set_scenario("ok")
    _save(client, "calcom", team_slug="neu")  # a new version of the config: the cache is not used
    stale = client.get("/integrations/calcom/options?selected=999", headers=htmx("field-default_event_type_id"))
    assert "#999 (no longer offered by Cal.com)" in stale.get_data(as_text=True)


def test_options_without_htmx_lead_to_the_tab(client, admin):
    """The options fragment opened directly redirects to its tab."""
    response = client.get("/integrations/retell/options")
    assert response.status_code == 302 and response.headers["Location"].endswith("/integrations/retell")


# Sync runs.

def test_sync_now_queues_one_run_and_the_table_follows_it(client, admin, calcom, ready, db, practice):
    """"Sync now" pressed twice queues one run; the runs table polls itself while the run waits, shows the counts
    once the worker ran it, stops polling and tells the card and mappings to refresh."""
    _save(client, "calcom", api_key=CAL_KEY)
    first = client.post("/integrations/calcom/sync", headers=htmx("hub-runs-calcom"))
    second = client.post("/integrations/calcom/sync", headers=htmx("hub-runs-calcom"))
    assert first.status_code == second.status_code == 200
    assert _trigger(first)["toast"]["text"].startswith("Sync queued.")
    assert _trigger(second)["toast"] == {"level": "info",
                                         "text": "A sync is already queued or running; it was not started twice."}
    assert "hub-status-changed" in _trigger(first)
    html = second.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="hub-runs-calcom"')
    assert 'hx-trigger="load delay:2s, hub-runs-changed from:body"' in html and "watching=1" in html
    assert 'data-status="queued"' in html and "A sync is in progress" in html
    runs = db.session.scalars(select(SyncRun).where(SyncRun.practice_id == practice.id)).all()
    assert len(runs) == 1 and runs[0].trigger == "manual" and runs[0].requested_by_id == admin.id

    _run_jobs()
    done = client.get("/integrations/calcom/runs?watching=1", headers=htmx("hub-runs-calcom"))
    html = done.get_data(as_text=True)
    assert 'data-status="succeeded"' in html and "load delay" not in html and "watching=1" not in html
    assert "bookings: 6" in html and "event types: 4" in html and "<strong>6</strong>" in html
    assert {"hub-status-changed", "hub-sync-finished"} <= set(_trigger(done))
    quiet = client.get("/integrations/calcom/runs", headers=htmx("hub-runs-calcom"))
    assert "HX-Trigger" not in quiet.headers
    card = client.get("/integrations/status", headers=htmx("hub-status")).get_data(as_text=True)
    assert "6 records" in card and 'id="hub-event-types-calcom">4<' in card
    run_page = client.get(f"/integrations/runs/{runs[0].id}").get_data(as_text=True)
    assert "succeeded" in run_page and "sync now" in run_page and "bookings" in run_page


def test_sync_now_from_the_overview_answers_with_the_cards(client, admin, calcom, db, practice):
    """The card's button swaps the status region and asks the runs table to refresh."""
    _save(client, "calcom", api_key=CAL_KEY)
    response = client.post("/integrations/calcom/sync", headers=htmx("hub-status"))
    assert response.get_data(as_text=True).lstrip().startswith('<section id="hub-status"')
    assert "hub-runs-changed" in _trigger(response)


def test_sync_now_needs_a_key(client, admin, db, practice):
    """Without a key there is nothing to sync: 422 with a message; without htmx a redirect with a flash."""
    response = client.post("/integrations/retell/sync", headers=htmx("hub-runs-retell"))
    assert response.status_code == 422
    assert _trigger(response)["toast"]["text"] == "Connect Retell.ai with an API key before syncing."
    plain = client.post("/integrations/retell/sync")
    assert plain.status_code == 303
    assert db.session.scalars(select(SyncRun)).all() == []


def test_failed_sync_is_listed_with_its_error(client, admin, calcom, db, practice):
    """A run that fails is recorded with the provider's error, shown in the table and on the card."""
    _save(client, "calcom", api_key=CAL_KEY)
    client.post("/integrations/calcom/sync", headers=htmx("hub-runs-calcom"))
    calcom.set_scenario("500")
    _run_jobs()
    html = client.get("/integrations/calcom/runs", headers=htmx("hub-runs-calcom")).get_data(as_text=True)
    assert 'data-status="failed"' in html and "(HTTP 500)" in html
    card = client.get("/integrations/status", headers=htmx("hub-status")).get_data(as_text=True)
    assert 'data-state="unreachable"' in card and "(HTTP 500)" in card


# Mappings.

def test_admin_corrects_mappings_after_a_sync(client, admin, calcom, ready, make_user, db, practice):
    """A sync lists every Cal.com user and event type with its automatic match; the admin picks another
    therapist and renames a service; the rows show "corrected", the change is audited and a sync is queued."""
    _save(client, "calcom", api_key=CAL_KEY)
    client.post("/integrations/calcom/sync", headers=htmx("hub-runs-calcom"))
    _run_jobs()
    jonas = make_user(role="therapist", name="Jonas Wolf", email="jonas.w@praxis.example")
    tab = client.get("/integrations/calcom", headers=htmx("hub-mappings")).get_data(as_text=True)
    assert tab.lstrip().startswith('<section id="hub-mappings"')
    assert "Anna Becker" in tab and "Physiotherapie" in tab and "automatic" in tab
    mappings = {(row.kind, row.external_id): row for row in db.session.scalars(
        select(IntegrationMapping).where(IntegrationMapping.practice_id == practice.id))}
    jonas_mapping = mappings[("user", "jonas.wolf@praxis-am-see.example")]
    assert jonas_mapping.user_id is None and mappings[("user", "anna.becker@praxis-am-see.example")].user_id == ready.id

    response = client.post(f"/integrations/mappings/{jonas_mapping.id}", data={"user_id": str(jonas.id)},
                           headers=htmx(f"hub-mapping-{jonas_mapping.id}"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith(f'<tr id="hub-mapping-{jonas_mapping.id}"')
    assert f'<option value="{jonas.id}" selected>Jonas Wolf</option>' in html and "corrected" in html
    assert "hub-runs-changed" in _trigger(response)
    event_type = mappings[("event_type", "102")]
    renamed = client.post(f"/integrations/mappings/{event_type.id}", data={"service_name": "Krankengymnastik"},
                          headers=htmx(f"hub-mapping-{event_type.id}"))
    assert 'value="Krankengymnastik"' in renamed.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(IntegrationMapping, jonas_mapping.id).user_id == jonas.id
    assert db.session.get(IntegrationMapping, event_type.id).service_name == "Krankengymnastik"
    assert audit_actions(db, action="integration.mapping.update") == ["integration.mapping.update"] * 2
    assert db.session.scalars(select(SyncRun).where(SyncRun.status == "queued")).all() != []


def test_mapping_to_a_foreign_user_is_refused(client, admin, calcom, ready, make_user, other_practice, db,
                                              practice):
    """A therapist of another practice cannot be chosen: 422 with the reason in the row, nothing changed."""
    _save(client, "calcom", api_key=CAL_KEY)
    client.post("/integrations/calcom/sync", headers=htmx("hub-runs-calcom"))
    _run_jobs()
    stranger = make_user(role="therapist", practice=other_practice)
    mapping = db.session.scalar(select(IntegrationMapping).where(IntegrationMapping.kind == "user"))
    response = client.post(f"/integrations/mappings/{mapping.id}", data={"user_id": str(stranger.id)},
                           headers=htmx(f"hub-mapping-{mapping.id}"))
    assert response.status_code == 422
    assert "Please choose a therapist of this practice." in response.get_data(as_text=True)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(IntegrationMapping, mapping.id).manual is False


# Tenant isolation.

def test_other_practices_runs_and_mappings_answer_404(client, admin, db, other_practice):
    """Another practice's run and mapping ids are indistinguishable from missing ones."""
    run = SyncRun(practice_id=other_practice.id, provider="calcom", trigger="manual", status="succeeded",
                  queued_at=utcnow(), details={})
    mapping = IntegrationMapping(practice_id=other_practice.id, provider="calcom", kind="user", external_id="x@y.z",
                                 external_name="X", manual=False, updated_at=utcnow())
    db.session.add_all([run, mapping])
    db.session.commit()
    assert client.get(f"/integrations/runs/{run.id}").status_code == 404
    assert client.post(f"/integrations/mappings/{mapping.id}", data={"service_name": "Y"}).status_code == 404
    assert client.get("/integrations/stripe").status_code == 404
    db.session.expire_all()
    assert db.session.get(IntegrationMapping, mapping.id).external_name == "X"


# Webhooks.

def test_register_the_calcom_webhook(client, admin, calcom, db, practice):
    """Without a key the section asks for one; with it the registration reaches Cal.com, the section shows the URL
    and "registered", and it is audited. Cal.com failing leaves a message and 422."""
    tab = client.get("/integrations/calcom").get_data(as_text=True)
    assert "Save the API key first; then the webhook can be registered here." in tab
    refused = client.post("/integrations/calcom/webhook", headers=htmx("hub-webhook-calcom"))
    assert refused.status_code == 422 and "No API key is set" in refused.get_data(as_text=True)
    _save(client, "calcom", api_key=CAL_KEY)
    response = client.post("/integrations/calcom/webhook", headers=htmx("hub-webhook-calcom"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="hub-webhook-calcom"')
    endpoint = practice_endpoints(practice.id)["calcom"]
    assert f"/api/webhooks/calcom/{endpoint.public_id}" in html and "registered" in html
    assert 'data-copy-target="hub-webhook-url-calcom"' in html
    assert calcom.request_count("/v2/webhooks") >= 2
    assert audit_actions(db, action="integration.webhook.register") == ["integration.webhook.register"]
    calcom.set_scenario("500")
    failed = client.post("/integrations/calcom/webhook", headers=htmx("hub-webhook-calcom"))
    assert failed.status_code == 422 and "did not accept the webhook" in failed.get_data(as_text=True)
    assert _trigger(failed)["toast"]["level"] == "error"


def test_retell_webhook_url_and_key_change(client, admin, retell, db, practice):
    """Saving the Retell key creates the webhook endpoint (URL with a copy button); changing the key keeps the
    previous one valid for webhook verification, and the tab says until when."""
    assert _save(client, "retell", api_key=RETELL_KEY).status_code == 200
    tab = client.get("/integrations/retell").get_data(as_text=True)
    endpoint = practice_endpoints(practice.id)["retell"]
    assert f"/api/webhooks/retell/{endpoint.public_id}" in tab and 'data-copy-target="hub-webhook-url-retell"' in tab
    assert "hub-webhook-previous-retell" not in tab
    assert _save(client, "retell", api_key=RETELL_NEW_KEY).status_code == 200
    db.session.expire_all()
    secrets = [secret for _version, secret in valid_secrets(practice_endpoints(practice.id)["retell"], utcnow())]
    assert secrets == [RETELL_NEW_KEY, RETELL_KEY]
    tab = client.get("/integrations/retell").get_data(as_text=True)
    assert 'id="hub-webhook-previous-retell"' in tab and "is still accepted for webhooks until" in tab
    assert RETELL_KEY not in tab and RETELL_NEW_KEY not in tab
    section = client.get("/integrations/retell", headers=htmx("hub-webhook-retell")).get_data(as_text=True)
    assert section.lstrip().startswith('<section id="hub-webhook-retell"')


def test_booking_tab_uses_the_webhook_card(client, admin, db, practice):
    """Creating the booking tool's endpoint from the hub's tab answers with the webhook card."""
    response = client.post("/webhooks/endpoints", data={"source": "booking"}, headers=htmx("webhook-card-booking"))
    assert response.status_code == 200
    page = client.get("/integrations/booking").get_data(as_text=True)
    endpoint = practice_endpoints(practice.id)["booking"]
    assert f"/api/webhooks/booking/{endpoint.public_id}" in page and 'id="webhook-rotate-booking"' in page


# Charts.

def test_chart_shows_the_last_24_hours(client, admin, db, practice):
    """The calls of the last 24 hours appear in the Übersicht chart: counts, error rate, mean response time and a
    bar per hour with calls; a provider without calls says so."""
    for success, duration in ((True, 100), (True, 200), (True, 300), (False, 400)):
        metrics.record(practice.id, "calcom", "bookings.list", success=success, duration_ms=duration)
    db.session.commit()
    html = client.get("/integrations/").get_data(as_text=True)
    chart = html.split('id="hub-chart-calcom"')[1].split("</figure>")[0]
    assert "4 calls in the last 24 hours" in chart and "25%" in chart.replace("\xa0", "")
    assert "mean response time 250 ms" in chart
    assert chart.count('class="chart-error"') == 1 and chart.count('class="chart-latency"') == 1
    assert chart.count('class="chart-empty"') == 2 * 23
    assert "1 of 4 calls failed" in chart and "250 ms on average" in chart
    retell_chart = html.split('id="hub-chart-retell"')[1].split("</figure>")[0]
    assert "No calls in the last 24 hours." in retell_chart and 'class="chart-error"' not in retell_chart


# Sandbox.

@pytest.mark.parametrize("hub_sandbox", [True])
def test_sandbox_labels_and_notice(client, admin, calcom, db, practice, hub_sandbox):
    """HUB_SANDBOX: every hub page carries the sandbox notice, tabs and cards say "(Sandbox)", and the sandbox
    URLs are used."""
    for url in PAGES:
        html = client.get(url).get_data(as_text=True)
        assert 'id="hub-sandbox"' in html and "cal_sandbox_demo" in html and "key_sandbox_demo" in html, url
        assert "Cal.com (Sandbox)" in html and "Retell.ai (Sandbox)" in html, url
    assert _save(client, "calcom", api_key=CAL_KEY).status_code == 200
    assert calcom.request_count("/v2/me") == 1
    assert "Cal.com (Sandbox)" in client.get("/integrations/status", headers=htmx("hub-status")).get_data(
        as_text=True)


def test_the_sandbox_keys_shown_are_the_ones_the_fakes_accept(app):
    """The keys the sandbox notice tells a newcomer to use are exactly the fakes' sandbox keys."""
    from tests.fakes import calcom as calcom_fake
    from tests.fakes import retell as retell_fake

    assert app.config["SANDBOX_CALCOM_KEY"] == calcom_fake.SANDBOX_API_KEY
    assert app.config["SANDBOX_RETELL_KEY"] == retell_fake.SANDBOX_API_KEY


def test_no_sandbox_notice_normally(client, admin):
    """Without HUB_SANDBOX there is no notice and no "(Sandbox)" label."""
    html = client.get("/integrations/").get_data(as_text=True)
    assert 'id="hub-sandbox"' not in html and "(Sandbox)" not in html


# CSRF.

@pytest.mark.parametrize("csrf_enabled", [True])
def test_posts_need_the_csrf_token(client, make_user, calcom, db, practice, csrf_enabled):
    """With CSRF on, a save or sync without the token is refused with 400; with the header htmx sends (from
    <body hx-headers>) it works."""
    admin = make_user()
    login_page = client.get("/auth/login").get_data(as_text=True)
    token = login_page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    client.post("/auth/login", data={"email": admin.email, "password": PASSWORD}, headers={"X-CSRFToken": token})
    page = client.get("/integrations/calcom").get_data(as_text=True)
    token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    assert 'name="csrf_token"' in page
    assert client.post("/integrations/calcom", data=_form("calcom", api_key=CAL_KEY),
                       headers=htmx("hub-settings-calcom")).status_code == 400
    assert client.post("/integrations/calcom/sync", headers=htmx("hub-runs-calcom")).status_code == 400
    assert _config(db, practice, "calcom") is None
    saved = client.post("/integrations/calcom", data=_form("calcom", api_key=CAL_KEY),
                        headers={**htmx("hub-settings-calcom"), "X-CSRFToken": token})
    assert saved.status_code == 200 and _config(db, practice, "calcom") is not None
