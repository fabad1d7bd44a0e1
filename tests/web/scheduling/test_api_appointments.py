"""``/api/appointments/`` and ``/api/appointments/suggest/`` through the Flask client with API tokens: PraxiApp's
field names and paging, 409 conflicts in the issue's shape, overrides, role rules and tenant isolation."""

import pytest

from app.appointments.models import Appointment
from tests.helpers import audit_actions, bearer
from tests.unit.scheduling.setup import TUESDAY, build, local

START = "2037-05-05T09:00:00+02:00"


@pytest.fixture
def s(practice, make_user):
    return build(practice, make_user)


@pytest.fixture
def as_role(make_user, make_token, s):
    """Headers of a token of a new user of ``role`` (the therapist role uses Anna)."""

    def headers(role):
        user = s.anna if role == "therapist" else make_user(role=role)
        return bearer(make_token(user))

    return headers


def body_for(s, **changes):
    return {"type": s.kg.id, "doctor": s.anna.id, "location": s.location.id, "start_time": START, **changes}


def test_create_get_list_and_cancel(client, s, as_role, db):
    headers = as_role("assistant")
    response = client.post("/api/appointments/", json=body_for(s, notes="Knie links"), headers=headers)
    assert response.status_code == 201, response.json
    created = response.json
    assert created == {"id": created["id"], "patient_id": None, "doctor": s.anna.id, "type": s.kg.id,
                       "location": s.location.id, "start_time": "2037-05-05T07:00+00:00",
                       "end_time": "2037-05-05T07:30+00:00", "resource_ids": [s.rooms[0].id],
                       "status": "scheduled", "source": "local", "notes": "Knie links"}
    assert response.headers["Location"].endswith(f"/api/appointments/{created['id']}/")
    assert client.get(f"/api/appointments/{created['id']}/", headers=headers).json == created
    listing = client.get("/api/appointments/?start=2037-05-05&end=2037-05-05", headers=headers).json
    assert listing["count"] == 1 and listing["next"] is None and listing["previous"] is None
    assert listing["results"] == [created]
    assert client.get("/api/appointments/?start=2037-05-06", headers=headers).json["count"] == 0
    assert client.get(f"/api/appointments/?resource={s.rooms[1].id}", headers=headers).json["count"] == 0
    assert client.delete(f"/api/appointments/{created['id']}/", headers=headers).status_code == 204
    assert client.get(f"/api/appointments/{created['id']}/", headers=headers).json["status"] == "cancelled"
    assert audit_actions(db)[-2:] == ["appointment.create", "appointment.cancel"]


def test_conflict_answers_409_in_the_issues_shape(client, s, as_role):
    headers = as_role("assistant")
    first = client.post("/api/appointments/", json=body_for(s), headers=headers).json
    response = client.post("/api/appointments/", json=body_for(s, start_time="2037-05-05T09:15:00+02:00"),
                           headers=headers)
    assert response.status_code == 409
    error = response.json["error"]
    assert error["code"] == "conflict" and error["message"]
    assert error["conflicts"] == [{"kind": "therapist_busy", "with": {"type": "appointment", "id": first["id"]},
                                   "reason": "Anna Berger hat von 05.05.2037 09:00 bis 05.05.2037 09:30 bereits "
                                             "einen Termin."}]


def test_soft_conflict_override_needs_the_permission(client, s, as_role, make_user, make_token):
    late = body_for(s, start_time="2037-05-05T18:45:00+02:00")
    therapist = client.post("/api/appointments/", json={**late, "override_reason": "Spättermin"},
                            headers=as_role("therapist"))
    assert therapist.status_code == 409
    assert {c["kind"] for c in therapist.json["error"]["conflicts"]} == {"outside_working_hours",
                                                                          "outside_opening_hours"}
    assistant = as_role("assistant")
    assert client.post("/api/appointments/", json=late, headers=assistant).status_code == 409
    response = client.post("/api/appointments/", json={**late, "override_reason": "Spättermin"}, headers=assistant)
    assert response.status_code == 201


def test_patch_moves_without_conflicting_with_itself_and_sets_status(client, s, as_role):
    headers = as_role("assistant")
    created = client.post("/api/appointments/", json=body_for(s), headers=headers).json
    moved = client.patch(f"/api/appointments/{created['id']}/", json={"start_time": "2037-05-05T09:15:00+02:00"},
                         headers=headers)
    assert moved.status_code == 200, moved.json
    assert moved.json["start_time"] == "2037-05-05T07:15+00:00"
    done = client.patch(f"/api/appointments/{created['id']}/", json={"status": "completed"}, headers=headers)
    assert done.json["status"] == "completed"
    wrong = client.patch(f"/api/appointments/{created['id']}/", json={"status": "gone"}, headers=headers)
    assert wrong.status_code == 422 and wrong.json["error"]["fields"] == {"status": "Unbekannter Status."}


@pytest.mark.parametrize(("changes", "field"), [
    ({"start_time": "2037-05-05T09:00:00+02:00", "end_time": "2037-05-05T08:00:00+02:00"}, "end_time"),
    ({"end_time": "2037-05-05T09:00:00+02:00"}, "end_time"),
    ({"type": 999}, "type"),
    ({"doctor": 999}, "doctor"),
    ({"resource_ids": [999]}, "resource_ids"),
    ({"start_time": "2037-03-29T02:30"}, "start_time"),
    ({"start_time": "nächste Woche"}, "start_time"),
    ({"colour": "rot"}, "colour"),
])
def test_bad_input_is_422_naming_the_field(client, s, as_role, changes, field):
    response = client.post("/api/appointments/", json=body_for(s, **changes), headers=as_role("assistant"))
    assert response.status_code == 422
    assert list(response.json["error"]["fields"]) == [field]
    assert response.json["error"]["message"]


def test_therapist_sees_and_changes_only_their_own(client, s, as_role, make_token):
    assistant = as_role("assistant")
    bens = client.post("/api/appointments/", json=body_for(s, doctor=s.ben.id), headers=assistant).json
    anna = as_role("therapist")
    own = client.post("/api/appointments/", json=body_for(s, start_time="2037-05-05T10:00:00+02:00",
                                                          doctor=None), headers=anna)
    assert own.status_code == 201 and own.json["doctor"] == s.anna.id
    assert [a["id"] for a in client.get("/api/appointments/", headers=anna).json["results"]] == [own.json["id"]]
    assert client.get(f"/api/appointments/{bens['id']}/", headers=anna).status_code == 404
    assert client.delete(f"/api/appointments/{bens['id']}/", headers=anna).status_code == 404
    refused = client.post("/api/appointments/", json=body_for(s, doctor=s.ben.id,
                                                              start_time="2037-05-05T11:00:00+02:00"), headers=anna)
    assert refused.status_code == 403


def test_billing_reads_but_cannot_book(client, s, as_role):
    billing = as_role("billing")
    assert client.get("/api/appointments/", headers=billing).status_code == 200
    assert client.post("/api/appointments/", json=body_for(s), headers=billing).status_code == 403


def test_other_practice_ids_are_404_and_invisible(client, s, as_role, other_practice, make_user, make_token, db):
    created = client.post("/api/appointments/", json=body_for(s), headers=as_role("assistant")).json
    outsider = bearer(make_token(make_user(role="admin", practice=other_practice)))
    assert client.get(f"/api/appointments/{created['id']}/", headers=outsider).status_code == 404
    assert client.patch(f"/api/appointments/{created['id']}/", json={"notes": "x"},
                        headers=outsider).status_code == 404
    assert client.get("/api/appointments/", headers=outsider).json["count"] == 0
    response = client.post("/api/appointments/", json=body_for(s), headers=outsider)
    assert response.status_code == 422  # the type, therapist and location are unknown there


def test_external_appointments_are_listed_read_only(client, s, as_role, db):
    db.session.add(Appointment(practice_id=s.practice.id, source="calcom", external_id="c1", therapist_id=s.anna.id,
                               starts_at=local(TUESDAY, 14), ends_at=local(TUESDAY, 15)))
    db.session.commit()
    headers = as_role("assistant")
    [external] = client.get("/api/appointments/?source=calcom", headers=headers).json["results"]
    assert external["type"] is None and external["source"] == "calcom"
    assert client.delete(f"/api/appointments/{external['id']}/", headers=headers).status_code == 422
    busy = client.post("/api/appointments/", json=body_for(s, start_time="2037-05-05T14:30:00+02:00"),
                       headers=headers)
    assert busy.status_code == 409


def test_suggest_returns_slots_with_resources_and_reasons(client, s, as_role):
    headers = as_role("assistant")
    client.post("/api/appointments/", json=body_for(s, type=s.shock.id), headers=headers)
    response = client.get(f"/api/appointments/suggest/?type={s.shock.id}&doctor={s.ben.id}&start=2037-05-05"
                          "&end=2037-05-05&limit=3", headers=headers)
    assert response.status_code == 200, response.json
    slots = response.json["results"]
    # Anna holds the device 09:00-09:15 and it is cleaned until 09:20: Ben's first slots start at 08:00.
    assert [slot["start_time"] for slot in slots] == ["2037-05-05T06:00+00:00", "2037-05-05T06:15+00:00",
                                                      "2037-05-05T06:30+00:00"]
    assert slots[0] == {"start_time": "2037-05-05T06:00+00:00", "end_time": "2037-05-05T06:15+00:00",
                        "doctor": s.ben.id, "resource_ids": [s.device.id, s.rooms[0].id],
                        "location": s.location.id}
    around = client.get(f"/api/appointments/suggest/?type={s.shock.id}&doctor={s.ben.id}"
                        "&start=2037-05-05T08:50:00%2B02:00&end=2037-05-05&limit=2", headers=headers).json
    assert [slot["start_time"] for slot in around["results"]] == ["2037-05-05T07:30+00:00",
                                                                  "2037-05-05T07:45+00:00"]
    saturday = client.get(f"/api/appointments/suggest/?type={s.kg.id}&start=2037-05-09&end=2037-05-09",
                          headers=headers).json
    assert saturday["results"] == [] and saturday["reasons"]
    missing = client.get("/api/appointments/suggest/", headers=headers)
    assert missing.status_code == 422


def test_list_costs_a_fixed_number_of_queries(client, s, as_role, sql_statements):
    headers = as_role("assistant")
    for hour in range(8, 14):
        client.post("/api/appointments/", json=body_for(s, start_time=f"2037-05-05T{hour:02d}:00:00+02:00"),
                    headers=headers)
    with sql_statements() as sent:
        assert client.get("/api/appointments/", headers=headers).json["count"] == 6
    assert len(sent) <= 8


def test_resource_calendar_lists_what_rooms_and_devices_are_booked_for(client, s, as_role):
    headers = as_role("assistant")
    booked = client.post("/api/appointments/", json=body_for(s, type=s.shock.id), headers=headers).json
    listing = client.get("/api/resource-calendar/?start=2037-05-05&end=2037-05-05", headers=headers).json
    assert listing["count"] == 2
    assert {row["resource"] for row in listing["results"]} == {s.device.id, s.rooms[0].id}
    device = [row for row in listing["results"] if row["resource"] == s.device.id][0]
    assert device == {"resource": s.device.id, "appointment_id": booked["id"],
                      "start_time": "2037-05-05T07:00+00:00", "end_time": "2037-05-05T07:20+00:00"}
    resources = client.get(f"/api/resource-calendar/resources/?start=2037-05-05&end=2037-05-05"
                           f"&location={s.location.id}", headers=as_role("billing")).json
    by_id = {resource["id"]: resource for resource in resources["results"]}
    assert len(by_id[s.device.id]["bookings"]) == 1 and by_id[s.rooms[1].id]["bookings"] == []
    assert client.get("/api/resource-calendar/?start=2037-05-05", headers=headers).status_code == 422
    too_long = client.get("/api/resource-calendar/?start=2037-05-05&end=2037-08-05", headers=headers)
    assert too_long.status_code == 422 and list(too_long.json["error"]["fields"]) == ["end"]
