"""``/api/series/``: proposing a treatment series against availability (same therapist and time where possible,
alternatives where not, a weekly series keeping its wall-clock time across the switch to summer time) and booking
the accepted units all or none, or the ones that fit."""

import pytest
from sqlalchemy import func, select

from app.appointments.models import Appointment
from app.scheduling.models import TreatmentSeries
from tests.helpers import bearer
from tests.unit.scheduling.setup import build


@pytest.fixture
def s(practice, make_user):
    return build(practice, make_user)


@pytest.fixture
def headers(make_user, make_token, s):
    return bearer(make_token(make_user(role="assistant")))


def test_weekly_series_keeps_its_wall_clock_time_across_the_switch(client, s, headers):
    response = client.post("/api/series/propose/", json={
        "type": s.kg.id, "location": s.location.id, "doctor": s.anna.id, "units": 3, "per_week": 1,
        "first_date": "2037-03-24", "preferred_time": "09:00"}, headers=headers)
    assert response.status_code == 200, response.json
    units = response.json["units"]
    assert [unit["slot"]["start_time"] for unit in units] == [
        "2037-03-24T08:00+00:00", "2037-03-31T07:00+00:00", "2037-04-07T07:00+00:00"]
    assert not any(unit["moved"] or unit["warnings"] for unit in units)


def test_busy_preferred_time_is_moved_with_conflicts_and_alternatives(client, s, headers):
    client.post("/api/appointments/", json={"type": s.kg.id, "doctor": s.anna.id, "location": s.location.id,
                                            "start_time": "2037-05-12T09:00:00+02:00"}, headers=headers)
    units = client.post("/api/series/propose/", json={
        "type": s.kg.id, "location": s.location.id, "doctor": s.anna.id, "units": 2, "per_week": 1,
        "first_date": "2037-05-05", "preferred_time": "09:00", "valid_until": "2037-05-09"},
        headers=headers).json["units"]
    assert units[0]["slot"]["start_time"] == "2037-05-05T07:00+00:00" and not units[0]["moved"]
    assert units[1]["moved"] and units[1]["conflicts"][0]["kind"] == "therapist_busy"
    assert units[1]["slot"]["start_time"] == "2037-05-12T06:00+00:00"  # the first free slot that day
    assert units[1]["alternatives"]
    assert units[1]["warnings"] == ["Diese Einheit liegt nach der Gültigkeit der Verordnung (09.05.2037)."]


def test_series_is_booked_whole_or_not_at_all(client, s, headers, db, make_patient):
    client.post("/api/appointments/", json={"type": s.kg.id, "doctor": s.anna.id, "location": s.location.id,
                                            "start_time": "2037-05-12T09:00:00+02:00"}, headers=headers)
    units = [{"start_time": f"2037-05-{day:02d}T09:00:00+02:00", "doctor": s.anna.id} for day in (5, 12, 19)]
    body = {"type": s.kg.id, "location": s.location.id, "units": units, "patient_id": make_patient().id}
    refused = client.post("/api/series/", json=body, headers=headers)
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "conflict"
    assert [unit["index"] for unit in refused.json["error"]["units"]] == [1]
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1
    assert db.session.scalar(select(func.count()).select_from(TreatmentSeries)) == 0
    partial = client.post("/api/series/", json={**body, "book_partial": True}, headers=headers)
    assert partial.status_code == 201
    assert partial.json["booked"] == 2 and [s["index"] for s in partial.json["skipped"]] == [1]
    assert partial.json["units"] == 3 and partial.json["remaining"] == 1
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 3


@pytest.mark.parametrize(("changes", "field"), [
    ({"units": 0}, "units"),
    ({"per_week": 9}, "per_week"),
    ({"first_date": "bald"}, "first_date"),
    ({"type": 999}, "type"),
])
def test_bad_series_input(client, s, headers, changes, field):
    body = {"type": s.kg.id, "location": s.location.id, "units": 3, "per_week": 2, "first_date": "2037-05-05",
            **changes}
    response = client.post("/api/series/propose/", json=body, headers=headers)
    assert response.status_code == 422 and list(response.json["error"]["fields"]) == [field]
    assert client.post("/api/series/", json={"type": s.kg.id, "location": s.location.id, "units": []},
                       headers=headers).status_code == 422
