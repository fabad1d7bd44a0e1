"""The patients JSON API checks for likely duplicates as the forms do (issue 17, item 3): 409 listing them unless
the body confirms with ``create_anyway`` and a reason (audited); every patient it returns says whether its phone
number needs a person's check (item 4)."""

from datetime import date

import pytest
from sqlalchemy import func, select

from app.patients.models import Patient
from app.platform.audit.models import AuditEntry
from tests.helpers import bearer

ANNA = {"first_name": "Anna", "last_name": "Schäfer", "birth_date": "1980-03-12"}


@pytest.fixture
def anna(make_patient):
    return make_patient(first_name="Anna", last_name="Schäfer", birth_date=date(1980, 3, 12),
                        email="anna@example.de", email_normalized="anna@example.de", phone="+491701112233")


@pytest.fixture
def headers(make_user, make_token):
    return bearer(make_token(make_user(role="assistant")))


def _count(db):
    return db.session.scalar(select(func.count()).select_from(Patient))


def _audit(db, action):
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


@pytest.mark.parametrize("body", [
    ANNA,
    {"first_name": "Anne", "last_name": "Neu", "email": "ANNA@example.de"},
    {"first_name": "Bernd", "last_name": "Neu", "phone": "0170 1112233"},
])
def test_create_refuses_a_likely_duplicate_with_409(client, db, headers, anna, english, body):
    response = client.post("/api/patients", json=body, headers=headers)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "duplicate" and "create_anyway" in error["message"]
    assert [(entry["id"], entry["name"]) for entry in error["duplicates"]] == [(anna.id, "Anna Schäfer")]
    assert error["duplicates"][0]["reasons"]
    assert _count(db) == 1


def test_create_anyway_with_a_reason_is_saved_and_audited(client, db, headers, anna):
    response = client.post("/api/patients", json={**ANNA, "create_anyway": True, "reason": "Zwillingsschwester"},
                           headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert _count(db) == 2
    (entry,) = _audit(db, "patient.create")
    assert entry.meta == {"duplicates": [anna.id], "reason": "Zwillingsschwester"}


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_create_anyway_without_a_reason_answers_422_on_reason(client, db, headers, anna, reason):
    body = {**ANNA, "create_anyway": True} if reason is None else {**ANNA, "create_anyway": True, "reason": reason}
    response = client.post("/api/patients", json=body, headers=headers)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["fields"] == {"reason": "Bitte geben Sie einen Grund an, warum Sie diese Person trotzdem speichern."}
    assert [entry["id"] for entry in error["duplicates"]] == [anna.id]
    assert _count(db) == 1


def test_a_reason_without_create_anyway_is_not_a_confirmation(client, db, headers, anna):
    response = client.post("/api/patients", json={**ANNA, "create_anyway": False, "reason": "Zwilling"},
                           headers=headers)
    assert response.status_code == 409 and _count(db) == 1


@pytest.mark.parametrize("value", ["true", 1, None, [True]])
def test_create_anyway_must_be_a_boolean(client, headers, anna, english, value):
    response = client.post("/api/patients", json={**ANNA, "create_anyway": value, "reason": "x"}, headers=headers)
    if value is None:  # null is "not confirmed", like leaving it out
        assert response.status_code == 409
    else:
        assert response.status_code == 422
        assert response.get_json()["error"]["fields"] == {"create_anyway": "Must be true or false."}


def test_a_too_long_reason_is_named(client, headers, anna):
    response = client.post("/api/patients", json={**ANNA, "create_anyway": True, "reason": "x" * 2000},
                           headers=headers)
    assert response.status_code == 422 and set(response.get_json()["error"]["fields"]) == {"reason"}


def test_a_new_person_needs_no_confirmation(client, headers, anna):
    response = client.post("/api/patients", json={"first_name": "Anna", "last_name": "Schäfer",
                                                  "birth_date": "1981-03-12"}, headers=headers)
    assert response.status_code == 201


def test_update_into_a_duplicate_is_refused_then_confirmed(client, db, headers, anna, make_patient):
    other = make_patient(first_name="Anna", last_name="Schaefer", birth_date=date(1980, 3, 12))
    refused = client.patch(f"/api/patients/{other.id}", json={"last_name": "Schäfer"}, headers=headers)
    assert refused.status_code == 409
    assert [entry["id"] for entry in refused.get_json()["error"]["duplicates"]] == [anna.id]
    db.session.refresh(other)
    assert other.last_name == "Schaefer"

    saved = client.patch(f"/api/patients/{other.id}", json={"last_name": "Schäfer", "create_anyway": True,
                                                            "reason": "Andere Person, gleicher Name"},
                         headers=headers)
    assert saved.status_code == 200 and saved.get_json()["last_name"] == "Schäfer"
    (entry,) = _audit(db, "patient.update")
    assert entry.meta["duplicates"] == [anna.id] and entry.meta["reason"] == "Andere Person, gleicher Name"


def test_update_of_other_fields_is_not_checked(client, headers, anna, make_patient):
    """Changing what does not identify a patient (the therapist) never asks about duplicates."""
    twin = make_patient(first_name="Anna", last_name="Schäfer", birth_date=date(1980, 3, 12))
    response = client.patch(f"/api/patients/{twin.id}", json={"therapist_id": None}, headers=headers)
    assert response.status_code == 200


def test_duplicates_of_another_practice_are_not_shown(client, db, headers, make_patient, other_practice):
    make_patient(practice=other_practice, first_name="Anna", last_name="Schäfer", birth_date=date(1980, 3, 12))
    assert client.post("/api/patients", json=ANNA, headers=headers).status_code == 201


def test_every_returned_patient_says_whether_its_phone_needs_review(client, headers, make_patient):
    clean = make_patient(last_name="Klar", phone="+491701112233")
    messy = make_patient(last_name="Wirr", phone="bitte zurückrufen")
    none = make_patient(last_name="Ohne")
    listed = {p["id"]: p["phone_needs_review"] for p in client.get("/api/patients", headers=headers)
              .get_json()["results"]}
    assert listed == {clean.id: False, messy.id: True, none.id: False}
    assert client.get(f"/api/patients/{messy.id}", headers=headers).get_json()["phone_needs_review"] is True
    created = client.post("/api/patients", json={"first_name": "Neu", "last_name": "Nummer", "phone": "nur abends"},
                          headers=headers)
    assert created.status_code == 201 and created.get_json()["phone_needs_review"] is True
    patched = client.patch(f"/api/patients/{messy.id}", json={"phone": "0170 9998877"}, headers=headers)
    assert patched.get_json()["phone_needs_review"] is False
