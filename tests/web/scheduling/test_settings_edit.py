"""The scheduling settings page beyond adding: editing rows (the type keeps the needs its form does not show),
deleting (a type or room in use is deactivated, never deleted, and can be activated again), opening hours, breaks
and closures managed in the page, the appointments that now collide listed after every change of rules (create,
update, delete), a therapist managing only their own hours, and other practices' rows answering 404."""

from datetime import time, timedelta

import pytest
from sqlalchemy import select

from app.appointments.models import Appointment
from app.platform.extensions import db as _db
from app.platform.security.actor import Actor
from app.scheduling.booking import BookingRequest, book
from app.scheduling.hours import Break, Closure, HolidayOpening, OpeningHours, WorkingHours
from app.scheduling.models import AppointmentType, Resource
from tests.helpers import audit_actions, bearer, htmx
from tests.unit.scheduling.setup import CORPUS_CHRISTI, TUESDAY, build, local

COLLIDES = "kollidieren jetzt mit den geänderten Regeln"


@pytest.fixture
def s(practice, make_user):
    return build(practice, make_user)


@pytest.fixture
def booked(s):
    """Anna's Krankengymnastik on Tuesday 09:00–09:30."""
    return book(Actor(s.anna), s.practice, BookingRequest(type_id=s.kg.id, therapist_id=s.anna.id,
                                                          location_id=s.location.id, start=local(TUESDAY, 9)))


def hours_of(s, therapist):
    return _db.session.scalar(select(WorkingHours).where(WorkingHours.therapist_id == therapist.id,
                                                         WorkingHours.weekday == TUESDAY.weekday()))


def test_edit_form_shows_the_row_and_saving_keeps_the_hidden_needs(client, auth, s, db):
    auth.login("admin")
    form = client.get(f"/scheduling/types/{s.shock.id}/edit", headers=htmx("scheduling-types")).get_data(as_text=True)
    assert 'value="Stoßwellentherapie"' in form and f'/scheduling/types/{s.shock.id}"' in form
    assert f'<option value="{s.device.id}" selected>' in form
    response = client.post(f"/scheduling/types/{s.shock.id}", headers=htmx("scheduling-types"), data={
        "name": "Stoßwelle", "duration": "20", "needs_room": "1", "device": str(s.device.id), "min_notice": "120",
        "horizon_days": "90"})
    assert response.status_code == 200
    db.session.refresh(s.shock)
    assert (s.shock.name, s.shock.duration_minutes, s.shock.min_notice_minutes, s.shock.horizon_days) == (
        "Stoßwelle", 20, 120, 90)
    assert sorted((need.kind or "", need.resource_id or 0) for need in s.shock.requirements) == [
        ("", s.device.id), ("room", 0)]
    assert s.shock.room_buffer_after == 5  # not on the form, kept
    assert "appointment_type.update" in audit_actions(db)


def test_edit_errors_stand_beside_the_field_and_nothing_is_saved(client, auth, s, db):
    auth.login("admin")
    response = client.post(f"/scheduling/types/{s.kg.id}", headers=htmx("scheduling-types"),
                           data={"name": "Rückenschule", "duration": "30"})
    assert response.status_code == 422
    assert 'id="scheduling-types-name-errors"' in response.get_data(as_text=True)
    db.session.refresh(s.kg)
    assert s.kg.name == "Krankengymnastik"


def test_type_in_use_is_deactivated_unused_one_deleted(client, auth, s, db, booked):
    auth.login("admin")
    kg_id, back_id = s.kg.id, s.back.id
    assert client.post(f"/scheduling/types/{s.kg.id}/delete", headers=htmx("scheduling-types")).status_code == 200
    assert client.post(f"/scheduling/types/{s.back.id}/delete", headers=htmx("scheduling-types")).status_code == 200
    db.session.expire_all()
    assert db.session.get(AppointmentType, kg_id).active is False
    assert db.session.get(AppointmentType, back_id) is None
    page = client.post(f"/scheduling/types/{kg_id}/activate", headers=htmx("scheduling-types"))
    db.session.expire_all()
    assert page.status_code == 200 and db.session.get(AppointmentType, kg_id).active is True
    assert {"appointment_type.deactivate", "appointment_type.delete", "appointment_type.activate"} <= set(
        audit_actions(db))


def test_a_device_a_type_needs_is_deactivated_not_deleted(client, auth, s, db):
    auth.login("admin")
    client.post(f"/scheduling/resources/{s.device.id}/delete", headers=htmx("scheduling-resources"))
    db.session.expire_all()
    assert db.session.get(Resource, s.device.id).active is False


def test_changing_working_hours_lists_the_appointments_outside_them(client, auth, s, db, booked):
    auth.login("admin")
    row = hours_of(s, s.anna)
    response = client.post(f"/scheduling/hours/{row.id}", headers=htmx("scheduling-hours"), data={
        "doctor": str(s.anna.id), "location": str(s.location.id), "weekday": str(row.weekday),
        "start_time": "12:00", "end_time": "18:00", "valid_from": "2026-01-01"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and COLLIDES in body and "05.05.2037, 09:00" in body
    assert "Arbeitszeit" in body or "arbeits" in body.lower()
    db.session.refresh(row)
    assert row.start_time == time(12)
    row_id = row.id
    deleted = client.post(f"/scheduling/hours/{row_id}/delete", headers=htmx("scheduling-hours"))
    assert COLLIDES in deleted.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(WorkingHours, row_id) is None


def test_opening_hours_are_managed_and_their_collisions_listed(client, auth, s, db, booked):
    auth.login("admin")
    page = client.get("/scheduling/").get_data(as_text=True)
    assert 'id="scheduling-opening-form"' in page and 'id="scheduling-breaks-form"' in page
    row = db.session.scalar(select(OpeningHours).where(OpeningHours.weekday == TUESDAY.weekday()))
    response = client.post(f"/scheduling/opening/{row.id}/delete", headers=htmx("scheduling-opening"))
    assert COLLIDES in response.get_data(as_text=True) and "05.05.2037, 09:00" in response.get_data(as_text=True)
    added = client.post("/scheduling/opening", headers=htmx("scheduling-opening"), data={
        "location": str(s.location.id), "weekday": str(TUESDAY.weekday()), "start_time": "07:00",
        "end_time": "19:00", "valid_from": "2026-01-01"})
    assert added.status_code == 200 and "Kein künftiger Termin kollidiert" in added.get_data(as_text=True)
    overlap = client.post("/scheduling/opening", headers=htmx("scheduling-opening"), data={
        "location": str(s.location.id), "weekday": str(TUESDAY.weekday()), "start_time": "18:00",
        "end_time": "20:00", "valid_from": "2026-01-01"})
    assert overlap.status_code == 422 and 'id="scheduling-opening-start_time-errors"' in overlap.get_data(
        as_text=True)


def test_breaks_and_closures_list_collisions_and_refuse_bad_input(client, auth, s, db, booked):
    auth.login("admin")
    both = client.post("/scheduling/breaks", headers=htmx("scheduling-breaks"), data={
        "doctor": str(s.anna.id), "weekday": "1", "date": "2037-05-05", "start_time": "09:00", "end_time": "09:15"})
    assert both.status_code == 422 and 'id="scheduling-breaks-weekday-errors"' in both.get_data(as_text=True)
    pause = client.post("/scheduling/breaks", headers=htmx("scheduling-breaks"), data={
        "doctor": str(s.anna.id), "date": "2037-05-05", "start_time": "09:00", "end_time": "09:15"})
    assert pause.status_code == 200 and COLLIDES in pause.get_data(as_text=True)
    assert db.session.scalar(select(Break.day)) == TUESDAY
    closed = client.post("/scheduling/closures", headers=htmx("scheduling-closures"), data={
        "location": str(s.location.id), "start_time": "2037-05-05T08:00", "end_time": "2037-05-05T12:00",
        "note": "Wasserschaden"})
    assert closed.status_code == 200 and COLLIDES in closed.get_data(as_text=True)
    closure = db.session.scalar(select(Closure))
    assert closure.location_id == s.location.id and closure.note == "Wasserschaden"
    closure_id = closure.id
    gone = client.post(f"/scheduling/closures/{closure_id}/delete", headers=htmx("scheduling-closures"))
    db.session.expire_all()
    assert gone.status_code == 200 and db.session.get(Closure, closure_id) is None
    backwards = client.post("/scheduling/closures", headers=htmx("scheduling-closures"), data={
        "start_time": "2037-05-05T12:00", "end_time": "2037-05-05T08:00"})
    assert backwards.status_code == 422 and "Das Ende muss nach dem Beginn liegen." in backwards.get_data(
        as_text=True)


def test_therapist_manages_only_their_own_hours(client, auth, s, db):
    auth.login(user=s.anna)
    page = client.get("/scheduling/").get_data(as_text=True)
    assert 'id="scheduling-hours-form"' in page and 'id="scheduling-breaks-form"' in page
    assert 'id="scheduling-opening"' not in page and 'id="scheduling-closures"' not in page
    own, other = hours_of(s, s.anna), hours_of(s, s.ben)
    assert client.get(f"/scheduling/hours/{own.id}/edit", headers=htmx("scheduling-hours")).status_code == 200
    assert client.get(f"/scheduling/hours/{other.id}/edit", headers=htmx("scheduling-hours")).status_code == 404
    assert client.post(f"/scheduling/hours/{other.id}/delete").status_code == 404
    changed = client.post(f"/scheduling/hours/{own.id}", headers=htmx("scheduling-hours"), data={
        "doctor": str(s.anna.id), "location": str(s.location.id), "weekday": str(own.weekday),
        "start_time": "08:00", "end_time": "14:00", "valid_from": "2026-01-01"})
    assert changed.status_code == 200
    moved = client.post(f"/scheduling/hours/{own.id}", headers=htmx("scheduling-hours"), data={
        "doctor": str(s.ben.id), "location": str(s.location.id), "weekday": "6",
        "start_time": "08:00", "end_time": "14:00", "valid_from": "2026-01-01"})
    assert moved.status_code == 422
    db.session.refresh(own)
    assert (own.therapist_id, own.end_time) == (s.anna.id, time(14))
    assert client.post("/scheduling/opening", data={"location": str(s.location.id)}).status_code == 403
    assert client.get(f"/scheduling/types/{s.kg.id}/edit").status_code == 403


def test_front_desk_keeps_hours_and_breaks_but_reads_types_and_opening(client, auth, s, db):
    auth.login("assistant")
    page = client.get("/scheduling/").get_data(as_text=True)
    assert 'id="scheduling-hours-form"' in page and 'id="scheduling-breaks-form"' in page
    assert 'id="scheduling-types-table"' in page and 'id="scheduling-types-form"' not in page
    assert 'id="scheduling-opening-form"' not in page
    assert client.post(f"/scheduling/hours/{hours_of(s, s.ben).id}/delete").status_code == 303
    assert client.post(f"/scheduling/types/{s.kg.id}/delete").status_code == 403
    assert client.post("/scheduling/opening", data={"location": str(s.location.id)}).status_code == 403


def test_another_practices_rows_answer_404(client, auth, s, db, other_practice, make_user):
    auth.login(user=make_user(practice=other_practice))
    assert client.get(f"/scheduling/types/{s.kg.id}/edit").status_code == 404
    assert client.post(f"/scheduling/hours/{hours_of(s, s.anna).id}/delete").status_code == 404
    assert client.post(f"/scheduling/resources/{s.device.id}/delete").status_code == 404
    assert db.session.get(Resource, s.device.id).active is True


def test_without_htmx_edit_renders_the_page_and_cancel_returns_the_section(client, auth, s):
    auth.login("admin")
    page = client.get(f"/scheduling/types/{s.kg.id}/edit").get_data(as_text=True)
    assert "<h1>" in page and 'value="Krankengymnastik"' in page
    assert client.get("/scheduling/types", headers=htmx("scheduling-types")).status_code == 200


def test_an_absence_lists_a_booking_tool_appointment_of_the_therapist(client, auth, s, db):
    start = local(TUESDAY, 11)
    db.session.add(Appointment(practice_id=s.practice.id, source="booking", external_id="ext-1", starts_at=start,
                               ends_at=start + timedelta(minutes=30), therapist_id=s.anna.id,
                               therapist_name="Anna Berger", service_name="Erstgespräch"))
    db.session.commit()
    auth.login("admin")
    response = client.post("/scheduling/absences", headers=htmx("scheduling-absences"), data={
        "doctor": str(s.anna.id), "start_time": "2037-05-05T10:00", "end_time": "2037-05-05T12:00",
        "reason": "vacation"})
    body = response.get_data(as_text=True)
    assert COLLIDES in body and "Erstgespräch" in body and "05.05.2037, 11:00" in body


def test_api_opening_hours_and_breaks_answer_with_what_now_collides(client, s, db, booked, make_user, make_token):
    admin = bearer(make_token(make_user(role="admin")))
    row = db.session.scalar(select(OpeningHours).where(OpeningHours.weekday == TUESDAY.weekday()))
    narrowed = client.patch(f"/api/practice-hours/{row.id}/", json={"start_time": "10:00"}, headers=admin)
    assert narrowed.status_code == 200
    assert [found["id"] for found in narrowed.json["collisions"]] == [booked.id]
    assert narrowed.json["collisions"][0]["reasons"]
    pause = client.post("/api/doctor-breaks/", json={"doctor": s.ben.id, "weekday": 1, "start_time": "09:00",
                                                      "end_time": "09:30"}, headers=admin)
    assert pause.status_code == 201 and pause.json["collisions"] == []


def test_practice_opens_on_a_holiday_on_purpose(client, auth, s, db):
    auth.login("admin")
    workday = client.post("/scheduling/holidays", headers=htmx("scheduling-holidays"), data={"date": "2037-05-05"})
    assert workday.status_code == 422 and "kein Feiertag" in workday.get_data(as_text=True)
    opened = client.post("/scheduling/holidays", headers=htmx("scheduling-holidays"),
                         data={"date": CORPUS_CHRISTI.isoformat()})
    assert opened.status_code == 200 and "Fronleichnam" in opened.get_data(as_text=True)
    twice = client.post("/scheduling/holidays", headers=htmx("scheduling-holidays"),
                        data={"date": CORPUS_CHRISTI.isoformat()})
    assert twice.status_code == 422
    booked = book(Actor(s.anna), s.practice, BookingRequest(type_id=s.kg.id, therapist_id=s.anna.id,
                                                            location_id=s.location.id,
                                                            start=local(CORPUS_CHRISTI, 9)))
    opening = db.session.scalar(select(HolidayOpening))
    closed = client.post(f"/scheduling/holidays/{opening.id}/delete", headers=htmx("scheduling-holidays"))
    assert COLLIDES in closed.get_data(as_text=True) and "04.06.2037, 09:00" in closed.get_data(as_text=True)
    assert booked.id and "holiday_opening.delete" in audit_actions(db)
