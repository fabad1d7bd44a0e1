"""The receiver's fast path for a booking tool's new patient (app.webhooks.fast_patient): on PostgreSQL the event,
the patient, its review and audit entries, the link of earlier appointments and the attempt are one statement,
with exactly the rows of the general path (which SQLite always takes); whatever else the import's rules decide,
and a statement that fails, go down the general path."""

import itertools

import pytest
from sqlalchemy import insert, select

from app.appointments.models import Appointment
from app.patients.collation import name_sort_key
from app.patients.models import Patient, build_search_text
from app.patients.reviews.models import PatientReview
from app.platform.audit.models import AuditEntry
from app.platform.database import utcnow
from app.platform.security.actor import Actor
from app.webhooks import endpoints as webhook_endpoints
from app.webhooks import fast_patient
from app.webhooks.models import WebhookEvent
from tests.signers import booking_event, compact, sign_booking

_numbers = itertools.count(1)


@pytest.fixture
def booking(db, practice):
    """The practice's booking endpoint and its secret."""
    return webhook_endpoints.create_endpoint(Actor(practice_id=practice.id), "booking")


def _send(client, booking, event_type="patient.created", msg_id=None, **data):
    """POST one patient of the booking tool; returns the response."""
    endpoint, secret = booking
    msg_id = msg_id or f"msg_patient_{next(_numbers)}"
    body = compact(booking_event(event_type, data, event_id=msg_id))
    return client.post(f"/api/webhooks/booking/{endpoint.public_id}", data=body,
                       headers=sign_booking(secret, body, msg_id=msg_id))


def _patient(number, **fields):
    return {"patient_id": f"BP-{number}", "first_name": "Jana", "last_name": f"Nowak{number}",
            "email": f"Jana.Nowak{number}@Example.de", "phone": "0170 1234567", "birth_date": "1984-03-0" + str(number),
            **fields}


def _earlier_appointment(db, practice, number):
    """An appointment of booking patient BP-<number> that came before its patient."""
    start = utcnow()
    db.session.execute(insert(Appointment).values(
        practice_id=practice.id, source="booking", external_id=f"A-{number}", patient_external_id=f"BP-{number}",
        starts_at=start, ends_at=start, status="scheduled", synced_at=start, created_at=start))
    db.session.commit()


def _rows(db, answer):
    """What an event left: (patient, review, audit entry, attempt, linked appointment's patient id)."""
    db.session.expire_all()
    event = db.session.get(WebhookEvent, answer.json["event_id"])
    [attempt] = event.attempts
    patient_id = int(attempt.detail.split()[1].rstrip(":"))
    patient = db.session.get(Patient, patient_id)
    review = db.session.scalar(select(PatientReview).where(PatientReview.patient_id == patient_id))
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.patient_id == patient_id))
    linked = db.session.scalar(select(Appointment.patient_id).where(
        Appointment.patient_external_id == patient.booking_system_id))
    return event, patient, review, entry, attempt, linked


def test_a_new_patient_is_written_as_the_general_path_writes_it(client, db, practice, booking, make_user,
                                                                 sql_statements, monkeypatch):
    """Two new patients, one on the fast path and one with the fast path turned off: patient, review entry, audit
    entry, attempt and the linked earlier appointment are alike; on PostgreSQL the fast path's writes are one
    statement."""
    therapist = make_user("therapist")
    practice.settings = {**(practice.settings or {}), "default_therapist_id": therapist.id}
    db.session.commit()
    _earlier_appointment(db, practice, 1)
    _earlier_appointment(db, practice, 2)
    with sql_statements() as sent:
        fast = _send(client, booking, **_patient(1))
    monkeypatch.setattr(fast_patient, "store_and_create_patient", lambda *args: None)
    general = _send(client, booking, **_patient(2))
    assert fast.status_code == general.status_code == 200
    assert fast.json["status"] == general.json["status"] == "processed"
    if db.engine.dialect.name == "postgresql":
        writes = [statement for statement in sent if not statement.startswith("SELECT")]
        assert len(writes) == 1 and " ".join(writes[0].split()).startswith("WITH ev AS (INSERT INTO webhook_events")
    both = [_rows(db, fast), _rows(db, general)]
    for number, (event, patient, _review, entry, attempt, linked) in enumerate(both, start=1):
        assert (patient.first_name, patient.last_name, patient.booking_system_id) == (
            "Jana", f"Nowak{number}", f"BP-{number}")
        assert patient.email == patient.booking_email == f"Jana.Nowak{number}@example.de"  # the domain lowered
        assert patient.email_normalized == patient.email.lower() and patient.birth_date.day == number
        assert patient.search_text == build_search_text(patient.first_name, patient.last_name, patient.email,
                                                        patient.phone, patient.birth_date, patient.booking_system_id)
        assert patient.sort_name == name_sort_key(patient.last_name, patient.first_name)
        assert (entry.object_id, attempt.detail, linked) == (str(patient.id), f"patient {patient.id}: create",
                                                             patient.id)
        assert event.outcome == "accepted"
    (_, patient_1, review_1, entry_1, attempt_1, _), (_, patient_2, review_2, entry_2, attempt_2, _) = both
    assert patient_1.therapist_id == therapist.id
    for name in ("practice_id", "phone", "therapist_id", "source", "archived_at", "merged_into_id"):
        assert getattr(patient_1, name) == getattr(patient_2, name), name
    assert (review_1.practice_id, review_1.source, review_1.status, review_1.decided_at) == (
        review_2.practice_id, review_2.source, review_2.status, review_2.decided_at)
    assert (entry_1.practice_id, entry_1.action, entry_1.object_type, entry_1.meta, entry_1.user_id, entry_1.ip) == (
        entry_2.practice_id, entry_2.action, entry_2.object_type, entry_2.meta, entry_2.user_id, entry_2.ip)
    assert (attempt_1.number, attempt_1.outcome, attempt_1.triggered_by, attempt_1.error,
            attempt_1.next_retry_at) == (attempt_2.number, attempt_2.outcome, attempt_2.triggered_by,
                                         attempt_2.error, attempt_2.next_retry_at)


def test_a_known_patient_goes_down_the_general_path(client, db, booking):
    """The second event of a patient links (or updates) the record, as the import's rules say: no new patient."""
    assert _send(client, booking, **_patient(3)).json["status"] == "processed"
    answer = _send(client, booking, event_type="patient.updated", **_patient(3, phone="0170 7654321"))
    assert answer.json["status"] == "processed"
    [patient] = db.session.scalars(select(Patient)).all()
    assert patient.phone.endswith("7654321")


def test_a_patient_created_meanwhile_sends_the_event_down_the_general_path(client, db, practice, booking,
                                                                           monkeypatch):
    """Between the plan and the write another event creates the patient with the same booking id: the statement
    fails at the unique booking id and leaves nothing; the general path plans again and links the record."""
    planned = fast_patient.new_patient_values

    def plan_then_race(*args):
        values = planned(*args)
        db.session.execute(insert(Patient).values(
            practice_id=practice.id, first_name="Jana", last_name="Nowak4", booking_system_id="BP-4",
            source="booking", search_text="", sort_name="nowak4 jana", created_at=utcnow(), updated_at=utcnow()))
        db.session.commit()
        return values

    monkeypatch.setattr(fast_patient, "new_patient_values", plan_then_race)
    answer = _send(client, booking, **_patient(4))
    assert answer.status_code == 200 and answer.json["status"] == "processed"
    assert db.session.scalars(select(Patient.booking_system_id)).all() == ["BP-4"]
    assert db.session.scalars(select(WebhookEvent.outcome)).all() == ["accepted"]


def test_a_second_delivery_of_a_new_patient_is_a_duplicate(client, db, booking):
    first = _send(client, booking, msg_id="msg_patient_twice", **_patient(5))
    second = _send(client, booking, msg_id="msg_patient_twice", **_patient(5))
    assert (second.status_code, second.json) == (200, {"status": "duplicate", "event_id": first.json["event_id"]})
    assert len(db.session.scalars(select(Patient)).all()) == 1


def test_a_plan_that_fails_leaves_the_event_to_the_general_path(client, db, booking, monkeypatch):
    """Whatever the fast path's plan meets, the sender never sees a 5xx: the general path plans again and stores
    the event as it would have."""

    def failing(*args):
        raise RuntimeError("the plan failed")

    monkeypatch.setattr(fast_patient, "new_patient_values", failing)
    answer = _send(client, booking, **_patient(6))
    assert answer.status_code == 200 and answer.json["status"] == "processed"
    assert db.session.scalars(select(Patient.booking_system_id)).all() == ["BP-6"]


@pytest.mark.parametrize("change", ["deactivated", "made an admin", "gone to another practice"])
def test_a_default_therapist_no_longer_suitable_is_not_assigned(client, db, practice, booking, make_user,
                                                                 make_practice, monkeypatch, change):
    """The chosen default therapist is checked as the patient is written: one deactivated, no longer a therapist
    or now of another practice is not assigned, on the fast path as on the general path."""
    therapist = make_user("therapist")
    practice.settings = {**(practice.settings or {}), "default_therapist_id": therapist.id}
    if change == "deactivated":
        therapist.active = False
    elif change == "made an admin":
        therapist.role = "admin"
    else:
        therapist.practice_id = make_practice().id
    db.session.commit()
    fast = _send(client, booking, **_patient(7))
    monkeypatch.setattr(fast_patient, "store_and_create_patient", lambda *args: None)
    general = _send(client, booking, **_patient(8))
    assert fast.json["status"] == general.json["status"] == "processed"
    assert [_rows(db, answer)[1].therapist_id for answer in (fast, general)] == [None, None]
