"""The webhook receiver end to end through HTTP: real signatures, the answers of DESIGN.md §5, what is stored,
and what each event does to patients, appointments and calls."""

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.appointments.models import Appointment, Call
from app.patients.importing.models import PatientImportJob
from app.patients.models import Patient
from app.platform.jobs.models import Job
from app.platform.jobs.queue import claim_next, run_job
from app.platform.security.actor import Actor
from app.platform.security.crypto import decrypt_secret
from app.webhooks import endpoints as webhook_endpoints
from app.webhooks import ingest as webhook_ingest
from app.webhooks.models import WebhookEvent, WebhookEventAttempt, WebhookRejection
from tests.signers import booking_event, compact, sign_booking, sign_calcom, sign_retell

CONTRACTS = Path(__file__).resolve().parents[2] / "fixtures" / "contracts"


def _url(endpoint):
    return f"/api/webhooks/{endpoint.source}/{endpoint.public_id}"


@pytest.fixture
def send_booking(client, endpoints):
    """POST a booking-tool event signed with the endpoint's secret; returns the response."""
    endpoint, secret = endpoints["booking"]
    numbers = itertools.count(1)

    def send(event_type, data, msg_id=None, secret=secret, timestamp=None):
        msg_id = msg_id or f"msg_{next(numbers)}"
        body = compact(booking_event(event_type, data, event_id=msg_id))
        return client.post(_url(endpoint), data=body,
                           headers=sign_booking(secret, body, msg_id=msg_id, timestamp=timestamp))

    return send


PATIENT = {"patient_id": "B-100", "first_name": "Lena", "last_name": "Becker", "email": "Lena.Becker@example.test",
           "phone": "0170 1234567", "birth_date": "1980-03-12"}


def _appointment(**changes):
    data = {"appointment_id": "A-1", "patient_id": "B-100", "start": "2030-05-04T09:30:00+02:00",
            "duration_minutes": 45, "therapist_name": "Dr. Maria Weber", "service_name": "Physiotherapie",
            "status": "scheduled", "updated_at": "2030-05-01T08:00:00+02:00"}
    data.update(changes)
    return data


def _events(db, **filters):
    query = select(WebhookEvent).order_by(WebhookEvent.id)
    for column, value in filters.items():
        query = query.where(getattr(WebhookEvent, column) == value)
    return list(db.session.scalars(query))


def test_a_patient_event_creates_the_patient_with_the_default_therapist(db, practice, make_user, send_booking):
    therapist = make_user("therapist", name="Dr. Maria Weber")
    practice.settings = {"default_therapist_id": therapist.id}
    db.session.commit()

    response = send_booking("patient.created", PATIENT)

    assert response.status_code == 200
    assert response.json["status"] == "processed"
    patient = db.session.scalar(select(Patient).where(Patient.booking_system_id == "B-100"))
    assert (patient.first_name, patient.email, patient.phone) == ("Lena", "Lena.Becker@example.test", "+491701234567")
    assert patient.therapist_id == therapist.id and patient.source == "booking"
    [event] = _events(db)
    assert event.outcome == "accepted" and event.event_type == "patient.created" and event.secret_version == 1
    assert "Lena" not in event.payload and json.loads(decrypt_secret(event.payload))["data"]["first_name"] == "Lena"
    assert "Becker" not in event.preview and "1980" not in event.preview
    [attempt] = event.attempts
    assert (attempt.outcome, attempt.triggered_by) == ("processed", "receipt")


def test_same_name_and_birth_date_with_another_email_is_flagged_not_merged(db, make_patient, send_booking):
    existing = make_patient(first_name="Lena", last_name="Becker", email="lena@other.test",
                            birth_date=datetime(1980, 3, 12).date())

    response = send_booking("patient.created", PATIENT)

    assert response.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 1
    assert db.session.get(Patient, existing.id).booking_system_id is None
    review = db.session.scalar(select(PatientImportJob).where(PatientImportJob.origin == "webhook"))
    assert review.status == "previewed" and review.counts["flagged"] == 1
    assert "flagged" in _events(db)[0].attempts[0].detail


def test_appointments_are_upserted_in_order_and_cancelled_ones_stay(db, make_user, send_booking):
    weber = make_user("therapist", name="Dr. Maria Weber")
    send_booking("patient.created", PATIENT)

    assert send_booking("appointment.created", _appointment()).json["status"] == "processed"
    appointment = db.session.scalar(select(Appointment))
    assert appointment.patient.booking_system_id == "B-100" and appointment.therapist_id == weber.id
    assert appointment.starts_at == datetime(2030, 5, 4, 7, 30, tzinfo=UTC)
    assert appointment.ends_at - appointment.starts_at == timedelta(minutes=45)

    newer = _appointment(start="2030-05-05T10:00:00+02:00", updated_at="2030-05-02T08:00:00+02:00")
    assert send_booking("appointment.updated", newer).json["status"] == "processed"
    older = _appointment(start="2030-06-01T10:00:00+02:00", updated_at="2030-05-01T09:00:00+02:00")
    assert send_booking("appointment.updated", older).json["status"] == "ignored"
    db.session.expire_all()
    assert db.session.scalar(select(Appointment)).starts_at == datetime(2030, 5, 5, 8, 0, tzinfo=UTC)

    cancelled = _appointment(status="cancelled", updated_at="2030-05-03T08:00:00+02:00")
    assert send_booking("appointment.cancelled", cancelled).json["status"] == "processed"
    db.session.expire_all()
    assert [a.status for a in db.session.scalars(select(Appointment))] == ["cancelled"]


def test_an_appointment_before_its_patient_is_linked_when_the_patient_arrives(db, send_booking):
    send_booking("appointment.created", _appointment())
    assert db.session.scalar(select(Appointment)).patient_id is None

    send_booking("patient.created", PATIENT)

    db.session.expire_all()
    assert db.session.scalar(select(Appointment)).patient.booking_system_id == "B-100"


def test_a_redelivered_event_is_logged_as_duplicate_and_applied_once(db, send_booking):
    first = send_booking("appointment.created", _appointment(), msg_id="msg_same")
    again = send_booking("appointment.created", _appointment(), msg_id="msg_same")

    assert first.json["status"] == "processed"
    assert again.status_code == 200 and again.json == {"status": "duplicate", "event_id": first.json["event_id"]}
    assert [event.outcome for event in _events(db)] == ["accepted", "duplicate"]
    assert _events(db)[1].payload is None
    assert db.session.scalar(select(func.count()).select_from(WebhookEventAttempt)) == 1


@pytest.mark.parametrize("tamper", ["wrong_secret", "stale", "future", "truncated", "no_signature"])
def test_bad_signatures_are_rejected_and_counted_without_the_body(db, client, endpoints, tamper):
    endpoint, secret = endpoints["booking"]
    body = compact(booking_event("patient.created", PATIENT, event_id="msg_x"))
    timestamp = {"stale": datetime.now(UTC) - timedelta(minutes=6),
                 "future": datetime.now(UTC) + timedelta(minutes=6)}.get(tamper)
    signing_secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" if tamper == "wrong_secret" else secret
    headers = sign_booking(signing_secret, body, msg_id="msg_x", timestamp=timestamp)
    if tamper == "truncated":
        body = body[:-5]
    if tamper == "no_signature":
        del headers["webhook-signature"]

    response = client.post(_url(endpoint), data=body, headers=headers)

    assert response.status_code == 401
    assert response.json["status"] == "rejected" and response.json["reason"].startswith("invalid signature")
    assert _events(db) == []  # nothing of an unsigned request is stored, only counted
    [counted] = db.session.scalars(select(WebhookRejection)).all()
    assert (counted.endpoint_id, counted.reason, counted.count) == (endpoint.id, response.json["reason"], 1)
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 0


def test_the_previous_secret_verifies_until_its_grace_period_ends(app, db, practice, endpoints, send_booking):
    endpoint, old_secret = endpoints["booking"]
    new_secret = webhook_endpoints.rotate_secret(Actor(practice_id=practice.id), endpoint)

    assert send_booking("patient.created", PATIENT, msg_id="m1", secret=old_secret).status_code == 200
    assert send_booking("patient.updated", PATIENT, msg_id="m2", secret=new_secret).status_code == 200
    assert [event.secret_version for event in _events(db)] == [1, 2]

    endpoint.previous_valid_until = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    assert send_booking("patient.updated", PATIENT, msg_id="m3", secret=old_secret).status_code == 401


@pytest.mark.parametrize(("body", "reason"), [
    ('{"id": "x", "type": "appointment.created"', "malformed JSON"),
    ('["not", "an", "object"]', "malformed event"),
    (compact(booking_event("appointment.created", {"appointment_id": "A-9"}, event_id="m")), "data.start"),
])
def test_malformed_signed_bodies_answer_400_with_the_reason(db, client, endpoints, body, reason):
    endpoint, secret = endpoints["booking"]

    response = client.post(_url(endpoint), data=body, headers=sign_booking(secret, body, msg_id="m"))

    assert response.status_code == 400
    assert reason in response.json["reason"]
    [event] = _events(db)
    assert (event.outcome, event.reject_reason, event.secret_version) == ("rejected", response.json["reason"], 1)
    assert decrypt_secret(event.payload) == body  # signed by the sender: kept, encrypted


def test_http_level_refusals(app, db, client, endpoints):
    endpoint, secret = endpoints["booking"]
    body = compact(booking_event("patient.created", PATIENT, event_id="m"))
    headers = sign_booking(secret, body, msg_id="m")

    assert client.post("/api/webhooks/booking/nope", data=body, headers=headers).status_code == 404
    assert client.post(f"/api/webhooks/calcom/{endpoint.public_id}", data=body, headers=headers).status_code == 404
    assert client.post(f"/api/webhooks/unknown/{endpoint.public_id}", data=body, headers=headers).status_code == 404
    form = client.post(_url(endpoint), data=body, headers={**headers, "Content-Type": "text/plain"})
    assert form.status_code == 415 and "JSON" in form.json["reason"]
    huge = '{"pad": "' + "x" * app.config["WEBHOOK_MAX_BYTES"] + '"}'
    too_large = client.post(_url(endpoint), data=huge, headers=sign_booking(secret, huge, msg_id="big"))
    assert too_large.status_code == 413
    webhook_endpoints.set_active(Actor(practice_id=endpoint.practice_id), endpoint, False)
    assert client.post(_url(endpoint), data=body, headers=headers).status_code == 404
    assert _events(db) == []
    counted = db.session.scalars(select(WebhookRejection).order_by(WebhookRejection.id)).all()
    assert [(row.reason[:20], row.count) for row in counted] == [("the body must be JSO", 1),
                                                                  ("the body is larger t", 1)]


def _calcom_body(name):
    return compact(json.loads((CONTRACTS / "calcom" / "webhooks" / f"{name}.json").read_text()))


def test_calcom_bookings_create_patients_and_reschedules_mark_the_old_booking(db, client, endpoints):
    endpoint, secret = endpoints["calcom"]

    for name in ("BOOKING_CREATED", "BOOKING_RESCHEDULED"):
        body = _calcom_body(name)
        response = client.post(_url(endpoint), data=body, headers=sign_calcom(secret, body))
        assert response.status_code == 200, response.json

    patient = db.session.scalar(select(Patient))
    assert (patient.email, patient.source) == ("guest@example.com", "calcom")
    appointments = {a.external_id: a for a in db.session.scalars(select(Appointment))}
    assert appointments["new-booking-unique-id"].status == "scheduled"
    assert appointments["new-booking-unique-id"].patient_id == patient.id


def test_calcom_ping_is_answered_and_logged_as_ignored(db, client, endpoints):
    endpoint, secret = endpoints["calcom"]
    body = _calcom_body("PING")

    response = client.post(_url(endpoint), data=body, headers=sign_calcom(secret, body))

    assert response.status_code == 200 and response.json["status"] == "ignored"
    assert _events(db)[0].attempts[0].outcome == "ignored"


def test_calcom_signature_over_other_bytes_is_rejected(db, client, endpoints):
    endpoint, secret = endpoints["calcom"]
    pretty = (CONTRACTS / "calcom" / "webhooks" / "BOOKING_CREATED.json").read_text()

    response = client.post(_url(endpoint), data=pretty, headers=sign_calcom(secret, _calcom_body("BOOKING_CREATED")))

    assert response.status_code == 401


def test_retell_calls_are_logged_with_an_encrypted_transcript_and_linked_by_phone(db, client, endpoints,
                                                                                 make_patient):
    endpoint, api_key = endpoints["retell"]
    analyzed = json.loads((CONTRACTS / "retell" / "webhook_call_analyzed.synthetic.json").read_text())
    caller = make_patient(first_name="Tom", last_name="Caller", phone=analyzed["call"]["from_number"])

    for name in ("webhook_call_started.synthetic.json", "webhook_call_analyzed.synthetic.json",
                 "webhook_call_ended.synthetic.json"):
        body = compact(json.loads((CONTRACTS / "retell" / name).read_text()))
        response = client.post(_url(endpoint), data=body, headers=sign_retell(api_key, body))
        assert response.status_code == 200, response.json

    call = db.session.scalar(select(Call))
    assert call.patient_id == caller.id and call.stage == 3
    assert call.summary == analyzed["call"]["call_analysis"]["call_summary"]
    assert call.transcript != analyzed["call"]["transcript"]
    assert decrypt_secret(call.transcript) == analyzed["call"]["transcript"]
    assert [e.attempts[0].outcome for e in _events(db)] == ["processed", "processed", "ignored"]


def test_an_event_that_fails_to_apply_is_stored_answered_202_and_retried(app, db, make_patient, send_booking):
    # The booking tool sends an email that belongs to a patient linked to another booking id: the import rules
    # refuse to guess. The event is kept, retried by the worker, and applies once the admin has fixed the data.
    holder = make_patient(first_name="Lena", last_name="Becker", email="lena.becker@example.test",
                          booking_system_id="B-999")

    response = send_booking("patient.created", PATIENT)

    assert response.status_code == 202 and response.json["status"] == "accepted"
    [event] = _events(db)
    [attempt] = event.attempts
    assert attempt.outcome == "error" and attempt.next_retry_at is not None
    assert json.loads(attempt.error) == {"code": "email_linked_elsewhere", "patient_ids": [holder.id]}
    job = db.session.scalar(select(Job).where(Job.kind == "webhook_retry"))
    assert job.run_after == attempt.next_retry_at

    holder.booking_system_id = None
    db.session.commit()
    db.session.execute(text("UPDATE jobs SET run_after = :now"), {"now": datetime.now(UTC) - timedelta(seconds=1)})
    db.session.commit()
    run_job(claim_next("test-worker"))

    db.session.expire_all()
    latest = webhook_ingest.latest_attempt(event.id)
    assert (latest.number, latest.outcome, latest.triggered_by) == (2, "processed", "retry")
    assert db.session.get(Patient, holder.id).booking_system_id == "B-100"


def test_an_event_is_listed_as_failed_after_the_last_retry(app, db, make_patient, send_booking):
    make_patient(first_name="Lena", last_name="Becker", email="lena.becker@example.test", booking_system_id="B-999")
    app.config["WEBHOOK_RETRY_DELAYS"] = (0, 0)

    send_booking("patient.created", PATIENT)
    for _attempt in range(2):
        run_job(claim_next("test-worker"))

    event = _events(db)[0]
    latest = webhook_ingest.latest_attempt(event.id)
    assert (latest.number, latest.outcome, latest.next_retry_at) == (3, "error", None)
    assert claim_next("test-worker") is None


def test_an_admin_replays_an_event(db, make_user, send_booking):
    admin = make_user("admin")
    send_booking("appointment.created", _appointment())
    event = _events(db)[0]

    attempt = webhook_ingest.replay(Actor(user=admin), event)

    assert (attempt.number, attempt.triggered_by, attempt.user_id) == (2, "replay", admin.id)
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1
