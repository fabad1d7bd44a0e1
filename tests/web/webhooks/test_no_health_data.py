"""No health data where it must not be: every kind of webhook event that fails, is ignored or is refused, sent
with distinctive personal values, leaves none of them (names, emails, phones, birth dates, the booking tool's
patient ids, free text) in the application log, in the attempts of the event log or in a reject reason. The
admin still reads what went wrong: the event page builds the message from the stored ids and field names."""

import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.platform.audit.models import AuditEntry
from app.platform.jobs.queue import claim_next, run_job
from app.platform.security.actor import Actor
from app.webhooks import ingest as webhook_ingest
from app.webhooks.failures import describe_error
from app.webhooks.models import WebhookEvent, WebhookEventAttempt
from tests.signers import booking_event, compact, sign_booking, sign_calcom, sign_retell

CONTRACTS = Path(__file__).resolve().parents[2] / "fixtures" / "contracts"

# Everything personal the events below carry; none of it may be logged or stored outside the encrypted payload
# and the patient records themselves.
PERSONAL_VALUES = (
    "Greta", "Quendelbaum", "greta.quendelbaum@example.test", "GA-77331", "GB-20468",
    "Otto", "Brennesselmann", "otto.brennesselmann@example.test",
    "Hans", "Meierlingsen", "hans.meierlingsen@example", "0170 93817", "93817", "2091-02-03", "03.02.2091",
    "GH-50917",
    "Wilhelmine", "Zaunkönig", "wilhelmine.neu@example.test", "1944-07-09", "09.07.1944", "GW-31458", "GX-66120",
    "Kunigunde", "Pfefferkorn", "kunigunde.pfefferkorn@example.test",
    "Ludmilla", "Hagebutte", "+4915170246813", "15170246813", "14.05.1961",
)
REFUSED_APPOINTMENT, REFUSED_CALL = "uid-refused-by-db", "call_refused_by_db"


def _url(endpoint):
    return f"/api/webhooks/{endpoint.source}/{endpoint.public_id}"


class Sender:
    """Signs and posts deliveries of the three sources; remembers every answer."""

    def __init__(self, client, endpoints):
        self.client, self.endpoints, self.answers, self.number = client, endpoints, [], 0

    def _post(self, source, body, headers):
        endpoint, _secret = self.endpoints[source]
        response = self.client.post(_url(endpoint), data=body, headers=headers)
        self.answers.append((source, response.status_code))
        return response

    def booking(self, event_type, data):
        self.number += 1
        msg_id = f"msg_phi_{self.number}"
        body = compact(booking_event(event_type, data, event_id=msg_id))
        return self._post("booking", body, sign_booking(self.endpoints["booking"][1], body, msg_id=msg_id))

    def calcom(self, payload):
        body = compact(payload)
        return self._post("calcom", body, sign_calcom(self.endpoints["calcom"][1], body))

    def retell(self, payload):
        body = compact(payload)
        return self._post("retell", body, sign_retell(self.endpoints["retell"][1], body))


def _patient(patient_id, first_name, last_name, email=None, phone=None, birth_date=None):
    return {"patient_id": patient_id, "first_name": first_name, "last_name": last_name, "email": email,
            "phone": phone, "birth_date": birth_date}


def _appointment(appointment_id, patient_id, updated_at):
    return {"appointment_id": appointment_id, "patient_id": patient_id, "start": "2030-05-04T09:30:00+02:00",
            "duration_minutes": 45, "therapist_name": "Dr. Maria Weber", "service_name": "Physiotherapie",
            "status": "scheduled", "updated_at": updated_at}


def _calcom(trigger, uid, created_at):
    payload = json.loads((CONTRACTS / "calcom" / "webhooks" / "BOOKING_CREATED.json").read_text())
    payload["triggerEvent"], payload["createdAt"] = trigger, created_at
    booking = payload["payload"]
    booking["uid"] = uid
    booking["attendees"][0].update(name="Kunigunde Pfefferkorn", firstName="Kunigunde", lastName="Pfefferkorn",
                                   email="kunigunde.pfefferkorn@example.test")
    booking["responses"]["name"]["value"] = "Kunigunde Pfefferkorn"
    booking["responses"]["email"]["value"] = "kunigunde.pfefferkorn@example.test"
    booking["title"] = "Erstgespräch zwischen Dr. Weber und Kunigunde Pfefferkorn"
    return payload


def _retell(event, call_id):
    payload = json.loads((CONTRACTS / "retell" / "webhook_call_analyzed.synthetic.json").read_text())
    payload["event"] = event
    call = payload["call"]
    call.update(call_id=call_id, from_number="+4915170246813",
                transcript="User: Hier ist Ludmilla Hagebutte, geboren am 14.05.1961.\n")
    call.pop("transcript_object", None)
    call["call_analysis"]["call_summary"] = "Ludmilla Hagebutte möchte einen Termin."
    return payload


def _refuse_inserts(db, table, external_id):
    """Make the database refuse the row ``external_id`` of ``table``, as a constraint would: the driver's error
    then carries the statement's parameters (the attendee's or caller's personal values) in its text."""
    if db.engine.dialect.name == "sqlite":
        db.session.execute(text(
            f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN NEW.external_id = '{external_id}' "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
    else:
        db.session.execute(text(
            f"CREATE OR REPLACE FUNCTION refuse_{table}() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.external_id = '{external_id}' THEN RAISE EXCEPTION 'refused by the test'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"))
        db.session.execute(text(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} FOR EACH ROW "
                                f"EXECUTE FUNCTION refuse_{table}()"))
    db.session.commit()


def _run_due_retries(db):
    """Make every queued retry due now and run it once (the worker's path, with its logging)."""
    db.session.execute(text("UPDATE jobs SET run_after = :now WHERE kind = 'webhook_retry'"),
                       {"now": datetime.now(UTC) - timedelta(seconds=1)})
    db.session.commit()
    while (job := claim_next("test-worker")) is not None:
        run_job(job)


@pytest.fixture
def existing(db, make_patient):
    """The practice's patients the events collide with: {name: patient}."""
    return {
        "greta": make_patient(first_name="Greta", last_name="Quendelbaum", email="greta.quendelbaum@example.test",
                              booking_system_id="GA-77331"),
        "otto": make_patient(first_name="Otto", last_name="Brennesselmann",
                             email="otto.brennesselmann@example.test"),
        "wilhelmine": make_patient(first_name="Wilhelmine", last_name="Zaunkönig", birth_date=date(1944, 7, 9),
                                   email="wilhelmine.zaunkoenig@example.test"),
    }


def _send_every_kind_of_failing_event(db, client, endpoints):
    """Send the events; returns the Sender (with its answers)."""
    send = Sender(client, endpoints)
    # Booking tool: invalid email, phone and birth date; an email of a patient linked to another booking id; a
    # booking id of one patient with the email of another; the same name and birth date as a patient (flagged);
    # an appointment for an unknown patient, then an older update of it (ignored); malformed fields (refused).
    send.booking("patient.created", _patient("GH-50917", "Hans", "Meierlingsen", "hans.meierlingsen@example",
                                             "0170 93817", "2091-02-03"))
    send.booking("patient.created", _patient("GB-20468", "Greta", "Quendelbaum", "greta.quendelbaum@example.test"))
    send.booking("patient.updated", _patient("GA-77331", "Greta", "Quendelbaum", "otto.brennesselmann@example.test"))
    send.booking("patient.created", _patient("GW-31458", "Wilhelmine", "Zaunkönig", "wilhelmine.neu@example.test",
                                             birth_date="1944-07-09"))
    send.booking("appointment.created", _appointment("APT-9", "GX-66120", "2030-05-02T08:00:00+02:00"))
    send.booking("appointment.updated", _appointment("APT-9", "GX-66120", "2030-05-01T08:00:00+02:00"))
    send.booking("patient.created", _patient("GH-50917", "Hans", "Meierlingsen", birth_date="09.07.1944"))
    send.booking("patient.created", {**_patient("GH-50917", "Hans", "Meierlingsen"), "email": ["Hans"]})
    # Cal.com: a booking, an older delivery of it (ignored), a ping and an unknown trigger (ignored), a booking the
    # database refuses (error), and a malformed one (refused).
    send.calcom(_calcom("BOOKING_CREATED", "uid-booking-1", "2030-01-02T00:00:00.000Z"))
    send.calcom(_calcom("BOOKING_CREATED", "uid-booking-1", "2030-01-01T00:00:00.000Z"))
    send.calcom(_calcom("PING", "uid-ping", "2030-01-02T00:00:00.000Z"))
    send.calcom(_calcom("MEETING_ENDED", "uid-meeting", "2030-01-02T00:00:00.000Z"))
    send.calcom(_calcom("BOOKING_CREATED", REFUSED_APPOINTMENT, "2030-01-02T00:00:00.000Z"))
    malformed = _calcom("BOOKING_CREATED", "uid-malformed", "2030-01-02T00:00:00.000Z")
    malformed["payload"]["attendees"][0]["email"] = {"value": "kunigunde.pfefferkorn@example.test"}
    send.calcom(malformed)
    # Retell: an analysed call, then its start (an earlier stage: ignored), a call the database refuses (error),
    # and a malformed one (refused).
    send.retell(_retell("call_analyzed", "call_first"))
    send.retell(_retell("call_started", "call_first"))
    send.retell(_retell("call_ended", REFUSED_CALL))
    malformed = _retell("call_ended", "call_malformed")
    malformed["call"]["from_number"] = 4915170246813
    send.retell(malformed)
    return send


def _stored_texts(db):
    """Every text the event log and the audit log hold about the events, outside the encrypted payload."""
    texts = []
    for attempt in db.session.scalars(select(WebhookEventAttempt)):
        texts += [attempt.detail, attempt.error, attempt.outcome, attempt.triggered_by]
    texts += list(db.session.scalars(select(WebhookEvent.reject_reason)))
    texts += [json.dumps(meta, ensure_ascii=False) for meta in db.session.scalars(select(AuditEntry.meta))]
    return "\n".join(text for text in texts if text)


def test_failing_events_leave_no_personal_values_in_the_log_or_the_event_log(db, client, caplog, endpoints,
                                                                             existing, make_user):
    caplog.set_level(logging.DEBUG, logger="app")
    _refuse_inserts(db, "appointments", REFUSED_APPOINTMENT)
    _refuse_inserts(db, "calls", REFUSED_CALL)

    send = _send_every_kind_of_failing_event(db, client, endpoints)
    _run_due_retries(db)
    admin = make_user("admin")
    for event in db.session.scalars(select(WebhookEvent).where(WebhookEvent.outcome == "accepted")):
        webhook_ingest.replay(Actor(user=admin), event)

    assert all(status < 500 for _source, status in send.answers), send.answers
    outcomes = [attempt.outcome for attempt in db.session.scalars(select(WebhookEventAttempt))]
    # What was sent really failed, was ignored and was refused, so every path that writes a text is covered.
    assert outcomes.count("error") >= 5 * 2 and outcomes.count("ignored") >= 4
    assert "processed" in outcomes
    assert len(db.session.scalars(select(WebhookEvent).where(WebhookEvent.outcome == "rejected")).all()) == 4
    assert any("flagged" in (attempt.detail or "") for attempt in db.session.scalars(select(WebhookEventAttempt)))
    logged = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    assert "not applied" in logged  # the failures are logged, by event and reason
    stored = _stored_texts(db)
    for value in PERSONAL_VALUES:
        assert value.lower() not in logged.lower(), f"{value!r} in the application log"
        assert value.lower() not in stored.lower(), f"{value!r} in the event log or the audit log"


def _attempt_errors(db, event_type):
    """The error attempts of the events of ``event_type``, in the order the events came."""
    return db.session.scalars(
        select(WebhookEventAttempt).join(WebhookEvent).where(WebhookEvent.event_type == event_type,
                                                             WebhookEventAttempt.outcome == "error")
        .order_by(WebhookEventAttempt.id)).all()


def test_the_event_page_builds_the_readable_error_from_ids_and_fields(db, client, auth, endpoints, existing):
    send = Sender(client, endpoints)
    send.booking("patient.created", _patient("GB-20468", "Greta", "Quendelbaum", "greta.quendelbaum@example.test"))
    send.booking("patient.updated", _patient("GA-77331", "Greta", "Quendelbaum", "otto.brennesselmann@example.test"))
    send.booking("patient.created", _patient("GH-50917", "Hans", "Meierlingsen", "hans.meierlingsen@example",
                                             "0170 93817", "2091-02-03"))
    auth.login("admin")
    greta, otto = existing["greta"], existing["otto"]

    linked, invalid = _attempt_errors(db, "patient.created")
    page = client.get(f"/webhooks/events/{linked.event_id}").get_data(as_text=True)
    assert f"Die E-Mail-Adresse gehört bereits zu Patient Nr. {greta.id}" in page
    assert f'href="/patients/{greta.id}"' in page

    [disagree] = _attempt_errors(db, "patient.updated")
    page = client.get(f"/webhooks/events/{disagree.event_id}").get_data(as_text=True)
    assert f"Patient Nr. {greta.id}" in page and f"Patient Nr. {otto.id}" in page
    assert f'href="/patients/{otto.id}"' in page

    page = client.get(f"/webhooks/events/{invalid.event_id}").get_data(as_text=True)
    assert "E-Mail: keine gültige E-Mail-Adresse" in page and "Telefon:" not in page  # a phone never refuses
    assert "Geburtsdatum: liegt in der Zukunft" in page
    for value in ("hans.meierlingsen@example", "0170 93817", "2091"):
        assert value not in page


def test_an_unexpected_error_reads_by_its_kind_and_an_older_text_as_it_was_stored(app):
    unexpected = describe_error('{"code": "unexpected", "type": "IntegrityError", "where": "app/x.py:1"}')
    assert "(IntegrityError)" in unexpected.message and unexpected.patient_ids == ()
    assert describe_error("ServiceError: stored before errors were codes").message == (
        "ServiceError: stored before errors were codes")
    assert describe_error('{"code": "from_a_later_version"}').message == '{"code": "from_a_later_version"}'
    assert describe_error(None) is None
