"""The patients JSON API: list, detail, create, update, import; scoping and validation as in the UI."""

import json

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.patients.models import Patient
from tests.helpers import bearer


def test_list_is_paginated_and_filtered(client, make_user, make_token, make_patient):
    """GET /api/patients answers count/next/previous/results and honours filters."""
    token = make_token(make_user(role="billing"))
    for number in range(30):
        make_patient(last_name=f"Liste{number:02d}", email=f"p{number}@example.test")
    first = client.get("/api/patients?per_page=20", headers=bearer(token)).get_json()
    assert first["count"] == 30 and len(first["results"]) == 20 and first["previous"] is None
    second = client.get(first["next"], headers=bearer(token)).get_json()
    assert len(second["results"]) == 10 and second["next"] is None and second["previous"]
    one = client.get("/api/patients?email=P7@EXAMPLE.TEST", headers=bearer(token)).get_json()
    assert [p["last_name"] for p in one["results"]] == ["Liste07"]
    assert client.get("/api/patients?page=x", headers=bearer(token)).status_code == 400


def test_therapist_token_sees_only_own(client, make_user, make_token, make_patient):
    """A therapist's token lists only their patients and gets 404 for others."""
    therapist = make_user(role="therapist")
    token = make_token(therapist)
    own = make_patient(therapist_id=therapist.id)
    other = make_patient()
    ids = [p["id"] for p in client.get("/api/patients", headers=bearer(token)).get_json()["results"]]
    assert ids == [own.id]
    assert client.get(f"/api/patients/{other.id}", headers=bearer(token)).status_code == 404


def test_other_practice_is_404(client, make_user, make_token, make_patient, other_practice):
    """Ids of another practice answer 404 for read and write."""
    token = make_token(make_user())
    stranger = make_patient(practice=other_practice)
    assert client.get(f"/api/patients/{stranger.id}", headers=bearer(token)).status_code == 404
    assert client.patch(f"/api/patients/{stranger.id}", json={"last_name": "X"},
                        headers=bearer(token)).status_code == 404


def test_create_and_patch(client, make_user, make_token, db):
    """POST creates with the shared rules (201 + Location), PATCH changes only the given fields."""
    token = make_token(make_user(role="assistant"))
    created = client.post("/api/patients", json={"first_name": "Jana", "last_name": "Jäger", "phone": "0170 1234567",
                                                 "birth_date": "1988-08-08"}, headers=bearer(token))
    assert created.status_code == 201
    body = created.get_json()
    assert body["phone"] == "+491701234567" and created.headers["Location"] == f"/api/patients/{body['id']}"
    patched = client.patch(f"/api/patients/{body['id']}", json={"email": "jana@example.test"}, headers=bearer(token))
    assert patched.status_code == 200
    assert patched.get_json()["email"] == "jana@example.test" and patched.get_json()["phone"] == "+491701234567"


def test_validation_errors_are_per_field(client, make_user, make_token, db):
    """Invalid input answers 422 naming each field; nothing is stored."""
    token = make_token(make_user())
    response = client.post("/api/patients", json={"first_name": "", "last_name": "X", "email": "x@",
                                                  "birth_date": "2999-01-01"}, headers=bearer(token))
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"first_name", "email", "birth_date"}
    assert db.session.scalar(select(Patient)) is None


def test_bad_bodies(client, make_user, make_token):
    """Not JSON → 415, malformed → 400, wrong type → 400, unknown field → 422, read-only field → 422."""
    token = make_token(make_user())
    headers = bearer(token)
    assert client.post("/api/patients", data="x", headers=headers).status_code == 415
    assert client.post("/api/patients", data="{", content_type="application/json", headers=headers).status_code == 400
    assert client.post("/api/patients", json=[1], headers=headers).status_code == 400
    unknown = client.post("/api/patients", json={"first_name": "A", "last_name": "B", "nmae": "x"}, headers=headers)
    assert unknown.status_code == 422 and "nmae" in unknown.get_json()["error"]["message"]


def test_permissions(client, make_user, make_token, make_patient):
    """Billing may read but not write or import."""
    token = make_token(make_user(role="billing"))
    patient = make_patient()
    assert client.get(f"/api/patients/{patient.id}", headers=bearer(token)).status_code == 200
    assert client.post("/api/patients", json={}, headers=bearer(token)).status_code == 403
    assert client.patch(f"/api/patients/{patient.id}", json={}, headers=bearer(token)).status_code == 403
    assert client.post("/api/patients/import", json=[], headers=bearer(token)).status_code == 403


def test_import_dry_run_writes_nothing_then_import(client, make_user, make_token, db):
    """The API import answers with the report; dry_run stores nothing, the real run creates the patients."""
    token = make_token(make_user())
    records = [{"first_name": "Kai", "last_name": "Kern", "email": "kai@example.test", "patient_id": "B-9"},
               {"first_name": "", "last_name": "Ohne"}]
    dry = client.post("/api/patients/import", json={"patients": records, "dry_run": True}, headers=bearer(token))
    assert dry.status_code == 200
    assert dry.get_json()["counts"]["create"] == 1 and dry.get_json()["counts"]["invalid"] == 1
    assert db.session.scalar(select(Patient)) is None
    rejected = client.post("/api/patients/import", json=records, headers=bearer(token))
    assert rejected.status_code == 422 and rejected.get_json()["status"] == "rejected"
    assert db.session.scalar(select(Patient)) is None
    real = client.post("/api/patients/import?valid_only=1", json=records, headers=bearer(token))
    assert real.status_code == 200
    patient = db.session.scalar(select(Patient))
    assert (patient.first_name, patient.booking_system_id) == ("Kai", "B-9")
    again = client.post("/api/patients/import", json=records[:1], headers=bearer(token)).get_json()
    assert again["counts"]["unchanged"] == 1
    assert client.post("/api/patients/import", json=[], headers=bearer(token)).status_code == 422


HOSTILE_BODIES = [
    ('{"first_name": ' + "[" * 1000 + "]" * 1000 + "}", "more than 32 levels deep"),
    ('{"first_name": ' + '{"a":' * 950 + "1" + "}" * 950 + "}", "more than 32 levels deep"),
    ('{"first_name": "A", "last_name": "B", "therapist_id": ' + "9" * 5000 + "}", "longer than 40 characters"),
    ('{"first_name": "A", "last_name": "B", "therapist_id": 1e999}', "too large"),
    ('{"first_name": "A\\u0000", "last_name": "B"}', "NUL"),
    ('{"first_name": "\\ud800", "last_name": "B"}', "surrogate"),
    ('{"first_name": NaN}', "not valid JSON"),
]


@pytest.mark.parametrize(("body", "message"), HOSTILE_BODIES)
@pytest.mark.parametrize("path", ["/api/patients", "/api/patients/import"])
def test_hostile_json_answers_400_with_a_reason(client, make_user, make_token, db, english, path, body, message):
    """Bodies that made the JSON reading (or the database) fail with a 500: a 400 naming what is wrong."""
    token = make_token(make_user())
    data = body if path == "/api/patients" else "[" + body + "]"

    response = client.post(path, data=data, content_type="application/json", headers=bearer(token))

    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "malformed_json"
    assert message in response.get_json()["error"]["message"]
    assert db.session.scalar(select(Patient)) is None


@pytest.mark.parametrize(("body", "fields"), [
    ({"first_name": True, "last_name": "B", "birth_date": 19800402}, {"first_name", "birth_date"}),
    ({"first_name": "A", "last_name": "B", "email": {"value": "a@b.de"}, "phone": [1]}, {"email", "phone"}),
    ({"first_name": {"a": [1]}, "last_name": "B"}, {"first_name"}),
    ({"first_name": "A", "last_name": "B", "therapist_id": 99999999999999999999}, {"therapist_id"}),
    ({"first_name": "A", "last_name": "B", "therapist_id": "7"}, {"therapist_id"}),
    ({"first_name": "A", "last_name": "B", "booking_system_id": 5}, {"booking_system_id"}),
])
def test_fields_of_the_wrong_json_type_answer_422_naming_them(client, make_user, make_token, db, english, body,
                                                              fields):
    """A number, object or list where text belongs, or an id no column holds: 422 per field (these were 500s, or
    a dict stored as a name), for create and update alike."""
    token = make_token(make_user())
    patient = client.post("/api/patients", json={"first_name": "Kai", "last_name": "Kern"}, headers=bearer(token))

    created = client.post("/api/patients", json=body, headers=bearer(token))
    updated = client.patch(f"/api/patients/{patient.get_json()['id']}", json=body, headers=bearer(token))

    for response in (created, updated):
        assert response.status_code == 422, response.get_data(as_text=True)
        assert set(response.get_json()["error"]["fields"]) == fields
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
patient_bodies = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(("first_name", "last_name", "email", "phone", "birth_date", "booking_system_id",
                                     "therapist_id")), json_values, max_size=7),
)


def test_generated_bodies_never_cause_a_5xx(client, make_user, make_token):
    """Any JSON value (and the odd non-JSON Python writes, such as NaN) posted to create or import patients gets
    a 2xx or 4xx answer, never a 500."""
    headers = bearer(make_token(make_user()))

    @seed(15)
    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=patient_bodies, path=st.sampled_from(("/api/patients", "/api/patients/import")))
    def post(body, path):
        data = json.dumps(body if path == "/api/patients" else [body])
        response = client.post(path, data=data, content_type="application/json", headers=headers)
        assert response.status_code < 500, (path, data[:300], response.get_data(as_text=True)[:300])

    post()
