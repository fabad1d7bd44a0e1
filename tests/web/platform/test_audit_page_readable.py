"""The audit log for people (issue 17, items 11 and 12): objects by name, details in words, times in the practice's
zone as TT.MM.JJJJ, the date filter typed as people write dates; no codes, dicts or ISO timestamps."""

import re
from datetime import UTC, datetime

from app.platform.audit.models import AuditEntry
from app.platform.audit.service import record
from app.platform.security.actor import Actor
from tests.helpers import htmx


def table_text(html):
    """The visible text of the audit table."""
    table = html.split('id="audit-table"', 1)[1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", table))


def test_entries_read_as_words(client, auth, make_user, make_patient, db):
    admin = auth.login()
    colleague = make_user(role="assistant", name="Emil Empfang")
    patient = make_patient(first_name="Lena", last_name="Becker")
    actor = Actor(admin)
    record("login.failed", actor, object_type="user", object_id=colleague.id,
           meta={"reason": "wrong_password", "failed_logins": 2})
    record("patients.import", actor, object_type="patient_import", object_id=9,
           meta={"counts": {"total": 31, "created": 20}, "valid_only": True})
    record("patient.update", actor, object_type="patient", object_id=patient.id, patient_id=patient.id,
           meta={"fields": ["phone", "birth_date"]})
    db.session.commit()
    html = client.get("/audit/").get_data(as_text=True)
    text = table_text(html)
    assert "Benutzer: Emil Empfang" in text and "Grund: falsches Passwort" in text and "Fehlversuche: 2" in text
    assert "Anzahlen: gesamt: 31, angelegt: 20" in text and "Nur gültige Zeilen: ja" in text
    assert "Patientenimport Nr. 9" in text and "Felder: Telefon, Geburtsdatum" in text
    assert f'<a href="/patients/{patient.id}">Lena Becker</a>' in html
    assert not re.search(r"\b[a-z_]+\.[a-z_]+\b|\{'|\d{4}-\d{2}-\d{2}[T ]\d", text), text
    assert ">Anmeldung fehlgeschlagen</option>" in html  # the action filter in words, no code beside


def test_times_are_in_the_practice_zone_and_the_filter_takes_german_dates(client, auth, db):
    admin = auth.login()
    entry = record("user.update", Actor(admin), object_type="user", object_id=admin.id)
    entry.created_at = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)  # 00:30 on 7 December in Berlin (before insert)
    db.session.commit()
    assert "07.12.2026, 00:30" in client.get("/audit/").get_data(as_text=True)
    shown = client.get("/audit/?date_from=07.12.2026&date_to=07.12.2026", headers=htmx("audit-table"))
    assert "07.12.2026, 00:30" in shown.get_data(as_text=True)
    assert "07.12.2026, 00:30" not in client.get("/audit/?date_to=06.12.2026").get_data(as_text=True)
    wrong = client.get("/audit/?date_from=31.02.2026")
    assert wrong.status_code == 422 and "31.02.2026 ist kein gültiges Datum." in wrong.get_data(as_text=True)
    assert 'placeholder="TT.MM.JJJJ"' in client.get("/audit/").get_data(as_text=True)


def test_object_names_cost_one_query_per_kind(client, auth, make_user, db, sql_statements):
    admin = auth.login()
    users = [make_user(role="therapist") for _ in range(3)]
    for user in users:
        record("user.update", Actor(admin), object_type="user", object_id=user.id)
    db.session.commit()
    with sql_statements() as few:
        client.get("/audit/")
    for user in [make_user(role="therapist") for _ in range(15)]:
        record("user.update", Actor(admin), object_type="user", object_id=user.id)
    db.session.commit()
    with sql_statements() as many:
        client.get("/audit/")
    assert len(many) == len(few)
    assert db.session.query(AuditEntry).count() >= 18
