"""The scheduling settings endpoints: appointment types, resources, practice and doctor hours, breaks, absences and
closures; validation with a sentence per field, role rules (admins manage, the front desk enters absences and
breaks, a therapist only their own, billing reads), deactivation instead of deletion, tenant isolation, audit."""

import pytest

from tests.helpers import audit_actions, bearer
from tests.unit.scheduling.setup import build


@pytest.fixture
def s(practice, make_user):
    return build(practice, make_user)


@pytest.fixture
def token(make_user, make_token, s):
    """Headers of a token for ``role`` (therapist: Anna)."""

    def headers(role):
        return bearer(make_token(s.anna if role == "therapist" else make_user(role=role)))

    return headers


def test_appointment_type_roundtrip_and_deactivation(client, s, token, db):
    admin = token("admin")
    body = {"name": "Fango mit KG", "duration": 45, "alternative_durations": [60], "buffer_after_room": 10,
            "buffer_after_doctor": 5, "slot_step": 15, "doctors": [s.anna.id],
            "requirements": [{"kind": "room", "count": 1, "mode": "any"}, {"resource": s.device.id}]}
    created = client.post("/api/appointment-types/", json=body, headers=admin)
    assert created.status_code == 201, created.json
    type_id = created.json["id"]
    assert created.json["requirements"] == [{"kind": "room", "resource": None, "count": 1, "mode": "any"},
                                            {"kind": None, "resource": s.device.id, "count": 1, "mode": "any"}]
    assert created.json["doctors"] == [s.anna.id] and created.json["buffer_after_room"] == 10
    changed = client.patch(f"/api/appointment-types/{type_id}/", json={"duration": 30}, headers=admin)
    assert changed.json["duration"] == 30 and changed.json["alternative_durations"] == [60]
    assert client.delete(f"/api/appointment-types/{type_id}/", headers=admin).json["active"] is False
    assert client.get(f"/api/appointment-types/{type_id}/", headers=admin).status_code == 200
    listing = client.get("/api/appointment-types/?active=true", headers=token("billing")).json
    assert type_id not in [item["id"] for item in listing["results"]] and listing["count"] == 3
    assert audit_actions(db, object_type="appointment_type") == [
        "appointment_type.create", "appointment_type.update", "appointment_type.deactivate"]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "X", "duration": 0}, "duration"),
    ({"name": "X", "duration": -5}, "duration"),
    ({"name": "", "duration": 30}, "name"),
    ({"name": "Krankengymnastik", "duration": 30}, "name"),
    ({"name": "X", "duration": 30, "colour": "blau"}, "colour"),
    ({"name": "X", "duration": 30, "doctors": [999]}, "doctors"),
    ({"name": "X", "duration": 30, "requirements": [{"kind": "room", "resource": 1}]}, "requirements"),
    ({"name": "X", "duration": 30, "requirements": [{"kind": "room", "mode": "some"}]}, "requirements"),
    ({"name": "X", "duration": 30, "dauer": 5}, "dauer"),
])
def test_bad_types_are_refused(client, s, token, body, field):
    response = client.post("/api/appointment-types/", json=body, headers=token("admin"))
    assert response.status_code == 422
    assert list(response.json["error"]["fields"]) == [field]


def test_only_admins_manage_types_and_resources(client, s, token):
    body = {"location": s.location.id, "kind": "room", "name": "Raum 3"}
    for role in ("assistant", "therapist", "billing"):
        assert client.post("/api/resources/", json=body, headers=token(role)).status_code == 403
    created = client.post("/api/resources/", json=body, headers=token("admin"))
    assert created.status_code == 201 and created.json["capacity"] == 1
    duplicate = client.post("/api/resources/", json=body, headers=token("admin"))
    assert duplicate.status_code == 422 and list(duplicate.json["error"]["fields"]) == ["name"]
    assert client.get(f"/api/resources/?kind=room&location={s.location.id}",
                      headers=token("billing")).json["count"] == 3


def test_overlapping_hours_are_refused(client, s, token):
    admin = token("admin")
    body = {"doctor": s.anna.id, "location": s.location.id, "weekday": 5, "start_time": "09:00",
            "end_time": "13:00", "valid_from": "2027-01-01"}
    assert client.post("/api/doctor-hours/", json=body, headers=admin).status_code == 201
    overlap = client.post("/api/doctor-hours/", json={**body, "start_time": "12:00", "end_time": "14:00"},
                          headers=admin)
    assert overlap.status_code == 422
    assert overlap.json["error"]["message"] == ("Diese Zeiten überschneiden sich mit Sa 09:00–13:00 "
                                                "(gültig ab 01.01.2027).")
    later = {**body, "valid_from": "2026-01-01", "valid_to": "2026-12-31"}
    assert client.post("/api/doctor-hours/", json=later, headers=admin).status_code == 201
    backwards = client.post("/api/practice-hours/", json={"location": s.location.id, "weekday": 5,
                                                          "start_time": "12:00", "end_time": "08:00",
                                                          "valid_from": "2027-01-01"}, headers=admin)
    assert backwards.status_code == 422 and list(backwards.json["error"]["fields"]) == ["end_time"]


def test_absence_lists_the_appointments_it_collides_with(client, s, token):
    assistant = token("assistant")
    booked = client.post("/api/appointments/", json={"type": s.kg.id, "doctor": s.anna.id,
                                                     "location": s.location.id,
                                                     "start_time": "2037-05-05T09:00:00+02:00"},
                         headers=assistant).json
    absence = client.post("/api/doctor-absences/", json={"doctor": s.anna.id, "start_time": "2037-05-04T00:00",
                                                         "end_time": "2037-05-09T00:00", "reason": "sickness",
                                                         "substitute": s.ben.id}, headers=assistant)
    assert absence.status_code == 201, absence.json
    [found] = absence.json["collisions"]
    assert {key: found[key] for key in ("id", "start_time", "end_time", "doctor")} == {
        "id": booked["id"], "start_time": booked["start_time"], "end_time": booked["end_time"], "doctor": s.anna.id}
    assert found["reasons"] == ["Anna Berger ist von 04.05.2037 00:00 bis 09.05.2037 00:00 abwesend (Krankheit)."]
    no_end = client.post("/api/doctor-absences/", json={"doctor": s.anna.id, "start_time": "2037-06-01T00:00",
                                                        "reason": "vacation"}, headers=assistant)
    assert no_end.status_code == 422 and list(no_end.json["error"]["fields"]) == ["end_time"]
    closure = client.post("/api/closures/", json={"resource": s.rooms[0].id, "start_time": "2037-05-05T00:00",
                                                  "end_time": "2037-05-06T00:00", "note": "Malerarbeiten"},
                          headers=token("admin"))
    assert [found["id"] for found in closure.json["collisions"]] == [booked["id"]]


def test_therapist_enters_only_their_own_breaks_and_absences(client, s, token, db):
    assistant, anna = token("assistant"), token("therapist")
    bens = client.post("/api/doctor-breaks/", json={"doctor": s.ben.id, "weekday": 1, "start_time": "12:00",
                                                    "end_time": "12:30"}, headers=assistant).json
    own = client.post("/api/doctor-breaks/", json={"doctor": s.anna.id, "weekday": 1, "start_time": "12:00",
                                                   "end_time": "12:30"}, headers=anna)
    assert own.status_code == 201
    assert [b["id"] for b in client.get("/api/doctor-breaks/", headers=anna).json["results"]] == [own.json["id"]]
    assert client.get(f"/api/doctor-breaks/{bens['id']}/", headers=anna).status_code == 404
    assert client.delete(f"/api/doctor-breaks/{bens['id']}/", headers=anna).status_code == 404
    refused = client.post("/api/doctor-absences/", json={"doctor": s.ben.id, "start_time": "2037-06-01T00:00",
                                                         "end_time": "2037-06-02T00:00", "reason": "vacation"},
                          headers=anna)
    assert refused.status_code == 422 and list(refused.json["error"]["fields"]) == ["doctor"]
    hours = {"location": s.location.id, "weekday": 5, "start_time": "09:00", "end_time": "12:00",
             "valid_from": "2037-01-01"}
    bens_hours = client.post("/api/doctor-hours/", json={**hours, "doctor": s.ben.id}, headers=anna)
    assert bens_hours.status_code == 422 and list(bens_hours.json["error"]["fields"]) == ["doctor"]
    assert client.post("/api/doctor-hours/", json={**hours, "doctor": s.anna.id}, headers=anna).status_code == 201
    assert client.delete(f"/api/doctor-breaks/{own.json['id']}/", headers=anna).json == {"collisions": []}
    both = client.post("/api/doctor-breaks/", json={"doctor": s.anna.id, "weekday": 1, "date": "2037-05-05",
                                                    "start_time": "12:00", "end_time": "12:30"}, headers=anna)
    assert both.status_code == 422


def test_another_practices_rows_are_404(client, s, token, other_practice, make_user, make_token):
    created = client.post("/api/resources/", json={"location": s.location.id, "kind": "device", "name": "Laser"},
                          headers=token("admin")).json
    outsider = bearer(make_token(make_user(role="admin", practice=other_practice)))
    assert client.get(f"/api/resources/{created['id']}/", headers=outsider).status_code == 404
    assert client.patch(f"/api/resources/{created['id']}/", json={"name": "x"}, headers=outsider).status_code == 404
    assert client.get("/api/resources/", headers=outsider).json["count"] == 0
    foreign = client.post("/api/resources/", json={"location": s.location.id, "kind": "room", "name": "R"},
                          headers=outsider)
    assert foreign.status_code == 422 and list(foreign.json["error"]["fields"]) == ["location"]


def test_anonymous_requests_are_401(client, s):
    for path in ("/api/appointments/", "/api/appointment-types/", "/api/doctor-absences/", "/api/closures/"):
        assert client.get(path).status_code == 401


def test_changed_hours_list_the_appointments_now_outside_them(client, s, token):
    assistant, admin = token("assistant"), token("admin")
    booked = client.post("/api/appointments/", json={"type": s.kg.id, "doctor": s.anna.id,
                                                     "location": s.location.id,
                                                     "start_time": "2037-05-05T09:00:00+02:00"},
                         headers=assistant).json
    rows = client.get(f"/api/doctor-hours/?doctor={s.anna.id}", headers=admin).json["results"]
    [tuesday] = [row for row in rows if row["weekday"] == 1]
    changed = client.patch(f"/api/doctor-hours/{tuesday['id']}/", json={"start_time": "12:00"}, headers=admin)
    assert changed.status_code == 200, changed.json
    assert [found["id"] for found in changed.json["collisions"]] == [booked["id"]]
    assert changed.json["collisions"][0]["reasons"] == [
        "Anna Berger arbeitet zu dieser Zeit nicht in Hauptstelle."]
    back = client.patch(f"/api/doctor-hours/{tuesday['id']}/", json={"start_time": "08:00"}, headers=admin)
    assert back.json["collisions"] == []
