"""The Wellhub access adapter against the Wellhub fake: every answer in the decision vocabulary, the bearer token
and gym id (the failures that must fail closed: test_access_transport)."""

import pytest

from app.providers.base import ProviderAuthError
from app.providers.wellhub import access as wellhub
from tests.fakes.wellhub import DEFAULT_TOKEN, GYM_ID, WellhubFake

SETTINGS = {"gym_id": GYM_ID}


@pytest.fixture(scope="module")
def server():
    with WellhubFake(slow_seconds=1.0) as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh(server, app):
    server.reset()


def check(server, gympass_id, token=DEFAULT_TOKEN, settings=SETTINGS, timeout=0.5):
    return wellhub.validate(server.url, token, settings, wellhub.parse_code(gympass_id), timeout_seconds=timeout)


@pytest.mark.parametrize("gympass_id, decision, key", [
    ("1234567890123", "allow", "validated"),
    ("9999999999999", "deny_not_checked_in_app", "checkin.validation.notfound"),
    ("2345678901234", "deny_not_checked_in_app", "checkin.validation.canceled"),
    ("3456789012345", "deny_not_checked_in_app", "checkin.validation.expired"),
])
def test_every_answer_maps_to_the_vocabulary(server, gympass_id, decision, key):
    result = check(server, gympass_id)
    assert (result["decision"], result["code"]) == (decision, key)


def test_success_names_the_member_and_sends_token_and_gym(server):
    assert check(server, "1234567890123")["member_name"] == "Paula Lang"
    sent = server.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {DEFAULT_TOKEN}"
    assert sent.headers["x-gym-id"] == str(GYM_ID)
    assert sent.json == {"gympass_id": "1234567890123"}


@pytest.mark.parametrize("token, settings", [("wrong", SETTINGS), (DEFAULT_TOKEN, {"gym_id": 1})])
def test_wrong_token_or_gym_is_an_auth_error(server, token, settings):
    with pytest.raises(ProviderAuthError):
        check(server, "1234567890123", token=token, settings=settings)
