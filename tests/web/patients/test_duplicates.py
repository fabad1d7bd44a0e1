"""Likely duplicates in the create and edit forms (issue 17, item 3): listed inline as the front desk types (htmx),
stopping the save with "open" and "create anyway" with a reason, which is audited."""

from datetime import date

import pytest
from sqlalchemy import func, select

from app.patients.models import Patient
from app.platform.audit.models import AuditEntry
from tests.helpers import htmx

ANNA = {"first_name": "Anna", "last_name": "Schäfer", "birth_date": "12.03.1980", "email": "", "phone": "",
        "therapist_id": ""}


@pytest.fixture
def anna(make_patient):
    return make_patient(first_name="Anna", last_name="Schäfer", birth_date=date(1980, 3, 12),
                        email="anna@example.de", email_normalized="anna@example.de")


def _count(db):
    return db.session.scalar(select(func.count()).select_from(Patient))


def test_creating_an_existing_patient_shows_the_duplicate_instead(client, auth, db, anna):
    auth.login(role="assistant")
    response = client.post("/patients/new", data=ANNA)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="duplicate-{anna.id}"' in html and f'href="/patients/{anna.id}"' in html
    assert "Öffnen" in html and "Trotzdem anlegen" in html and "gleicher Name und gleiches Geburtsdatum" in html
    assert _count(db) == 1


def test_create_anyway_needs_a_reason_and_audits_it(client, auth, db, anna):
    auth.login(role="assistant")
    missing = client.post("/patients/new", data={**ANNA, "save_anyway": "1", "duplicate_reason": ""})
    assert missing.status_code == 422 and "Bitte geben Sie einen Grund an" in missing.get_data(as_text=True)
    assert _count(db) == 1
    created = client.post("/patients/new", data={**ANNA, "save_anyway": "1", "duplicate_reason": "Namensvetterin"})
    assert created.status_code == 303
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "patient.create")).one()
    assert entry.meta == {"duplicates": [anna.id], "reason": "Namensvetterin"}


def test_a_reason_without_the_button_does_not_skip_the_check(client, auth, db, anna):
    auth.login(role="assistant")
    assert client.post("/patients/new", data={**ANNA, "duplicate_reason": "egal"}).status_code == 422
    assert _count(db) == 1


def test_the_panel_updates_inline_after_each_checked_field(client, auth, anna):
    """Leaving a field validates it and triggers "patient-field-checked"; the panel then posts the form and
    gets its new contents back with the duplicate (same email, any case); the panel itself stays (see
    _duplicates.html)."""
    auth.login(role="assistant")
    checked = client.post("/patients/validate/email", data={"email": "ANNA@example.de"},
                          headers=htmx("field-email"))
    assert "patient-field-checked" in checked.headers["HX-Trigger"]
    panel = client.post("/patients/duplicates", data={"first_name": "Anne", "last_name": "Other",
                                                      "email": "ANNA@example.de"}, headers=htmx("patient-duplicates"))
    html = panel.get_data(as_text=True)
    assert panel.status_code == 200 and 'id="patient-duplicates"' not in html
    assert f'id="duplicate-{anna.id}"' in html and "gleiche E-Mail-Adresse" in html and "<html" not in html
    empty = client.post("/patients/duplicates", data={"first_name": "Bert", "last_name": "Neu"},
                        headers=htmx("patient-duplicates")).get_data(as_text=True)
    assert "duplicate-" not in empty and "<" not in empty  # nothing found: the panel is emptied


def test_the_edit_form_warns_only_about_other_records_and_only_on_a_change(client, auth, db, anna, make_patient):
    auth.login(role="assistant")
    berta = make_patient(first_name="Berta", last_name="Neu")
    unchanged = client.post(f"/patients/{anna.id}/duplicates", data={**ANNA, "email": "anna@example.de"},
                            headers=htmx("patient-duplicates")).get_data(as_text=True)
    assert "duplicate-" not in unchanged  # the record itself is never its own duplicate
    data = {**ANNA, "first_name": "Berta", "last_name": "Neu", "email": "anna@example.de", "birth_date": ""}
    panel = client.post(f"/patients/{berta.id}/duplicates", data=data,
                        headers=htmx("patient-duplicates")).get_data(as_text=True)
    assert f'id="duplicate-{anna.id}"' in panel and "Trotzdem speichern" in panel
    assert client.post(f"/patients/{berta.id}/edit", data=data).status_code == 422
    saved = client.post(f"/patients/{berta.id}/edit", data={**data, "save_anyway": "1",
                                                             "duplicate_reason": "Tochter, gleiche Adresse"})
    assert saved.status_code == 303
    db.session.expire_all()
    assert db.session.get(Patient, berta.id).email == "anna@example.de"


def test_another_practices_patients_are_never_shown(client, auth, make_patient, other_practice):
    auth.login(role="assistant")
    stranger = make_patient(practice=other_practice, first_name="Anna", last_name="Schäfer",
                            birth_date=date(1980, 3, 12))
    assert client.post("/patients/new", data=ANNA).status_code == 303
    panel = client.post("/patients/duplicates", data=ANNA, headers=htmx("patient-duplicates"))
    assert f"duplicate-{stranger.id}" not in panel.get_data(as_text=True)
    assert client.post(f"/patients/{stranger.id}/duplicates", data=ANNA).status_code == 404


@pytest.mark.parametrize("role", ["therapist", "billing"])
def test_only_who_may_write_patients_may_ask(client, auth, role):
    auth.login(role=role)
    assert client.post("/patients/duplicates", data=ANNA).status_code == 403


def test_anonymous_htmx_gets_401_with_a_redirect(client):
    response = client.post("/patients/duplicates", data=ANNA, headers=htmx("patient-duplicates"))
    assert response.status_code == 401 and "HX-Redirect" in response.headers
