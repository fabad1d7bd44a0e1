"""Undoing a merge in the browser-facing views (issue 17, item 3): the merged record's banner offers it to admins
only, the page shows what goes back before and what went back after, other practices' records are 404, the
confirm needs the CSRF token, and the history names the undo."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.appointments.models import Appointment
from app.patients.merge import merge_patients
from app.patients.models import Patient
from app.platform.database import utcnow
from app.platform.security.actor import Actor
from tests.helpers import PASSWORD, htmx


@pytest.fixture
def merged(make_patient, make_user, db):
    """Jörg Müller's second record (an appointment, a booking link) merged into the first; (first, second)."""
    first = make_patient(first_name="Jörg", last_name="Müller", birth_date=date(1970, 1, 2))
    second = make_patient(first_name="Jörg", last_name="Müller", birth_date=date(1970, 1, 2),
                          email="joerg@example.de", booking_system_id="B-9")
    start = utcnow() + timedelta(days=2)
    db.session.add(Appointment(practice_id=second.practice_id, patient_id=second.id, source="booking",
                               external_id="A-1", starts_at=start, ends_at=start + timedelta(hours=1)))
    db.session.commit()
    merge_patients(Actor(make_user(role="admin")), first, second)
    return first.id, second.id


def _merged_into(db, patient_id):
    """The record ``patient_id`` is merged into now (None: a record of its own)."""
    return db.session.scalar(select(Patient.merged_into_id).where(Patient.id == patient_id)
                             .execution_options(populate_existing=True))


def test_the_merged_record_offers_the_undo_to_admins_only(client, auth, merged):
    first, second = merged
    auth.login(role="admin")
    page = client.get(f"/patients/{second}").get_data(as_text=True)
    assert 'id="unmerge-link"' in page and "Zusammenführung rückgängig machen" in page
    assert 'id="unmerge-link"' not in client.get(f"/patients/{first}").get_data(as_text=True)
    auth.logout()
    auth.login(role="assistant")
    assert 'id="unmerge-link"' not in client.get(f"/patients/{second}").get_data(as_text=True)
    assert client.get(f"/patients/{second}/merge/undo").status_code == 403
    assert client.post(f"/patients/{second}/merge/undo").status_code == 403


def test_the_page_shows_what_goes_back_then_what_went_back(client, auth, db, merged):
    first, second = merged
    auth.login(role="admin")
    preview = client.get(f"/patients/{second}/merge/undo").get_data(as_text=True)
    assert re.search(r'<li data-kind="appointments">Termine: 1</li>', preview)
    assert "Patienten-ID B-9" in preview and 'id="unmerge-confirm-button"' in preview
    assert _merged_into(db, second) == first

    response = client.post(f"/patients/{second}/merge/undo")
    assert response.status_code == 303 and response.headers["Location"] == f"/patients/{second}/merge/undo"
    done = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Die Zusammenführung wurde rückgängig gemacht" in done and 'id="unmerge-confirm-button"' not in done
    assert "Zu dieser Akte zurückgekehrt" in done and re.search(r'data-kind="appointments">Termine: 1<', done)
    assert _merged_into(db, second) is None
    assert db.session.scalar(select(Appointment.patient_id)) == second
    assert 'id="patient-archived"' not in client.get(f"/patients/{second}").get_data(as_text=True)
    for patient_id in (first, second):
        history = client.get(f"/patients/{patient_id}/verlauf").get_data(as_text=True)
        assert "Zusammenführung rückgängig gemacht" in history


def test_a_second_undo_is_refused_with_the_reason(client, auth, merged):
    _first, second = merged
    auth.login(role="admin")
    assert client.post(f"/patients/{second}/merge/undo").status_code == 303
    again = client.post(f"/patients/{second}/merge/undo", headers=htmx())
    assert again.status_code == 204 and again.headers["HX-Redirect"] == f"/patients/{second}"
    assert "ist mit keiner anderen Akte zusammengeführt" in client.get(f"/patients/{second}").get_data(as_text=True)


def test_a_record_never_merged_has_no_undo_page(client, auth, make_patient):
    patient = make_patient(first_name="Jana", last_name="Schmidt")
    auth.login(role="admin")
    assert client.get(f"/patients/{patient.id}/merge/undo").status_code == 404


def test_another_practices_record_is_404(client, auth, make_patient, make_user, other_practice):
    first = make_patient(practice=other_practice, first_name="Jörg", last_name="Müller")
    second = make_patient(practice=other_practice, first_name="Jörg", last_name="Müller")
    merge_patients(Actor(make_user(role="admin", practice=other_practice)), first, second)
    auth.login(role="admin")
    assert client.get(f"/patients/{second.id}/merge/undo").status_code == 404
    assert client.post(f"/patients/{second.id}/merge/undo").status_code == 404


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_the_undo_needs_the_csrf_token(client, make_user, db, merged):
    _first, second = merged
    admin = make_user()
    token = client.get("/auth/login").get_data(as_text=True).split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    assert client.post("/auth/login", data={"email": admin.email, "password": PASSWORD},
                       headers={"X-CSRFToken": token}).status_code == 303
    assert client.post(f"/patients/{second}/merge/undo").status_code == 400
    assert _merged_into(db, second) is not None
    page = client.get(f"/patients/{second}/merge/undo").get_data(as_text=True)
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(f"/patients/{second}/merge/undo", data={"csrf_token": form_token}).status_code == 303
    assert _merged_into(db, second) is None


def test_anonymous_requests_go_to_the_login(client, merged):
    _first, second = merged
    assert client.get(f"/patients/{second}/merge/undo").status_code == 302
    response = client.post(f"/patients/{second}/merge/undo", headers=htmx())
    assert response.status_code == 401 and "HX-Redirect" in response.headers
