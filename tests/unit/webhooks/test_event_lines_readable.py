"""The event log in plain words (issue 17, item 9): one sentence per event, built from the redacted preview and the
latest attempt's detail (never the payload), with the matched patient found in a fixed number of queries."""

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask_babel import force_locale

from app.appointments.models import Appointment, Call
from app.webhooks.lines import describe_detail, event_lines, event_type_label, pretty_preview
from app.webhooks.redaction import preview

CONTRACTS = Path(__file__).resolve().parents[2] / "fixtures" / "contracts"
_ids = iter(range(1, 10_000))


def row(source, event_type, payload=None, detail=None, outcome="accepted", text=None):
    """A log row as app.webhooks.log returns it: the event (with its stored redacted preview) and the detail."""
    event = SimpleNamespace(id=next(_ids), source=source, event_type=event_type, outcome=outcome,
                            preview=text if text is not None else preview(payload) if payload else None)
    return SimpleNamespace(WebhookEvent=event, detail=detail)


def booking(event_type, **data):
    return {"id": "evt_1", "type": event_type, "occurred_at": "2026-12-01T10:00:00+01:00", "data": data}


@pytest.fixture
def german(app):
    with app.test_request_context(), force_locale("de"):
        yield


def lines_of(practice, *rows):
    found = event_lines(practice.id, rows)
    return [found[item.WebhookEvent.id] for item in rows]


def test_booking_tool_events_read_as_sentences(german, practice, make_patient, db):
    patient = make_patient(first_name="Lena", last_name="Becker", booking_system_id="B-7")
    cancelled = row("booking", "appointment.cancelled", booking(
        "appointment.cancelled", appointment_id="A-1", patient_id="B-7", start="2026-12-07T14:00:00+01:00",
        first_name="Lena", last_name="Becker", status="cancelled"))
    new = row("booking", "patient.created", booking("patient.created", patient_id="B-9", first_name="Mia",
                                                     last_name="Krause", birth_date="1990-01-02"),
              detail="patient 4711: created")
    first, second = lines_of(practice, cancelled, new)
    assert first.text == "Termin am 07.12. 14:00 abgesagt – L. B." and first.patient_id == patient.id
    assert second.text == "Neu im Buchungstool: M. K." and second.patient_id == 4711
    assert "Lena" not in first.text and "1990" not in second.text


def test_calcom_event_whose_preview_was_cut_finds_its_patient_through_the_attempt(german, practice, make_patient,
                                                                                  db):
    payload = json.loads((CONTRACTS / "calcom" / "webhooks" / "BOOKING_CANCELLED.json").read_text())
    stored = preview(payload)
    assert stored.endswith("…")  # the attendee and the uid were cut off
    patient = make_patient()
    db.session.add(Appointment(practice_id=practice.id, patient_id=patient.id, source="calcom", external_id="U-1",
                               starts_at=datetime(2024, 1, 4, 10, tzinfo=UTC),
                               ends_at=datetime(2024, 1, 4, 10, 15, tzinfo=UTC), status="cancelled"))
    db.session.commit()
    (line,) = lines_of(practice, row("calcom", "BOOKING_CANCELLED", text=stored,
                                     detail="appointment calcom:U-1: stored (cancelled)"))
    assert line.text == "Termin am 04.01. 11:00 abgesagt" and line.patient_id == patient.id


def test_calls_and_other_events(german, practice, make_patient, db):
    payload = json.loads((CONTRACTS / "retell" / "webhook_call_started.synthetic.json").read_text())
    patient = make_patient()
    db.session.add(Call(practice_id=practice.id, patient_id=patient.id, external_id=payload["call"]["call_id"]))
    db.session.commit()
    call, ping, odd, rejected = lines_of(
        practice, row("retell", "call_started", payload), row("calcom", "PING", {"triggerEvent": "PING"}),
        row("booking", "shop.order", booking("shop.order")), row("booking", None, outcome="rejected"))
    assert call.text == "Anruf mit +12 *** **01 begonnen" and call.patient_id == patient.id
    assert (ping.text, ping.patient_id) == ("Verbindungstest", None)
    assert odd.text == "Sonstiges Ereignis" and rejected.text == "Signiert, aber nicht lesbar"
    assert str(event_type_label("BOOKING_RESCHEDULED")) == "Termin verschoben" and event_type_label(None) == "—"


def test_a_page_of_lines_costs_the_same_queries_however_long(german, practice, sql_statements, db):
    def page(size):
        return [row("booking", "appointment.updated", booking("appointment.updated", appointment_id=f"A-{n}",
                                                              patient_id=f"B-{n}", start="2026-12-07T14:00:00Z"))
                for n in range(size)]

    practice_id = practice.id
    with sql_statements() as few:
        event_lines(practice_id, page(2))
    with sql_statements() as many:
        event_lines(practice_id, page(40))
    assert len(few) == len(many) == 2  # appointments, patients by the booking tool's id


def test_attempt_details_and_the_preview_are_readable(german):
    assert describe_detail("appointment booking:A-1: stored (cancelled); A-0 marked rescheduled") == (
        "Termin gespeichert (abgesagt); der frühere Termin ist als verschoben markiert")
    assert describe_detail("call c1: created (stage 1)") == "Anruf angelegt"
    assert describe_detail("trigger MEETING_ENDED is not applied") == "Eine Ereignisart, die nicht übernommen wird"
    assert pretty_preview('{"data":{"first_name":"L."}}') == '{\n  "data": {\n    "first_name": "L."\n  }\n}'
    assert pretty_preview('{"data":{"first_na…') == '{"data":{"first_na…'
