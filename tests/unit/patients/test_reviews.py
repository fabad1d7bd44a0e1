"""The review list of patients created from outside: Cal.com attendees and the booking tool's new patients are
held for review; accept, link (appointments and calls move, the created record is archived, later bookings find
the existing patient) and ignore, each once and audited. Also: an unmapped Cal.com host is no therapist."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.appointments.models import Appointment, Call
from app.appointments.reading import therapist_label
from app.appointments.service import apply_appointment, apply_patient
from app.integrations import mappings
from app.integrations.models import MAP_USER
from app.patients.models import Patient
from app.patients.reviews.models import PatientReview
from app.patients.reviews.service import (
    accept,
    ignore,
    likely_matches,
    link,
    pending_count,
    pending_panel,
)
from app.platform.database import utcnow
from app.platform.errors import ServiceError
from app.platform.security.actor import Actor
from app.providers.events import SCHEDULED, AppointmentRecord, MappingKey, PatientRecord
from tests.helpers import audit_actions


def booking(external_id, email, name="Peter Schneider", host="Jonas Wolf", host_email="jonas@cal.example"):
    """A Cal.com booking of attendee ``email`` tomorrow."""
    start = utcnow() + timedelta(days=1)
    return AppointmentRecord(source="calcom", external_id=external_id, starts_at=start,
                             ends_at=start + timedelta(minutes=30), status=SCHEDULED, attendee_name=name,
                             attendee_email=email, therapist_name=host, therapist_email=host_email,
                             source_updated_at=utcnow())


def review_of(db, patient_id):
    """The review row of a patient."""
    return db.session.scalar(select(PatientReview).where(PatientReview.patient_id == patient_id))


@pytest.fixture
def admin(make_user):
    """The admin deciding."""
    return make_user(role="admin", name="Anna Admin")


@pytest.fixture
def synced(db, practice):
    """A Cal.com booking of an unknown attendee, applied as a sync does: returns (appointment, created patient)."""
    apply_appointment(Actor(practice_id=practice.id), practice, booking("bk-1", "peter@example.com"))
    db.session.commit()
    appointment = db.session.scalar(select(Appointment).where(Appointment.external_id == "bk-1"))
    return appointment, db.session.get(Patient, appointment.patient_id)


def test_a_calcom_attendee_who_is_new_is_held_for_review_once(db, practice, synced, admin):
    """The created patient is on the list (source Cal.com); a second booking of the same attendee adds nothing."""
    appointment, created = synced
    assert created.source == "calcom" and review_of(db, created.id).status == "pending"
    apply_appointment(Actor(practice_id=practice.id), practice, booking("bk-2", "Peter@Example.com"))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(PatientReview)) == 1
    assert pending_count(admin) == 1


def test_a_new_patient_of_the_booking_tool_is_held_but_an_update_is_not(db, practice, make_patient):
    """patient.created for an unknown patient puts them on the list; an event about a known one does not."""
    make_patient(booking_system_id="B-1", email="known@example.com", first_name="Kai", last_name="Bekannt")
    actor = Actor(practice_id=practice.id)
    apply_patient(actor, practice, PatientRecord(external_id="B-2", first_name="Nia", last_name="Neu",
                                                 email="nia@example.com"))
    apply_patient(actor, practice, PatientRecord(external_id="B-1", first_name="Kai", last_name="Bekannt",
                                                 email="known@example.com", phone="0170 1234567"))
    db.session.commit()
    reviews = db.session.scalars(select(PatientReview)).all()
    assert [(review.patient.booking_system_id, review.source) for review in reviews] == [("B-2", "booking")]


def test_accept_keeps_the_patient_with_the_chosen_therapist(db, practice, synced, admin, make_user):
    """Accepting keeps the record, sets the therapist chosen and records who decided; a non-therapist is refused."""
    _appointment, created = synced
    therapist = make_user(role="therapist")
    review = review_of(db, created.id)
    with pytest.raises(ServiceError):
        accept(Actor(admin), review, therapist_id=admin.id)
    accept(Actor(admin), review, therapist_id=therapist.id)
    review = review_of(db, created.id)
    assert review.status == "accepted" and review.decided_by_id == admin.id and review.decided_at is not None
    assert db.session.get(Patient, created.id).therapist_id == therapist.id
    assert "patient_review.accept" in audit_actions(db)


def test_link_moves_appointments_and_calls_archives_the_created_record_and_later_bookings_find_the_target(
        db, practice, synced, admin, make_patient):
    """Linking moves the appointment and the call to the existing patient, archives the created record, and the
    next booking of the same attendee lands on the existing patient without a new review."""
    appointment, created = synced
    target = make_patient(first_name="Peter", last_name="Schneider", email="p.schneider@praxis.example")
    db.session.add(Call(practice_id=practice.id, patient_id=created.id, external_id="c-1", started_at=utcnow()))
    db.session.commit()

    moved = link(Actor(admin), review_of(db, created.id), target)

    assert moved == {"appointments": 1, "calls": 1}
    assert db.session.get(Appointment, appointment.id).patient_id == target.id
    assert db.session.scalar(select(Call.patient_id)) == target.id
    created = db.session.get(Patient, created.id)
    assert created.archived_at is not None
    target = db.session.get(Patient, target.id)
    assert target.booking_email == "peter@example.com" and target.archived_at is None
    review = review_of(db, created.id)
    assert review.status == "linked" and review.linked_patient_id == target.id
    assert {"patient_review.link", "patient.archive"} <= set(audit_actions(db))

    apply_appointment(Actor(practice_id=practice.id), practice, booking("bk-3", "peter@example.com"))
    db.session.commit()
    later = db.session.scalar(select(Appointment).where(Appointment.external_id == "bk-3"))
    assert later.patient_id == target.id
    assert db.session.scalar(select(func.count()).select_from(PatientReview)) == 1


def test_link_hands_over_the_booking_id_and_refuses_a_patient_with_another(db, practice, admin, make_patient):
    """A booking-tool patient linked to a record without a booking id gives it the id; a target already linked to
    another booking-tool patient is refused and nothing changes."""
    actor = Actor(practice_id=practice.id)
    apply_patient(actor, practice, PatientRecord(external_id="B-9", first_name="Ute", last_name="Ufer"))
    apply_patient(actor, practice, PatientRecord(external_id="B-10", first_name="Olaf", last_name="Ort"))
    db.session.commit()
    ute, olaf = (db.session.scalar(select(Patient).where(Patient.booking_system_id == bid)) for bid in ("B-9", "B-10"))
    taken = make_patient(booking_system_id="B-77")
    free = make_patient()
    with pytest.raises(ServiceError):
        link(Actor(admin), review_of(db, ute.id), taken)
    assert review_of(db, ute.id).status == "pending" and db.session.get(Patient, ute.id).archived_at is None

    link(Actor(admin), review_of(db, olaf.id), free)
    assert db.session.get(Patient, free.id).booking_system_id == "B-10"
    assert db.session.get(Patient, olaf.id).booking_system_id is None


def test_ignore_archives_and_a_decision_is_taken_once(db, practice, synced, admin, make_patient):
    """Ignoring archives the created record; any later decision on the same review is refused."""
    _appointment, created = synced
    ignore(Actor(admin), review_of(db, created.id))
    assert db.session.get(Patient, created.id).archived_at is not None
    assert review_of(db, created.id).status == "ignored"
    with pytest.raises(ServiceError):
        accept(Actor(admin), review_of(db, created.id))
    with pytest.raises(ServiceError):
        link(Actor(admin), review_of(db, created.id), make_patient())
    assert review_of(db, created.id).status == "ignored"


def test_likely_matches_by_email_phone_or_name(db, practice, other_practice, synced, make_patient):
    """Same email, same name (any case of the first name) are offered; another practice's and archived are not."""
    _appointment, created = synced
    by_email = make_patient(email="peter@example.com", first_name="P.", last_name="S.")
    by_name = make_patient(first_name="peter", last_name="Schneider")
    make_patient(first_name="Paula", last_name="Schneider")
    make_patient(practice=other_practice, email="peter@example.com")
    make_patient(email="peter@example.com", archived_at=utcnow())
    found = likely_matches(review_of(db, created.id))
    assert {patient.id for patient in found} == {by_email.id, by_name.id}


def test_pending_panel_is_hidden_when_nothing_waits(db, practice, admin, synced, sql_statements):
    """The home panel shows the count and the newest pending patients in two statements; None when empty."""
    assert admin.practice_id == practice.id
    with sql_statements() as sent:
        panel = pending_panel(admin)
    assert panel["count"] == 1 and len(panel["reviews"]) == 1 and len(sent) == 2
    ignore(Actor(admin), review_of(db, synced[1].id))
    assert pending_panel(admin) is None


def test_an_unmapped_calcom_host_is_no_therapist(db, practice, make_user, synced):
    """A host matching no therapist (here an admin's email) is not mapped, and the appointment names no therapist;
    a host whose name is a therapist's is mapped to them, as the cache matches them."""
    admin = make_user(role="admin", email="chefin@praxis.example", name="Clara Chefin")
    therapist = make_user(role="therapist", name="Jonas Wolf")
    keys = (MappingKey(MAP_USER, "u-1", "Clara Chefin", admin.email),
            MappingKey(MAP_USER, "u-2", "Jonas Wolf", "jonas@cal.example"))
    resolved = mappings.resolve(practice.id, "calcom", keys)
    assert resolved[(MAP_USER, "u-1")].user_id is None
    assert resolved[(MAP_USER, "u-2")].user_id == therapist.id

    apply_appointment(Actor(practice_id=practice.id), practice,
                      booking("bk-admin", "peter@example.com", host="Clara Chefin", host_email=admin.email))
    db.session.commit()
    appointment = db.session.scalar(select(Appointment).where(Appointment.external_id == "bk-admin"))
    assert appointment.therapist_id is None and therapist_label(appointment) == ""
