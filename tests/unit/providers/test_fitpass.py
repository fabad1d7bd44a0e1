"""The Fitpass access adapter against the Fitpass fake: every answer of the contract in the decision vocabulary,
and the signed compact body (the failures that must fail closed: test_access_transport)."""

import hashlib
import hmac
import json

import pytest

from app.providers.base import ProviderAuthError
from app.providers.fitpass import access as fitpass
from tests.fakes.fitpass import DEFAULT_SECRET, PARTNER_USER, SPORT_PARTNER, FitpassFake

SETTINGS = {"sport_partner": SPORT_PARTNER, "user_id": PARTNER_USER}


@pytest.fixture(scope="module")
def server():
    with FitpassFake(slow_seconds=1.0) as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh(server, app):
    server.reset()


def check(server, code, secret=DEFAULT_SECRET, settings=SETTINGS, timeout=0.5):
    return fitpass.validate(server.url, secret, settings, fitpass.parse_code(code), timeout_seconds=timeout)


@pytest.mark.parametrize("code, decision, status", [
    ("FP-7Q2K9D4M", "allow", "201"),
    ("FP-RECEPT01", "deny_unknown_member", "201"),
    ("FP-UNKNOWN9", "deny_unknown_member", "100"),
    ("FP-INACTV02", "deny_inactive", "102"),
    ("FP-NOSUBS03", "deny_expired", "103"),
    ("FP-INVALD04", "deny_expired", "104"),
    ("FP-ENDED005", "deny_expired", "105"),
    ("FP-PINACT06", "deny_inactive", "106"),
    ("FP-TWICE007", "deny_limit_reached", "107"),
])
def test_every_answer_maps_to_the_vocabulary_and_keeps_the_message(server, code, decision, status):
    result = check(server, code)
    assert (result["decision"], result["code"]) == (decision, status)
    assert result["message"]  # Fitpass' own German text for the desk


def test_a_granted_member_is_named():
    with FitpassFake() as fake:
        assert check(fake, "FP-7Q2K9D4M")["member_name"] == "Lea Brunner"


def test_wrong_sport_partner_is_status_101(server):
    result = check(server, "FP-7Q2K9D4M", settings={"sport_partner": 1, "user_id": PARTNER_USER})
    assert (result["decision"], result["code"]) == ("deny_inactive", "101")


def test_body_is_compact_json_in_contract_order_and_signed(server):
    check(server, "FP-7Q2K9D4M")
    sent = server.requests[-1]
    assert sent.path == "/api/partner-user/sport-partners/addcheck-in/"
    assert sent.body == b'{"current_checkin_code":"FP-7Q2K9D4M","sport_partner":4711,"user_id":99}'
    assert json.loads(sent.body) == {"current_checkin_code": "FP-7Q2K9D4M", "sport_partner": 4711, "user_id": 99}
    assert sent.headers["x-fitpass-signature"] == hmac.new(DEFAULT_SECRET.encode(), sent.body,
                                                          hashlib.sha256).hexdigest()


def test_wrong_secret_is_an_auth_error(server):
    with pytest.raises(ProviderAuthError):
        check(server, "FP-7Q2K9D4M", secret="wrong")
