"""Merging two records in the browser-facing views (issue 17, item 3): admins only, pick, preview, confirm; other
practices' records are 404; CSRF on the confirm; a refused merge goes back to the preview with the reason."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.appointments.models import Appointment
from app.patients.models import Patient
from app.platform.database import utcnow
from tests.helpers import PASSWORD, htmx


@pytest.fixture
def pair(make_patient, db):
    """Two records of Jörg Müller; the second has an appointment."""
    first = make_patient(first_name="Jörg", last_name="Müller", birth_date=date(1970, 1, 2))
    second = make_patient(first_name="Jörg", last_name="Müller", birth_date=date(1970, 1, 2),
                          booking_system_id="B-9")
    start = utcnow() + timedelta(days=2)
    db.session.add(Appointment(practice_id=second.practice_id, patient_id=second.id, source="booking",
                               external_id="A-1", starts_at=start, ends_at=start + timedelta(hours=1)))
    db.session.commit()
    return first, second


def test_the_record_offers_merging_to_admins_only(client, auth, pair):
    first, _second = pair
    auth.login(role="admin")
    assert 'id="merge-link"' in client.get(f"/patients/{first.id}").get_data(as_text=True)
    auth.logout()
    auth.login(role="assistant")
    assert 'id="merge-link"' not in client.get(f"/patients/{first.id}").get_data(as_text=True)
    assert client.get(f"/patients/{first.id}/merge").status_code == 403
    assert client.post("/patients/merge", data={"survivor_id": first.id, "duplicate_id": 2}).status_code == 403


def test_the_merge_page_lists_likely_duplicates_and_previews_a_choice(client, auth, pair):
    first, second = pair
    auth.login(role="admin")
    page = client.get(f"/patients/{first.id}/merge").get_data(as_text=True)
    assert f'id="merge-candidate-{second.id}"' in page and "Mögliche Dubletten" in page
    assert 'id="merge-plan"' not in page
    preview = client.get(f"/patients/{first.id}/merge", query_string={"other_id": second.id, "keep": "this"},
                         headers=htmx("merge-preview"))
    html = preview.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="merge-preview"') and "<html" not in html
    assert re.search(r'<li data-kind="appointments">Termine: 1</li>', html)
    assert "Patienten-ID B-9" in html and 'id="merge-confirm-button"' in html
    assert "HX-Target" in preview.headers["Vary"]
    assert db_unchanged(second)


def db_unchanged(patient):
    from app.platform.extensions import db

    return db.session.scalar(select(Patient.merged_into_id).where(Patient.id == patient.id)) is None


@pytest.mark.parametrize(("query", "message"), [
    ({"other_id": "abc"}, "Nummer der anderen Akte"),
    ({"other_id": "999999"}, "keine Akte mit dieser Nummer"),
])
def test_a_wrong_number_is_explained(client, auth, pair, query, message):
    first, _second = pair
    auth.login(role="admin")
    response = client.get(f"/patients/{first.id}/merge", query_string=query)
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_choosing_the_same_record_or_two_linked_ones_shows_why_not(client, auth, pair, make_patient):
    first, second = pair
    auth.login(role="admin")
    same = client.get(f"/patients/{first.id}/merge", query_string={"other_id": first.id}).get_data(as_text=True)
    assert 'id="merge-problems"' in same and 'id="merge-confirm-button"' not in same
    linked = make_patient(first_name="Jörg", last_name="Müller", booking_system_id="B-10")
    both = client.get(f"/patients/{linked.id}/merge", query_string={"other_id": second.id}).get_data(as_text=True)
    assert "Beide Akten sind mit dem Buchungstool verknüpft" in both


def test_confirming_merges_and_goes_to_the_record_that_stays(client, auth, db, pair):
    first, second = pair
    auth.login(role="admin")
    response = client.post("/patients/merge", data={"survivor_id": first.id, "duplicate_id": second.id})
    assert response.status_code == 303 and response.headers["Location"] == f"/patients/{first.id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Die Akten wurden zusammengeführt" in page
    assert db.session.scalar(select(Appointment.patient_id)) == first.id
    merged = client.get(f"/patients/{second.id}").get_data(as_text=True)
    assert 'id="patient-merged-into"' in merged and 'id="restore-button"' not in merged
    assert client.post(f"/patients/{second.id}/restore").status_code == 303
    assert db.session.scalar(select(Patient.archived_at).where(Patient.id == second.id)) is not None
    history = client.get(f"/patients/{first.id}/verlauf").get_data(as_text=True)
    assert "Akten zusammengeführt" in history


def test_a_second_confirm_of_the_same_pair_is_refused_with_the_reason(client, auth, db, pair):
    first, second = pair
    auth.login(role="admin")
    data = {"survivor_id": first.id, "duplicate_id": second.id}
    assert client.post("/patients/merge", data=data).status_code == 303
    again = client.post("/patients/merge", data=data, headers=htmx("merge-preview"))
    assert again.status_code == 204 and again.headers["HX-Redirect"].startswith(f"/patients/{first.id}/merge")
    assert "bereits mit einer anderen Akte zusammengeführt" in client.get(
        again.headers["HX-Redirect"]).get_data(as_text=True)


def test_another_practices_record_is_404(client, auth, pair, make_patient, other_practice):
    first, _second = pair
    stranger = make_patient(practice=other_practice, first_name="Jörg", last_name="Müller")
    auth.login(role="admin")
    assert client.get(f"/patients/{stranger.id}/merge").status_code == 404
    preview = client.get(f"/patients/{first.id}/merge", query_string={"other_id": stranger.id})
    assert preview.status_code == 422 and f"merge-candidate-{stranger.id}" not in preview.get_data(as_text=True)
    assert client.post("/patients/merge", data={"survivor_id": first.id, "duplicate_id": stranger.id}).status_code \
        == 404
    assert client.post("/patients/merge", data={"survivor_id": "x", "duplicate_id": first.id}).status_code == 404


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_the_confirm_needs_the_csrf_token(client, make_user, db, pair):
    first, second = pair
    admin = make_user()
    token = client.get("/auth/login").get_data(as_text=True).split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    assert client.post("/auth/login", data={"email": admin.email, "password": PASSWORD},
                       headers={"X-CSRFToken": token}).status_code == 303
    data = {"survivor_id": first.id, "duplicate_id": second.id}
    assert client.post("/patients/merge", data=data).status_code == 400
    assert db_unchanged(second)
    page = client.get(f"/patients/{first.id}/merge", query_string={"other_id": second.id}).get_data(as_text=True)
    form_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/patients/merge", data={**data, "csrf_token": form_token}).status_code == 303
    assert not db_unchanged(second)


def test_anonymous_requests_go_to_the_login(client, pair):
    first, _second = pair
    assert client.get(f"/patients/{first.id}/merge").status_code == 302
    response = client.get(f"/patients/{first.id}/merge", headers=htmx("merge-preview"))
    assert response.status_code == 401 and "HX-Redirect" in response.headers
