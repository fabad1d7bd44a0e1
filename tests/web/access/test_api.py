"""The access JSON API: a door terminal checks in, lists the log and memberships, links memberships."""

import pytest

from tests.helpers import bearer


@pytest.fixture
def token(make_user, make_token):
    return make_token(make_user(role="assistant"), name="Tür Studio Mitte")


def test_door_terminal_checks_in(client, location, enable, token, fitpass_server):
    enable(location)
    response = client.post("/api/access/checkins", json={"location": location.id, "code": "FP-7Q2K9D4M",
                                                         "device": "Tür 1"}, headers=bearer(token))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["decision"], body["provider"], body["reentry"], body["granted"]) == ("allow", "fitpass", False, True)
    assert body["processing_ms"] >= 0 and body["reason"]
    again = client.post("/api/access/checkins", json={"location": location.id, "code": "FP-7Q2K9D4M"},
                        headers=bearer(token)).get_json()
    assert again["duplicate"] is True and again["checkin"] == body["checkin"]


@pytest.mark.parametrize("payload, status", [({"location": "1", "code": "x"}, 400), ({"code": "x"}, 400),
                                             ({"location": 1, "code": ""}, 400), ({"location": 1}, 400),
                                             ({"location": 1, "code": "x", "device": 5}, 400)])
def test_bad_checkin_requests(client, location, token, payload, status):
    assert client.post("/api/access/checkins", json=payload, headers=bearer(token)).status_code == status


def test_another_practices_location_is_404(client, location, enable, make_user, make_token, other_practice):
    enable(location)
    stranger = make_token(make_user(role="admin", practice=other_practice))
    response = client.post("/api/access/checkins", json={"location": location.id, "code": "FP-7Q2K9D4M"},
                           headers=bearer(stranger))
    assert response.status_code == 404


@pytest.mark.parametrize("role, status", [("therapist", 403), ("billing", 403)])
def test_roles_without_access_validate(client, location, make_user, make_token, role, status):
    token = make_token(make_user(role=role))
    assert client.post("/api/access/checkins", json={"location": location.id, "code": "x"},
                       headers=bearer(token)).status_code == status
    assert client.get("/api/access/checkins", headers=bearer(token)).status_code == status


def test_list_checkins_and_filter(client, location, enable, token):
    enable(location)
    for code in ("FP-7Q2K9D4M", "garbage"):
        client.post("/api/access/checkins", json={"location": location.id, "code": code}, headers=bearer(token))
    listed = client.get("/api/access/checkins", headers=bearer(token)).get_json()
    assert listed["count"] == 2
    denied = client.get("/api/access/checkins?decision=deny_unknown_code", headers=bearer(token)).get_json()
    assert [row["decision"] for row in denied["results"]] == ["deny_unknown_code"]
    assert client.get("/api/access/checkins?decision=nope", headers=bearer(token)).status_code == 400


def test_link_and_list_memberships(client, token, make_patient):
    patient = make_patient(first_name="Erika", last_name="Muster")
    created = client.post("/api/access/memberships", json={"provider": "wellhub", "external_id": "1234567890123",
                                                           "patient_id": patient.id}, headers=bearer(token))
    assert created.status_code == 201 and created.get_json()["name"] == "Erika Muster"
    taken = client.post("/api/access/memberships", json={"provider": "wellhub", "external_id": "1234567890123",
                                                         "member_name": "Jemand"}, headers=bearer(token))
    assert taken.status_code == 409 and "Erika Muster" in taken.get_json()["error"]["message"]
    assert client.post("/api/access/memberships", json={"provider": "x", "external_id": "1"},
                       headers=bearer(token)).status_code == 422
    listed = client.get("/api/access/memberships?provider=wellhub", headers=bearer(token)).get_json()
    assert [row["external_id"] for row in listed["results"]] == ["1234567890123"]


def test_stats(client, location, enable, token, make_user, make_token):
    enable(location)
    client.post("/api/access/checkins", json={"location": location.id, "code": "FP-7Q2K9D4M"}, headers=bearer(token))
    [group] = client.get("/api/access/stats", headers=bearer(token)).get_json()["results"]
    assert (group["provider"], group["month"], group["success_rate"], len(group["trend"])) == ("fitpass", 1, 1.0, 30)
    billing = make_token(make_user(role="billing"))
    assert client.get("/api/access/stats", headers=bearer(billing)).status_code == 200


def test_locations_with_their_providers(client, location, make_location, enable, token, other_practice):
    enable(location, "fitpass")
    enable(location, "wellhub")
    make_location("Studio Nord")
    make_location("Fremd", practice=other_practice)
    listed = client.get("/api/locations/", headers=bearer(token)).get_json()["results"]
    assert [(row["name"], row["access_providers"]) for row in listed] == [("Studio Mitte", ["fitpass", "wellhub"]),
                                                                           ("Studio Nord", [])]
