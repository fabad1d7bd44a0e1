"""Every change of rules through the API (practice and doctor hours, breaks, absences, closures: created, changed
or deleted) answers with ``collisions``, the future appointments that now collide with the rules, so none is
silently kept or dropped; an edit checks the owner and the stretch before and after the change."""

import pytest
from sqlalchemy import select

from app.appointments.models import Appointment
from app.platform.security.actor import Actor
from app.scheduling.booking import BookingRequest, book
from app.scheduling.hours import Absence, Closure, OpeningHours, WorkingHours
from tests.helpers import bearer
from tests.unit.scheduling.setup import TUESDAY, build, local


@pytest.fixture
def s(practice, make_user):
    return build(practice, make_user)


@pytest.fixture
def booked(s):
    """Anna's Krankengymnastik on Tuesday 09:00–09:30."""
    return book(Actor(s.anna), s.practice, BookingRequest(type_id=s.kg.id, therapist_id=s.anna.id,
                                                          location_id=s.location.id, start=local(TUESDAY, 9)))


@pytest.fixture
def admin(make_user, make_token):
    return bearer(make_token(make_user(role="admin")))


def ids(response):
    return [found["id"] for found in response.json["collisions"]]


def test_deleting_working_hours_lists_the_appointments_now_outside_them(client, s, db, booked, admin):
    tuesday = db.session.scalar(select(WorkingHours.id).where(WorkingHours.therapist_id == s.anna.id,
                                                              WorkingHours.weekday == TUESDAY.weekday()))
    deleted = client.delete(f"/api/doctor-hours/{tuesday}/", headers=admin)
    assert deleted.status_code == 200
    assert deleted.json == {"collisions": [{
        "id": booked.id, "start_time": "2037-05-05T07:00+00:00", "end_time": "2037-05-05T07:30+00:00",
        "doctor": s.anna.id, "reasons": ["Anna Berger arbeitet zu dieser Zeit nicht in Hauptstelle."]}]}
    assert db.session.get(WorkingHours, tuesday) is None
    assert db.session.get(Appointment, booked.id).status == "scheduled"  # listed to move, never dropped


def test_deleting_opening_hours_lists_the_appointments_now_outside_them(client, s, db, booked, admin):
    tuesday = db.session.scalar(select(OpeningHours.id).where(OpeningHours.weekday == TUESDAY.weekday()))
    deleted = client.delete(f"/api/practice-hours/{tuesday}/", headers=admin)
    assert deleted.status_code == 200 and ids(deleted) == [booked.id]
    assert deleted.json["collisions"][0]["reasons"] == ["Hauptstelle ist zu dieser Zeit nicht geöffnet."]


def test_moving_an_absence_lists_what_it_collides_with_before_and_after(client, s, db, booked, admin):
    away = {"doctor": s.ben.id, "start_time": "2037-05-05T08:00", "end_time": "2037-05-05T12:00",
            "reason": "training"}
    created = client.post("/api/doctor-absences/", json=away, headers=admin)
    assert created.status_code == 201 and created.json["collisions"] == []
    onto_anna = client.patch(f"/api/doctor-absences/{created.json['id']}/", json={"doctor": s.anna.id},
                             headers=admin)
    assert onto_anna.status_code == 200 and ids(onto_anna) == [booked.id]
    later = client.patch(f"/api/doctor-absences/{created.json['id']}/", json={"start_time": "2037-05-05T10:00"},
                         headers=admin)
    assert later.status_code == 200 and later.json["collisions"] == []
    earlier = client.patch(f"/api/doctor-absences/{created.json['id']}/", json={"start_time": "2037-05-05T09:15"},
                           headers=admin)
    assert ids(earlier) == [booked.id]
    deleted = client.delete(f"/api/doctor-absences/{created.json['id']}/", headers=admin)
    assert deleted.status_code == 200 and deleted.json == {"collisions": []}
    assert db.session.get(Absence, created.json["id"]) is None


def test_a_closure_lists_what_it_closes_and_deleting_it_frees_them(client, s, db, booked, admin):
    practice_wide = client.post("/api/closures/", json={"start_time": "2037-05-05T00:00",
                                                        "end_time": "2037-05-06T00:00", "note": "Betriebsausflug"},
                                headers=admin)
    assert practice_wide.status_code == 201 and ids(practice_wide) == [booked.id]
    other_room = client.patch(f"/api/closures/{practice_wide.json['id']}/", json={"resource": s.rooms[1].id},
                              headers=admin)
    assert other_room.status_code == 200 and other_room.json["collisions"] == []
    deleted = client.delete(f"/api/closures/{practice_wide.json['id']}/", headers=admin)
    assert deleted.status_code == 200 and deleted.json == {"collisions": []}
    assert db.session.get(Closure, practice_wide.json["id"]) is None


def test_a_break_lists_the_appointment_it_now_covers(client, s, booked, admin):
    pause = client.post("/api/doctor-breaks/", json={"doctor": s.anna.id, "date": TUESDAY.isoformat(),
                                                     "start_time": "09:00", "end_time": "09:15"}, headers=admin)
    assert pause.status_code == 201 and ids(pause) == [booked.id]
    moved = client.patch(f"/api/doctor-breaks/{pause.json['id']}/", json={"start_time": "12:00",
                                                                          "end_time": "12:30"}, headers=admin)
    assert moved.json["collisions"] == []

