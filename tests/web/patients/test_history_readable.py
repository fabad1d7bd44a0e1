"""The record's Verlauf tab (issue 17, item 10): record openings grouped per user and day with a count,
appointment and call changes from webhooks and syncs beside the changes people made, "Nur Änderungen", and one
cost however long the history is."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from app.appointments.models import Appointment, Call
from app.platform.audit.service import record
from app.platform.security.actor import Actor
from tests.helpers import htmx

DAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # 10:00 in Berlin


@pytest.fixture
def patient(make_patient):
    return make_patient(first_name="Lena", last_name="Becker")


def audit(db, user, action, patient, at, **meta):
    """An audit entry about ``patient`` by ``user`` at ``at`` (set before the append-only insert)."""
    entry = record(action, Actor(user), object_type="patient", object_id=patient.id, patient_id=patient.id,
                   meta=meta)
    entry.created_at = at
    db.session.commit()


def rows(html):
    """The history table's rows as lists of cell texts."""
    body = html.split('id="history-table"', 1)[1]
    return [[re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr class=\"history-\w+\">(.*?)</tr>", body, re.S)]


def test_openings_are_grouped_and_webhook_changes_shown(client, auth, make_user, patient, db, practice):
    admin = auth.login()
    colleague = make_user(role="assistant", name="Emil Empfang")
    for minutes in (0, 30, 300):
        audit(db, admin, "patient.view", patient, DAY + timedelta(minutes=minutes))
    audit(db, colleague, "patient.view", patient, DAY + timedelta(minutes=10))
    audit(db, admin, "patient.view", patient, DAY - timedelta(days=1))
    audit(db, admin, "patient.update", patient, DAY + timedelta(minutes=40), fields=["phone"])
    starts = datetime(2026, 12, 10, 13, 0, tzinfo=UTC)
    db.session.add(Appointment(practice_id=practice.id, patient_id=patient.id, source="calcom", external_id="U-1",
                               starts_at=starts, ends_at=starts + timedelta(minutes=30), status="cancelled",
                               service_name="Physiotherapie", created_at=DAY - timedelta(days=2),
                               synced_at=DAY + timedelta(minutes=50)))
    db.session.add(Call(practice_id=practice.id, patient_id=patient.id, external_id="c-1", direction="inbound",
                        started_at=DAY + timedelta(minutes=20), duration_ms=125_000))
    db.session.commit()
    html = client.get(f"/patients/{patient.id}/verlauf", headers=htmx("patient-tab")).get_data(as_text=True)
    shown = rows(html)
    assert ["07.12.2026", admin.name, "Akte 3-mal geöffnet", "zuletzt um 15:00"] in shown
    assert ["07.12.2026, 10:10", "Emil Empfang", "Akte geöffnet", ""] in shown
    assert ["06.12.2026, 10:00", admin.name, "Akte geöffnet", ""] in shown
    assert ["07.12.2026, 10:40", admin.name, "Stammdaten geändert", "Felder: Telefon"] in shown
    assert ["07.12.2026, 10:50", "Cal.com", "Termin am 10.12.2026, 14:00 abgesagt", ""] in shown
    assert ["05.12.2026, 10:00", "Cal.com", "Termin am 10.12.2026, 14:00 gebucht",
            "Leistung: Physiotherapie"] in shown
    assert ["07.12.2026, 10:20", "Retell", "Anruf beim Telefonassistenten (eingehend, 2 Min.)", ""] in shown
    assert [row[2] for row in shown][:2] == ["Akte 3-mal geöffnet", "Termin am 10.12.2026, 14:00 abgesagt"]

    changes = client.get(f"/patients/{patient.id}/verlauf?nur=aenderungen", headers=htmx("patient-tab"))
    texts = [row[2] for row in rows(changes.get_data(as_text=True))]
    assert "Stammdaten geändert" in texts and not any("geöffnet" in text for text in texts)
    assert 'id="history-changes-only" checked' in changes.get_data(as_text=True)


def test_the_filter_is_a_real_get_form_and_the_page_renders_it(client, auth, patient):
    auth.login()
    page = client.get(f"/patients/{patient.id}/verlauf?nur=aenderungen").get_data(as_text=True)
    assert "<html" in page and 'name="nur" value="aenderungen"' in page and "Nur Änderungen" in page
    assert f'hx-get="/patients/{patient.id}/verlauf"' in page


def test_history_costs_the_same_queries_however_long(client, auth, make_user, patient, db, sql_statements):
    admin = auth.login()
    users = [make_user(role="assistant") for _ in range(3)]

    def add(count):
        for number in range(count):
            audit(db, users[number % 3], "patient.update", patient, DAY + timedelta(hours=number), fields=["phone"])

    add(3)
    with sql_statements() as few:
        client.get(f"/patients/{patient.id}/verlauf", headers=htmx("patient-tab"))
    add(30)
    with sql_statements() as many:
        client.get(f"/patients/{patient.id}/verlauf", headers=htmx("patient-tab"))
    assert len(many) == len(few)
    assert admin is not None
