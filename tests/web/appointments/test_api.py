"""GET /api/patients/<id>/appointments: the Termine tab as JSON, with the same scoping and the cache's freshness."""

from datetime import timedelta

import pytest

from app.platform.database import utcnow
from tests.appointment_data import add_appointment, add_event
from tests.helpers import bearer


def url(patient, **params):
    """The endpoint for ``patient`` with query parameters."""
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/api/patients/{patient.id}/appointments" + (f"?{query}" if query else "")


def test_upcoming_with_sync_time(client, make_user, make_token, make_patient, practice):
    """Upcoming appointments ascending with every field; synced_at is the source's last contact, not stale."""
    token = make_token(make_user(role="assistant"))
    therapist = make_user(role="therapist", name="Tina Treffer")
    patient = make_patient()
    heard = utcnow() - timedelta(hours=1)
    add_event(practice, heard)
    second = add_appointment(practice, patient, utcnow() + timedelta(days=2), source="calcom", external_id="uid-2",
                             therapist_name="Tina", therapist_id=therapist.id, service_name="Massage")
    first = add_appointment(practice, patient, utcnow() + timedelta(days=1), status="cancelled", synced_at=heard)
    add_appointment(practice, patient, utcnow() - timedelta(days=1), synced_at=heard)

    body = client.get(url(patient), headers=bearer(token)).get_json()

    assert body["patient_id"] == patient.id and body["stale"] is False
    assert [item["id"] for item in body["results"]] == [first.id, second.id]
    assert body["results"][0]["status"] == "cancelled"
    assert body["results"][1] == {
        "id": second.id, "source": "calcom", "external_id": "uid-2",
        "starts_at": second.starts_at.isoformat(), "ends_at": second.ends_at.isoformat(), "status": "scheduled",
        "therapist_name": "Tina Treffer", "therapist_id": therapist.id, "service_name": "Massage",
    }
    by_source = {sync["source"]: sync for sync in body["sources"]}
    assert by_source["booking"]["synced_at"] == heard.isoformat()
    assert body["synced_at"] == min(sync["synced_at"] for sync in body["sources"])


def test_past_and_paging(client, make_user, make_token, make_patient, practice):
    """past=1 lists earlier appointments newest first; per_page and page walk through them."""
    token = make_token(make_user())
    patient = make_patient()
    past = [add_appointment(practice, patient, utcnow() - timedelta(days=days)) for days in (1, 2, 3)]
    body = client.get(url(patient, past=1, per_page=2), headers=bearer(token)).get_json()
    assert [item["id"] for item in body["results"]] == [past[0].id, past[1].id] and body["has_more"] is True
    body = client.get(url(patient, past=1, per_page=2, page=2), headers=bearer(token)).get_json()
    assert [item["id"] for item in body["results"]] == [past[2].id] and body["has_more"] is False
    assert client.get(url(patient, page="x"), headers=bearer(token)).status_code == 400


def test_stale_after_25_hours_and_null_without_contact(client, make_user, make_token, make_patient, practice):
    """Last heard from 25 hours ago: stale; never heard from and nothing cached: synced_at null, not stale."""
    token = make_token(make_user())
    fresh = client.get(url(make_patient()), headers=bearer(token)).get_json()
    assert (fresh["synced_at"], fresh["stale"], fresh["results"]) == (None, False, [])
    patient = make_patient()
    heard = utcnow() - timedelta(hours=25)
    add_event(practice, heard)
    add_appointment(practice, patient, utcnow() + timedelta(days=1), synced_at=heard)
    body = client.get(url(patient), headers=bearer(token)).get_json()
    assert body["stale"] is True and body["synced_at"] == heard.isoformat() and len(body["results"]) == 1


def test_therapist_token_is_scoped_to_own_patients(client, make_user, make_token, make_patient, practice):
    """A therapist's token reads patients with an appointment with them; other patients are 404."""
    therapist = make_user(role="therapist")
    token = make_token(therapist)
    colleague = make_user(role="therapist")
    shared = make_patient(therapist_id=colleague.id)
    add_appointment(practice, shared, utcnow() + timedelta(days=1), therapist_id=therapist.id)
    foreign = make_patient(therapist_id=colleague.id)
    assert client.get(url(shared), headers=bearer(token)).status_code == 200
    response = client.get(url(foreign), headers=bearer(token))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("role", ["admin", "assistant", "billing"])
def test_other_practice_is_404(client, make_user, make_token, make_patient, other_practice, role):
    """Another practice's patient is indistinguishable from a missing one."""
    token = make_token(make_user(role=role))
    stranger = make_patient(practice=other_practice)
    assert client.get(url(stranger), headers=bearer(token)).status_code == 404


def test_needs_a_token(client, make_patient):
    """Without a bearer token: 401 JSON."""
    response = client.get(url(make_patient()))
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
