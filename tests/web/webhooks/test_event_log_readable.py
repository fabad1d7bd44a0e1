"""The event log for people (issue 17, items 9 and 11): one plain German line per event with a link to the matched
patient, statuses, outcomes and types in words, the redacted JSON only in the detail view (indented), and a page
that costs the same queries however many events it lists."""

import re

import pytest

from app.appointments.models import Appointment
from app.platform.database import utcnow
from app.webhooks.redaction import preview
from tests.helpers import htmx
from tests.webhook_factories import make_endpoint, make_event


def cancellation(appointment_id="A-1", patient_id="B-7"):
    """A booking-tool cancellation as it arrives (names and all)."""
    return {"id": "evt_1", "type": "appointment.cancelled", "occurred_at": "2026-12-01T10:00:00+01:00",
            "data": {"appointment_id": appointment_id, "patient_id": patient_id, "first_name": "Lena",
                     "last_name": "Becker", "start": "2026-12-07T14:00:00+01:00", "status": "cancelled"}}


@pytest.fixture
def lena(make_patient, db, practice):
    """Lena Becker, whose appointment A-1 the booking tool cancelled."""
    patient = make_patient(first_name="Lena", last_name="Becker", booking_system_id="B-7")
    db.session.add(Appointment(practice_id=practice.id, patient_id=patient.id, source="booking", external_id="A-1",
                               starts_at=utcnow(), ends_at=utcnow(), status="cancelled"))
    db.session.commit()
    return patient


@pytest.fixture
def cancelled_event(practice, lena):
    payload = cancellation()
    return make_event(make_endpoint(practice), event_type="appointment.cancelled", payload=payload,
                      preview=preview(payload),
                      attempts=[{"outcome": "processed", "detail": "appointment booking:A-1: stored (cancelled)"}])


def test_each_event_is_one_plain_line_linking_its_patient(client, auth, cancelled_event, lena):
    auth.login()
    html = client.get("/webhooks/events").get_data(as_text=True)
    row = re.search(rf'<tr id="webhook-event-{cancelled_event.id}">(.*?)</tr>', html, re.S).group(1)
    assert "Termin am 07.12. 14:00 abgesagt – L. B." in row
    assert f'href="/patients/{lena.id}"' in row and "Patient öffnen" in row
    assert ">verarbeitet<" in row and "Buchungstool" in row
    assert "appointment.cancelled" not in re.sub(r"<[^>]+>", "", row)  # the type code only in an attribute
    assert "&#34;" not in html and "Lena" not in html  # no JSON, no names in the list
    # The hub's booking tab loads the same table, filtered to the booking tool.
    fragment = client.get("/webhooks/events?source=booking", headers=htmx("webhook-events-table"))
    assert "Termin am 07.12. 14:00 abgesagt – L. B." in fragment.get_data(as_text=True)


def test_the_detail_shows_the_line_and_the_redacted_json_indented(client, auth, cancelled_event, lena):
    auth.login()
    html = client.get(f"/webhooks/events/{cancelled_event.id}").get_data(as_text=True)
    assert 'id="webhook-event-line">Termin am 07.12. 14:00 abgesagt – L. B.' in html
    assert '<pre class="payload-json" id="webhook-preview-text">{\n  &#34;id&#34;: &#34;evt_1&#34;,\n' in html
    assert "&#34;first_name&#34;: &#34;L.&#34;" in html and "Lena" not in html
    assert "Termin abgesagt" in html and ">angenommen<" in html and "beim Empfang" in html
    assert "Termin gespeichert (abgesagt)" in html and "Version 1" in html


def test_type_filter_and_rejections_are_in_words(client, auth, practice):
    endpoint = make_endpoint(practice)
    make_event(endpoint, event_type="appointment.created")
    make_event(endpoint, outcome="rejected", event_type=None, preview=None, reject_reason="data.start: required")
    auth.login()
    html = client.get("/webhooks/events").get_data(as_text=True)
    assert '<option value="appointment.created">Termin gebucht (Buchungstool)</option>' in html
    assert "abgelehnt: Feld „start“: fehlt" in html and "Signiert, aber nicht lesbar" in html


def test_a_page_costs_the_same_queries_however_many_events(client, auth, practice, make_patient, db,
                                                            sql_statements):
    endpoint = make_endpoint(practice)
    auth.login()

    def add(count):
        for number in range(count):
            patient = make_patient(booking_system_id=f"P-{number}-{count}")
            payload = cancellation(f"A-{number}-{count}", patient.booking_system_id)
            make_event(endpoint, event_type="appointment.cancelled", payload=payload, preview=preview(payload),
                       attempts=[{"outcome": "processed", "detail": f"patient {patient.id}: updated"}])

    add(2)
    with sql_statements() as few:
        assert client.get("/webhooks/events").status_code == 200
    add(20)
    with sql_statements() as many:
        assert client.get("/webhooks/events").status_code == 200
    assert len(many) == len(few)
