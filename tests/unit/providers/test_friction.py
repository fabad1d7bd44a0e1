"""The Friction access adapter against the Friction fake: every answer in the decision vocabulary (the double
check-in protection is a re-entry, not a refusal) and the security code sent only to Friction (the failures:
test_access_transport)."""

import pytest

from app.providers.friction import access as friction
from tests.fakes.friction import DEMO_MEMBERS, PARTNER_ID, FrictionFake, vcard

SETTINGS = {"partner_id": PARTNER_ID}


@pytest.fixture(scope="module")
def server():
    with FrictionFake(slow_seconds=1.0) as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh(server, app):
    server.reset()


def check(server, user_id, code=None, settings=SETTINGS, timeout=0.5):
    code = code or DEMO_MEMBERS.get(user_id, {}).get("security_code", "00000000-0000-4000-8000-000000000000")
    scanned = friction.parse_code(vcard(user_id, code))
    return friction.validate(server.url, None, settings, scanned, timeout_seconds=timeout)


@pytest.mark.parametrize("user_id, decision", [
    ("100234", "allow"),
    ("100235", "allow_reentry"),  # "Doppelcheckin Schutz ist aktiv"
    ("100236", "deny_inactive"),
    ("100237", "deny_expired"),
    ("999999", "deny_unknown_member"),  # "QR Code ist ungültig oder kein Internet!"
])
def test_every_answer_maps_to_the_vocabulary(server, user_id, decision):
    assert check(server, user_id)["decision"] == decision


def test_success_names_the_member_and_sends_the_contract_body(server):
    result = check(server, "100234")
    assert result["member_name"] == "Anna Zürcher"
    assert server.requests[-1].json == {"user_id": "100234", "partner_id": PARTNER_ID,
                                        "security_code": DEMO_MEMBERS["100234"]["security_code"]}


def test_refusals_keep_the_providers_message(server):
    assert check(server, "100235")["message"] == "Doppelcheckin Schutz ist aktiv"
    assert "ungültig" in check(server, "100234", code="11111111-1111-4111-8111-111111111111")["message"]


def test_wrong_partner_id_is_a_refusal_not_a_grant(server):
    assert check(server, "100234", settings={"partner_id": 1})["decision"] == "deny_unknown_member"
