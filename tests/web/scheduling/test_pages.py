"""The scheduling settings page: who sees which section, adding rows through htmx with the API's rules (422 with
the sentence beside the field), CSRF, and an absence listing the appointments it now collides with."""

import pytest

from app.platform.security.actor import Actor
from app.scheduling.booking import BookingRequest, book
from app.scheduling.hours import Absence
from tests.helpers import audit_actions, htmx
from tests.unit.scheduling.setup import TUESDAY, build, local


@pytest.fixture
def s(practice, make_user):
    return build(practice, make_user)


def test_admin_sees_every_section_and_therapist_only_their_own(client, auth, s, db):
    auth.login("admin")
    page = client.get("/scheduling/").get_data(as_text=True)
    for key in ("types", "resources", "hours", "absences"):
        assert f'id="scheduling-{key}"' in page
    assert "Krankengymnastik" in page and "Stoßwellengerät" in page
    auth.logout()
    auth.login(user=s.anna)
    page = client.get("/scheduling/").get_data(as_text=True)
    assert 'id="scheduling-types"' not in page and 'id="scheduling-absences-form"' in page
    assert "Ben Krause" not in page  # neither in the hours table nor in the therapist choice


def test_billing_may_not_open_the_page(client, auth, s):
    auth.login("billing")
    assert client.get("/scheduling/").status_code == 403


def test_add_a_type_that_needs_the_device(client, auth, s, db):
    auth.login("admin")
    response = client.post("/scheduling/types", data={"name": "Stoßwelle Schulter", "duration": "20",
                                                      "needs_room": "1", "device": str(s.device.id)},
                           headers=htmx("scheduling-types"))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.strip().startswith('<article id="scheduling-types"')
    assert "Stoßwelle Schulter" in body and "1 × Behandlungsraum, Stoßwellengerät" in body
    assert "HX-Trigger" in response.headers
    assert audit_actions(db)[-1] == "appointment_type.create"


def test_invalid_input_answers_422_beside_the_field(client, auth, s):
    auth.login("admin")
    response = client.post("/scheduling/hours", data={"doctor": str(s.anna.id), "location": str(s.location.id),
                                                      "weekday": "0", "start_time": "12:00", "end_time": "09:00",
                                                      "valid_from": "2027-01-01"}, headers=htmx("scheduling-hours"))
    assert response.status_code == 422
    assert 'id="scheduling-hours-end_time-errors"' in response.get_data(as_text=True)
    assert "Das Ende muss nach dem Beginn liegen." in response.get_data(as_text=True)


def test_absence_lists_the_appointments_it_collides_with(client, auth, s, db):
    book(Actor(s.anna), s.practice, BookingRequest(type_id=s.kg.id, therapist_id=s.anna.id,
                                                   location_id=s.location.id, start=local(TUESDAY, 9)))
    auth.login("assistant")
    response = client.post("/scheduling/absences", data={"doctor": str(s.anna.id), "start_time": "2037-05-05T00:00",
                                                         "end_time": "2037-05-06T00:00", "reason": "sickness"},
                           headers=htmx("scheduling-absences"))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "kollidieren jetzt mit den geänderten Regeln" in body and "05.05.2037, 09:00" in body
    assert db.session.query(Absence).count() == 1


def test_therapist_cannot_enter_an_absence_for_someone_else(client, auth, s, db):
    auth.login(user=s.anna)
    response = client.post("/scheduling/absences", data={"doctor": str(s.ben.id), "start_time": "2037-05-05T00:00",
                                                         "end_time": "2037-05-06T00:00", "reason": "vacation"},
                           headers=htmx("scheduling-absences"))
    assert response.status_code == 422
    assert db.session.query(Absence).count() == 0
    assert client.post("/scheduling/types", data={"name": "X", "duration": "30"}).status_code == 403


def test_without_htmx_a_post_redirects_and_csrf_is_required(app, client, auth, s):
    auth.login("admin")
    response = client.post("/scheduling/resources", data={"name": "Raum 9", "kind": "room",
                                                          "location": str(s.location.id)})
    assert response.status_code == 303 and response.headers["Location"].endswith("/scheduling/#scheduling-resources")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        refused = client.post("/scheduling/resources", data={"name": "Raum 10", "kind": "room",
                                                             "location": str(s.location.id)})
        assert refused.status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
