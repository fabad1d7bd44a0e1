"""The Integration Hub's tab per access provider (issue 19 item 1): status, success rate and response time from the
calls the door check-ins recorded, the 24-hour chart, the locations where it is enabled, no provider call."""

import pytest

from app.access.checkins import check_in
from app.integrations import metrics
from app.integrations.access_tab import access_card
from app.integrations.models import AUTH_FAILED, DEGRADED, OK, UNCONFIGURED, UNREACHABLE
from app.platform.extensions import db as _db
from app.providers.registry import ACCESS_PROVIDERS
from tests.unit.access import conftest as access_fixtures

# The access tests' fixtures (fakes, a location, providers enabled there).
desk = access_fixtures.desk
enable = access_fixtures.enable
fitpass_server = access_fixtures.fitpass_server
friction_server = access_fixtures.friction_server
location = access_fixtures.location
make_location = access_fixtures.make_location
wellhub_server = access_fixtures.wellhub_server


def _calls(practice, provider, *results):
    """Record one metric row per (success, status, duration) in ``results``, oldest first."""
    for success, status, duration in results:
        metrics.record(practice.id, provider, "checkin", success=success, duration_ms=duration, status_code=status,
                       error=None if success else "ProviderTimeout")
    _db.session.commit()


def test_every_access_provider_has_a_tab(client, auth):
    auth.login("assistant")
    page = client.get("/integrations/").get_data(as_text=True)
    for name in ACCESS_PROVIDERS:
        assert f'id="hub-tab-access-{name}"' in page
    assert client.get("/integrations/access/nope").status_code == 404


def test_tab_shows_status_metrics_and_locations_after_a_real_checkin(client, auth, location, enable, desk,
                                                                     fitpass_server):
    enable(location, "fitpass", reentry_value=2)
    check_in(desk, location, "FP-7Q2K9D4M")
    requests_before = len(fitpass_server.requests)
    auth.login("admin")
    response = client.get("/integrations/access/fitpass")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert len(fitpass_server.requests) == requests_before  # the page called no provider
    assert 'id="hub-state-fitpass"' in page and 'data-state="ok"' in page
    assert 'id="hub-access-calls-fitpass">1<' in page
    assert 'id="hub-chart-fitpass"' in page and "<svg" in page
    assert f'id="hub-access-location-{location.id}"' in page and "Studio Mitte" in page
    assert 'id="hub-access-settings-fitpass"' in page and 'aria-current="page"' in page


def test_assistant_sees_no_settings_link_and_therapist_no_tab(client, auth, location, enable):
    enable(location, "wellhub")
    auth.login("assistant")
    page = client.get("/integrations/access/wellhub").get_data(as_text=True)
    assert 'id="hub-access-settings-wellhub"' not in page and "Studio Mitte" in page
    auth.logout()
    auth.login("therapist")
    assert client.get("/integrations/access/wellhub").status_code == 403


def test_locations_of_another_practice_stay_invisible(client, auth, make_location, enable, other_practice):
    enable(make_location("Fremdes Studio", practice=other_practice), "friction")
    auth.login("admin")
    page = client.get("/integrations/access/friction").get_data(as_text=True)
    assert "Fremdes Studio" not in page and 'id="hub-access-no-locations"' in page
    assert 'data-state="unconfigured"' in page


@pytest.mark.parametrize("results, state, streak", [
    ([(True, 201, 120), (True, 400, 90)], OK, 0),
    ([(True, 201, 120), (False, None, 1000)], UNREACHABLE, 1),
    ([(False, 401, 50), (False, 401, 60)], AUTH_FAILED, 2),
    ([(False, None, 900)] + [(True, 201, 100)] * 9, DEGRADED, 0),
])
def test_card_state_from_recorded_calls(app, practice, location, enable, results, state, streak):
    enable(location, "fitpass")
    _calls(practice, "fitpass", *results)
    card = access_card(practice.id, "fitpass")
    assert (card.state, card.consecutive_failures, card.calls) == (state, streak, len(results))
    assert card.enabled_count == 1 and card.locations[0].name == "Studio Mitte"


def test_card_without_enabled_location_is_unconfigured(app, practice, location, enable):
    enable(location, "fitpass", active=False)
    card = access_card(practice.id, "fitpass")
    assert card.state == UNCONFIGURED and card.success_rate is None and card.reason
