"""The check-in desk: page and fragment, scanning, the result card, override and linking, per role and practice."""

import pytest
from sqlalchemy import select

from app.access.checkins import check_in
from app.access.models import Checkin, Membership
from tests.helpers import audit_actions, htmx


def access_audit(db):
    """The access actions in the audit log (sign-ins left out)."""
    return [action for action in audit_actions(db) if action.startswith("access.")]

GOOD = "FP-7Q2K9D4M"


@pytest.fixture
def ready(location, enable):
    """Fitpass enabled at the location."""
    enable(location)
    return location


def scan(client, location, code, target="checkin-desk"):
    return client.post("/access/checkin", data={"location_id": location.id, "code": code, "device": "Empfang"},
                       headers=htmx(target))


@pytest.mark.parametrize("role, status", [("admin", 200), ("assistant", 200), ("therapist", 403),
                                          ("billing", 403)])
def test_desk_by_role(client, auth, ready, role, status):
    auth.login(role)
    assert client.get("/access/checkin").status_code == status
    assert scan(client, ready, GOOD).status_code == status


def test_anonymous_htmx_is_401_with_redirect(client, ready):
    response = scan(client, ready, GOOD)
    assert response.status_code == 401 and "HX-Redirect" in response.headers


def test_page_has_an_autofocused_scan_field_and_the_fragment_swaps_the_desk(client, auth, ready):
    auth.login("assistant")
    page = client.get("/access/checkin").get_data(as_text=True)
    assert "<html" in page and 'id="checkin-desk"' in page and "autofocus" in page
    fragment = scan(client, ready, GOOD)
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and body.lstrip().startswith("<div id=\"checkin-desk\"")
    assert "HX-Request" in fragment.headers.get("Vary", "")
    assert 'data-decision="allow"' in body and "Lea Brunner" in body and "autofocus" in body
    assert 'value="FP-7Q2K9D4M"' not in body  # the field is empty again for the next scan


def test_empty_scan_is_422(client, auth, ready):
    auth.login("assistant")
    assert scan(client, ready, "").status_code == 422


def test_refused_code_shows_the_reason_and_the_providers_message(client, auth, ready, english):
    auth.login("assistant")
    body = scan(client, ready, "FP-ENDED005").get_data(as_text=True)
    assert 'data-decision="deny_expired"' in body
    assert "The membership or subscription has expired." in body and "Abonnement abgelaufen." in body


def test_unknown_code_says_unknown(client, auth, ready):
    auth.login("assistant")
    body = scan(client, ready, "kein code").get_data(as_text=True)
    assert "Unbekannter QR-Code" in body


def test_override_with_reason_is_audited(client, auth, ready, db, fitpass_server):
    auth.login("assistant")
    fitpass_server.set_scenario("down", times=1)
    scan(client, ready, GOOD)
    denied = db.session.scalar(select(Checkin))
    assert denied.decision == "error_provider_unreachable"
    missing = client.post(f"/access/checkins/{denied.id}/override", data={"override": "grant", "reason": ""},
                          headers=htmx("checkin-desk"))
    assert missing.status_code == 422
    response = client.post(f"/access/checkins/{denied.id}/override",
                           data={"override": "grant", "reason": "Karte vorgezeigt"}, headers=htmx("checkin-desk"))
    assert response.status_code == 200 and 'data-granted="true"' in response.get_data(as_text=True)
    assert access_audit(db) == ["access.checkin.grant"]


def test_link_the_scanned_member_to_a_patient(client, auth, ready, db, make_patient):
    patient = make_patient(first_name="Erika", last_name="Muster")
    auth.login("assistant")
    body = scan(client, ready, GOOD).get_data(as_text=True)
    assert 'id="link-form"' in body
    checkin = db.session.scalar(select(Checkin))
    options = client.get("/access/patients?q=Muster", headers=htmx("link-patient-options")).get_data(as_text=True)
    assert f'value="{patient.id}"' in options
    response = client.post(f"/access/checkins/{checkin.id}/link", data={"patient_id": str(patient.id)},
                           headers=htmx("checkin-desk"))
    assert response.status_code == 200 and "Erika Muster" in response.get_data(as_text=True)
    assert db.session.scalar(select(Membership.patient_id)) == patient.id
    assert access_audit(db) == ["access.membership.link"]


def test_other_practices_checkins_and_locations_are_404(client, auth, ready, make_user, other_practice, desk,
                                                        make_location):
    row = check_in(desk, ready, GOOD).checkin
    auth.login("admin", user=make_user(role="admin", practice=other_practice))
    assert client.post(f"/access/checkins/{row.id}/override", data={"override": "deny", "reason": "x"}
                       ).status_code == 404
    assert client.post(f"/access/checkins/{row.id}/link", data={"member_name": "X"}).status_code == 404
    response = client.post("/access/checkin", data={"location_id": ready.id, "code": GOOD})
    assert response.status_code == 422  # not one of this practice's locations: not a choice


def test_csrf_is_required(app, client, auth, ready):
    auth.login("assistant")
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/access/checkin", data={"location_id": ready.id, "code": GOOD}).status_code == 400


def test_linking_an_id_held_by_someone_else_names_the_holder(client, auth, ready, db, make_patient, desk):
    from app.access.memberships import link_membership

    holder = make_patient(first_name="Erika", last_name="Muster")
    auth.login("assistant")
    scan(client, ready, GOOD)
    checkin = db.session.scalar(select(Checkin))
    link_membership(desk, ready.practice_id, "fitpass", GOOD, patient_id=holder.id)  # the other desk was faster
    response = client.post(f"/access/checkins/{checkin.id}/link", data={"patient_id": str(make_patient().id)},
                           headers=htmx("checkin-desk"))
    assert response.status_code == 422
    assert "Erika Muster" in response.get_data(as_text=True)
