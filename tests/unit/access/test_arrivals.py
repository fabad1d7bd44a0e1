"""A granted check-in marks the patient's appointment today arrived (issue 19 item 8), in the log row's transaction:
only today's (practice time zone) and this practice's, never moved by a re-entry, cleared when staff turn the
person away after all, audited; and the home page's lookup reads arrivals in one statement."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.access.arrivals import arrivals
from app.access.checkins import check_in, override
from app.access.memberships import link_membership
from app.appointments.models import Appointment
from app.platform.audit.models import AuditEntry
from app.platform.database import utcnow
from tests.helpers import audit_actions

GOOD = "FP-7Q2K9D4M"
# 09:12 in Berlin; a winter morning, so UTC+1.
NOW = datetime(2026, 12, 15, 8, 12, tzinfo=UTC)
_numbers = iter(range(1, 10_000))


def appointment(db, patient, starts, minutes=30, status="scheduled", practice_id=None, source="calcom"):
    row = Appointment(practice_id=practice_id or patient.practice_id, patient_id=patient.id, source=source,
                      external_id=f"ext-{next(_numbers)}", starts_at=starts,
                      ends_at=starts + timedelta(minutes=minutes), status=status)
    db.session.add(row)
    db.session.commit()
    return row


def linked(desk, practice, make_patient):
    patient = make_patient(first_name="Lea", last_name="Brunner")
    link_membership(desk, practice.id, "fitpass", GOOD, patient_id=patient.id)
    return patient


def test_check_in_marks_todays_appointment_arrived(db, practice, location, enable, desk, make_patient):
    enable(location)
    patient = linked(desk, practice, make_patient)
    earlier = appointment(db, patient, NOW - timedelta(hours=2))  # over already
    soon = appointment(db, patient, NOW + timedelta(minutes=18))
    later = appointment(db, patient, NOW + timedelta(hours=5))
    row = check_in(desk, location, GOOD, now=NOW).checkin
    assert row.decision == "allow"
    db.session.expire_all()
    assert db.session.get(Appointment, soon.id).arrived_at == NOW
    assert db.session.get(Appointment, soon.id).arrived_checkin_id == row.id
    assert db.session.get(Appointment, earlier.id).arrived_at is None
    assert db.session.get(Appointment, later.id).arrived_at is None
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "appointment.arrived")).all()
    assert [(entry.object_id, entry.patient_id, entry.user_id) for entry in entries] == [
        (str(soon.id), patient.id, desk.user.id)]


def test_current_appointment_is_marked_and_cancelled_ones_are_not(db, practice, location, enable, desk,
                                                                   make_patient):
    enable(location)
    patient = linked(desk, practice, make_patient)
    cancelled = appointment(db, patient, NOW - timedelta(minutes=5), status="cancelled")
    running = appointment(db, patient, NOW - timedelta(minutes=10), source="booking")
    check_in(desk, location, GOOD, now=NOW)
    db.session.expire_all()
    assert db.session.get(Appointment, running.id).arrived_at == NOW
    assert db.session.get(Appointment, cancelled.id).arrived_at is None


def test_no_appointment_today_marks_nothing(db, practice, location, enable, desk, make_patient):
    enable(location)
    patient = linked(desk, practice, make_patient)
    tomorrow = appointment(db, patient, NOW + timedelta(days=1))
    row = check_in(desk, location, GOOD, now=NOW).checkin
    assert row.granted
    db.session.expire_all()
    assert db.session.get(Appointment, tomorrow.id).arrived_at is None
    assert audit_actions(db, action="appointment.arrived") == []


def test_the_practices_day_decides_not_utcs(db, practice, location, enable, desk, make_patient):
    """At 00:30 Berlin time (23:30 UTC the day before) an appointment at 08:00 Berlin is today's."""
    enable(location)
    patient = linked(desk, practice, make_patient)
    late = datetime(2026, 12, 15, 23, 30, tzinfo=UTC)
    morning = appointment(db, patient, datetime(2026, 12, 16, 7, 0, tzinfo=UTC))
    check_in(desk, location, GOOD, now=late)
    db.session.expire_all()
    assert db.session.get(Appointment, morning.id).arrived_at == late


def test_an_appointment_at_another_practice_is_left_alone(db, practice, other_practice, location, enable, desk,
                                                          make_patient):
    enable(location)
    patient = linked(desk, practice, make_patient)
    elsewhere = appointment(db, patient, NOW + timedelta(minutes=20), practice_id=other_practice.id)
    check_in(desk, location, GOOD, now=NOW)
    db.session.expire_all()
    assert db.session.get(Appointment, elsewhere.id).arrived_at is None


def test_a_member_without_a_record_or_a_refusal_marks_nothing(db, practice, location, enable, desk, make_patient,
                                                              fitpass_server):
    enable(location)
    patient = make_patient()
    link_membership(desk, practice.id, "fitpass", "FP-ENDED005", patient_id=patient.id)
    link_membership(desk, practice.id, "fitpass", GOOD, member_name="Kursmitglied")
    booked = appointment(db, patient, NOW + timedelta(minutes=20))
    assert check_in(desk, location, "FP-ENDED005", now=NOW).checkin.decision == "deny_expired"
    assert check_in(desk, location, GOOD, now=NOW).checkin.granted
    db.session.expire_all()
    assert db.session.get(Appointment, booked.id).arrived_at is None


def test_reentry_does_not_move_the_arrival(db, practice, location, enable, desk, make_patient, fitpass_server):
    enable(location)
    patient = linked(desk, practice, make_patient)
    first = appointment(db, patient, NOW + timedelta(minutes=10))
    second = appointment(db, patient, NOW + timedelta(hours=2))
    check_in(desk, location, GOOD, now=NOW)
    reentry = check_in(desk, location, GOOD, now=NOW + timedelta(hours=1)).checkin
    assert reentry.decision == "allow_reentry" and len(fitpass_server.requests) == 1
    db.session.expire_all()
    assert db.session.get(Appointment, first.id).arrived_at == NOW
    assert db.session.get(Appointment, second.id).arrived_at is None  # the same visit, not a new arrival
    assert len(audit_actions(db, action="appointment.arrived")) == 1


def test_staff_override_grants_and_refusals(db, practice, location, enable, desk, make_patient, fitpass_server):
    enable(location)
    patient = linked(desk, practice, make_patient)
    # overrides are stamped with the real time, so this appointment runs now (started 5 minutes ago)
    booked = appointment(db, patient, utcnow() - timedelta(minutes=5), minutes=60)
    fitpass_server.set_scenario("down")
    refused = check_in(desk, location, GOOD).checkin
    assert not refused.granted
    db.session.expire_all()
    assert db.session.get(Appointment, booked.id).arrived_at is None
    granted = override(desk, refused, "grant", "Mitgliedskarte vorgezeigt")
    db.session.expire_all()
    assert db.session.get(Appointment, booked.id).arrived_checkin_id == granted.id
    override(desk, granted, "deny", "Doch kein gültiges Abo")
    db.session.expire_all()
    assert db.session.get(Appointment, booked.id).arrived_at is None
    assert len(audit_actions(db, action="appointment.arrival_cleared")) == 1


def test_home_lookup_answers_in_one_statement(db, practice, other_practice, location, enable, desk, make_patient,
                                              sql_statements):
    enable(location)
    patient = linked(desk, practice, make_patient)
    booked = appointment(db, patient, NOW + timedelta(minutes=20))
    waiting = appointment(db, make_patient(), NOW + timedelta(minutes=40))
    check_in(desk, location, GOOD, now=NOW)
    practice_id, ids = practice.id, [booked.id, waiting.id]
    with sql_statements() as sent:
        found = arrivals(practice_id, ids)
    assert found == {ids[0]: NOW} and len(sent) == 1
    assert arrivals(other_practice.id, [booked.id]) == {}


def test_termine_tab_shows_the_arrival_time(client, auth, db, practice, location, enable, desk, make_patient):
    """In German, in the practice's time: "angekommen 09:12" beside the appointment's status."""
    enable(location)
    patient = linked(desk, practice, make_patient)
    booked = appointment(db, patient, NOW + timedelta(minutes=18))
    waiting = appointment(db, patient, NOW + timedelta(days=1))
    check_in(desk, location, GOOD, now=NOW)
    auth.login("assistant")
    body = client.get(f"/patients/{patient.id}/termine").get_data(as_text=True)
    assert f'id="appointment-arrived-{booked.id}"' in body and "angekommen 09:12" in body
    assert f'id="appointment-arrived-{waiting.id}"' not in body
