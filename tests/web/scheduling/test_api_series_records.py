"""Treatment series as records: ``POST /api/series/`` stores the series with its booked units numbered 1, 2, …
in the same transaction as the bookings; ``GET /api/series/`` and ``/api/series/<id>/`` read them under the
appointments API's role rules; the patient's Termine tab shows "Einheit n von N"."""

from datetime import date

import pytest
from sqlalchemy import func, select

from app.appointments.models import Appointment
from app.scheduling.models import AppointmentDetail, AppointmentType, TreatmentSeries
from tests.helpers import audit_actions, bearer, htmx
from tests.unit.scheduling.setup import build


@pytest.fixture
def s(practice, make_user):
    return build(practice, make_user)


@pytest.fixture
def patient(make_patient):
    return make_patient()


@pytest.fixture
def as_role(make_user, make_token, s):
    """Headers of a token of a new user of ``role`` (the therapist role uses Anna)."""

    def headers(role):
        user = s.anna if role == "therapist" else make_user(role=role)
        return bearer(make_token(user))

    return headers


def series_body(s, patient, days=(5, 12, 19), doctor=None, **changes):
    doctor = doctor or s.anna
    return {"type": s.kg.id, "location": s.location.id, "patient_id": patient.id, "doctor": doctor.id,
            "units_prescribed": 10, "per_week": 1, "prescription_date": "2037-05-01", "valid_until": "2037-07-31",
            "units": [{"start_time": f"2037-05-{day:02d}T09:00:00+02:00"} for day in days], **changes}


def test_booking_records_the_series_and_numbers_its_units(client, s, patient, as_role, db):
    response = client.post("/api/series/", json=series_body(s, patient, days=(19, 5, 12)),
                           headers=as_role("assistant"))
    assert response.status_code == 201, response.json
    series = response.json
    assert response.headers["Location"].endswith(f"/api/series/{series['id']}/")
    assert {key: series[key] for key in ("patient_id", "type", "doctor", "location", "units", "per_week",
                                         "prescription_date", "valid_until", "booked", "remaining")} == {
        "patient_id": patient.id, "type": s.kg.id, "doctor": s.anna.id, "location": s.location.id, "units": 10,
        "per_week": 1, "prescription_date": "2037-05-01", "valid_until": "2037-07-31", "booked": 3,
        "remaining": 7}
    assert [(unit["unit"], unit["start_time"], unit["status"]) for unit in series["appointments"]] == [
        (1, "2037-05-05T07:00+00:00", "scheduled"), (2, "2037-05-12T07:00+00:00", "scheduled"),
        (3, "2037-05-19T07:00+00:00", "scheduled")]
    linked = db.session.scalars(select(AppointmentDetail.appointment_id).where(
        AppointmentDetail.series_id == series["id"]).order_by(AppointmentDetail.unit_number)).all()
    assert linked == [unit["id"] for unit in series["appointments"]]
    assert audit_actions(db)[-1] == "series.create"


def test_a_failed_booking_leaves_no_series(client, s, patient, as_role, db):
    headers = as_role("assistant")
    client.post("/api/appointments/", json={"type": s.kg.id, "doctor": s.anna.id, "location": s.location.id,
                                            "start_time": "2037-05-12T09:00:00+02:00"}, headers=headers)
    refused = client.post("/api/series/", json=series_body(s, patient), headers=headers)
    assert refused.status_code == 409
    nothing_fits = client.post("/api/series/", json=series_body(s, patient, days=(12,), book_partial=True),
                               headers=headers)
    assert nothing_fits.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(TreatmentSeries)) == 0
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1


@pytest.mark.parametrize(("changes", "field"), [
    ({"patient_id": None}, "patient_id"),
    ({"units_prescribed": 2}, "units"),
    ({"units_prescribed": 0}, "units_prescribed"),
    ({"valid_until": "2037-04-01"}, "valid_until"),
    ({"per_week": 0}, "per_week"),
])
def test_bad_series_records_are_refused_before_booking(client, s, patient, as_role, db, changes, field):
    response = client.post("/api/series/", json=series_body(s, patient, **changes), headers=as_role("assistant"))
    assert response.status_code == 422 and list(response.json["error"]["fields"]) == [field]
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 0


def test_list_filters_and_detail(client, s, patient, make_patient, as_role):
    headers = as_role("assistant")
    first = client.post("/api/series/", json=series_body(s, patient), headers=headers).json
    other_patient = make_patient()
    second = client.post("/api/series/", json=series_body(s, other_patient, doctor=s.ben), headers=headers).json
    listing = client.get("/api/series/", headers=headers).json
    assert listing["count"] == 2 and listing["next"] is None and listing["previous"] is None
    assert [item["id"] for item in listing["results"]] == [second["id"], first["id"]]
    assert [item["id"] for item in client.get(f"/api/series/?patient={patient.id}", headers=headers).json[
        "results"]] == [first["id"]]
    assert [item["id"] for item in client.get(f"/api/series/?doctor={s.ben.id}", headers=headers).json[
        "results"]] == [second["id"]]
    assert client.get("/api/series/?doctor=x", headers=headers).status_code == 422
    detail = client.get(f"/api/series/{first['id']}/", headers=headers)
    assert detail.status_code == 200
    assert detail.json == {key: value for key, value in first.items() if key != "skipped"}


def test_cancelled_unit_counts_as_remaining(client, s, patient, as_role):
    headers = as_role("assistant")
    series = client.post("/api/series/", json=series_body(s, patient), headers=headers).json
    assert client.delete(f"/api/appointments/{series['appointments'][1]['id']}/", headers=headers).status_code == 204
    detail = client.get(f"/api/series/{series['id']}/", headers=headers).json
    assert [unit["status"] for unit in detail["appointments"]] == ["scheduled", "cancelled", "scheduled"]
    assert detail["booked"] == 2 and detail["remaining"] == 8


def test_roles(client, s, patient, as_role):
    annas = client.post("/api/series/", json=series_body(s, patient), headers=as_role("assistant")).json
    bens = client.post("/api/series/", json=series_body(s, patient, days=(6, 13), doctor=s.ben),
                       headers=as_role("admin")).json
    therapist = as_role("therapist")
    assert [item["id"] for item in client.get("/api/series/", headers=therapist).json["results"]] == [annas["id"]]
    assert client.get(f"/api/series/{bens['id']}/", headers=therapist).status_code == 404
    billing = as_role("billing")
    assert client.get("/api/series/", headers=billing).json["count"] == 2
    assert client.get(f"/api/series/{bens['id']}/", headers=billing).status_code == 200
    assert client.post("/api/series/", json=series_body(s, patient, days=(26,)), headers=billing).status_code == 403
    foreign = client.post("/api/series/", json=series_body(s, patient, days=(26,), doctor=s.ben), headers=therapist)
    assert foreign.status_code == 422 and list(foreign.json["error"]["fields"]) == ["doctor"]
    own = client.post("/api/series/", json={**series_body(s, patient, days=(26,)), "doctor": None},
                      headers=therapist)
    assert own.status_code == 201 and own.json["doctor"] == s.anna.id  # a therapist books only for themselves


def test_another_practices_series_is_404(client, s, patient, as_role, other_practice, make_user, make_token):
    series = client.post("/api/series/", json=series_body(s, patient), headers=as_role("assistant")).json
    stranger = bearer(make_token(make_user(role="admin", practice=other_practice)))
    assert client.get(f"/api/series/{series['id']}/", headers=stranger).status_code == 404
    assert client.get("/api/series/", headers=stranger).json["count"] == 0


def test_termine_tab_shows_the_unit_of_the_series(client, s, patient, as_role, auth, db):
    series = client.post("/api/series/", json=series_body(s, patient), headers=as_role("assistant")).json
    single = client.post("/api/appointments/", json={
        "type": s.kg.id, "doctor": s.ben.id, "location": s.location.id, "patient_id": patient.id,
        "start_time": "2037-05-06T09:00:00+02:00"}, headers=as_role("assistant")).json
    auth.login(role="assistant")
    page = client.get(f"/patients/{patient.id}/termine").get_data(as_text=True)
    second = series["appointments"][1]["id"]
    assert f'id="appointment-series-unit-{second}">Einheit 2 von 10</span>' in page
    assert f"appointment-series-unit-{single['id']}" not in page


def test_a_type_a_series_refers_to_is_deactivated_not_deleted(client, s, patient, auth, db):
    db.session.add(TreatmentSeries(practice_id=s.practice.id, patient_id=patient.id, type_id=s.back.id,
                                   location_id=s.location.id, units=6, per_week=1,
                                   prescription_date=date(2037, 5, 1)))
    db.session.commit()
    auth.login("admin")
    back_id = s.back.id
    response = client.post(f"/scheduling/types/{back_id}/delete", headers=htmx("scheduling-types"))
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(AppointmentType, back_id).active is False
