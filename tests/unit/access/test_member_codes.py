"""Praxis Hub's own member codes (issue 19 item 2): signed per practice, recognised by the detector, checked at the
door without a provider call; a changed character, another practice's code or an unlinked membership opens nothing."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.access import member_codes
from app.access.adapters import UNKNOWN_KIND, detect, resolve_member_code
from app.access.checkins import check_in
from app.access.memberships import link_membership, unlink_membership
from app.access.models import Checkin
from app.integrations.models import IntegrationMetric
from tests.helpers import audit_actions

FITPASS_CODE = "FP-7Q2K9D4M"


@pytest.fixture
def membership(db, location, desk):
    """A course member's Fitpass membership at the practice."""
    return link_membership(desk, location.practice_id, "fitpass", FITPASS_CODE, member_name="Erika Muster")


def _tamper(code, position):
    """``code`` with the character at ``position`` swapped for another valid one."""
    swapped = "B" if code[position] != "B" else "C"
    return code[:position] + swapped + code[position + 1:]


def test_code_shape_and_detection(app, membership):
    code = member_codes.member_code(membership)
    prefix, number, signature = code.split(".")
    assert (prefix, number, len(signature)) == ("PH1", str(membership.id), 22)
    detected = detect(f"  {code}\r\n")
    assert (detected.provider, detected.kind, detected.external_id) == (None, member_codes.CODE_KIND,
                                                                        str(membership.id))
    assert "secret" not in repr(detected) and signature not in repr(detected)


@pytest.mark.parametrize("text", ["PH1.12.short", "PH1.0.AAAAAAAAAAAAAAAAAAAAAA", "PH2.12.AAAAAAAAAAAAAAAAAAAAAA",
                                  "PH1.12.AAAAAAAAAAAAAAAAAAAAAA.x", "ph1.12.AAAAAAAAAAAAAAAAAAAAAA",
                                  "PH1.12345678901.AAAAAAAAAAAAAAAAAAAAAA", "PH1.12.AAAAAAAAAAAAAAAAAAAAA+"])
def test_malformed_codes_are_not_member_codes(app, text):
    assert detect(text).kind != member_codes.CODE_KIND


def test_the_signature_binds_practice_and_membership(app, membership, other_practice):
    code = member_codes.member_code(membership)
    _prefix, number, signature = code.split(".")
    assert member_codes.verify(membership.practice_id, number, signature) == membership.id
    assert member_codes.verify(other_practice.id, number, signature) is None
    assert member_codes.verify(membership.practice_id, str(membership.id + 1), signature) is None
    for position in (len(code) - 1, len(code) - 10):
        assert resolve_member_code(detect(_tamper(code, position)), membership.practice_id).kind == UNKNOWN_KIND


def test_the_key_comes_from_secret_key(app, membership):
    code, original = member_codes.member_code(membership), app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "a different secret key for this test"
    try:
        assert member_codes.member_code(membership) != code
    finally:
        app.config["SECRET_KEY"] = original
    assert member_codes.member_code(membership) == code


def test_checkin_with_own_code_grants_without_provider_call(db, location, enable, desk, membership,
                                                            fitpass_server):
    enable(location, "fitpass")
    calls = len(fitpass_server.requests)
    outcome = check_in(desk, location, member_codes.member_code(membership), device="Tür 1")
    row = outcome.checkin
    assert (row.decision, row.granted, row.provider, row.code_kind) == ("allow", True, "fitpass",
                                                                        member_codes.CODE_KIND)
    assert row.membership_id == membership.id and row.member_name == "Erika Muster"
    assert len(fitpass_server.requests) == calls
    assert db.session.scalar(select(IntegrationMetric.id)) is None
    again = check_in(desk, location, member_codes.member_code(membership), now=row.created_at + timedelta(minutes=5))
    assert again.checkin.decision == "allow_reentry" and again.checkin.reentry_of_id == row.id


def test_tampered_code_is_an_unknown_code(db, location, enable, desk, membership, fitpass_server, english_messages):
    enable(location, "fitpass")
    outcome = check_in(desk, location, _tamper(member_codes.member_code(membership), -1))
    assert (outcome.checkin.decision, outcome.checkin.provider) == ("deny_unknown_code", None)
    assert str(outcome.reason) == "Unknown QR code."


def test_code_of_another_practice_opens_nothing(db, location, enable, desk, membership, make_location,
                                                other_practice):
    elsewhere = make_location("Fremdes Studio", practice=other_practice)
    enable(elsewhere, "fitpass")
    outcome = check_in(desk, elsewhere, member_codes.member_code(membership))
    assert outcome.checkin.decision == "deny_unknown_code" and not outcome.checkin.granted


def test_unlinked_membership_code_stops_working(db, location, enable, desk, membership):
    enable(location, "fitpass")
    code = member_codes.member_code(membership)
    unlink_membership(desk, membership)
    outcome = check_in(desk, location, code)
    assert outcome.checkin.decision == "deny_unknown_code" and outcome.checkin.membership_id is None
    assert db.session.scalar(select(Checkin.external_id).where(Checkin.id == outcome.checkin.id)) == str(
        membership.id)


def test_qr_image_is_inline_svg(app):
    svg = member_codes.qr_svg("PH1.1.AAAAAAAAAAAAAAAAAAAAAA")
    assert svg.startswith("<svg") and "<script" not in svg and "style=" not in svg


def test_code_page_shows_text_and_qr_and_is_audited(client, auth, db, membership, make_patient, desk, location,
                                                    other_practice, make_user):
    user = auth.login("assistant")
    response = client.get(f"/access/memberships/{membership.id}/code")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert member_codes.member_code(membership) in page and 'class="segno"' in page
    assert "access.member_code.show" in audit_actions(db, user_id=user.id)
    patient = make_patient()
    linked = link_membership(desk, location.practice_id, "wellhub", "1234567890123", patient_id=patient.id)
    tab = client.get(f"/patients/{patient.id}/mitgliedschaften").get_data(as_text=True)
    assert f'id="member-code-{linked.id}"' in tab
    unlink_membership(desk, linked)
    assert client.get(f"/access/memberships/{linked.id}/code").status_code == 404
    auth.logout()
    auth.login(user=make_user(role="admin", practice=other_practice))
    assert client.get(f"/access/memberships/{membership.id}/code").status_code == 404
    auth.logout()
    auth.login("therapist")
    assert client.get(f"/access/memberships/{membership.id}/code").status_code == 403
