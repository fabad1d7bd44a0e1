"""Audit details in words (issue 17, item 11): no "counts: {'total': 31, …}", "reason: wrong_password" or ISO
timestamps; internal ids are left out."""

import pytest
from flask_babel import force_locale

from app.platform.audit.labels import meta_items, object_label, value_text


@pytest.fixture
def german(app):
    with app.test_request_context(), force_locale("de"):
        yield


def test_details_are_words_not_codes(german):
    items = dict(meta_items({"reason": "wrong_password", "failed_logins": 3, "user_id": 7,
                             "counts": {"total": 31, "created": 20}, "fields": ["first_name", "birth_date"],
                             "expires_at": "2026-12-06T10:00:00+00:00", "invite": True}))
    assert items == {
        "Grund": "falsches Passwort",
        "Fehlversuche": "3",
        "Anzahlen": "gesamt: 31, angelegt: 20",
        "Felder": "Vorname, Geburtsdatum",
        "Gültig bis": "06.12.2026, 11:00",
        "Einladung": "ja",
    }


def test_values_without_a_label_are_shown_as_they_are(german):
    assert value_text("Praxis am Park") == "Praxis am Park"
    assert value_text(None) == value_text([]) == "—"
    assert value_text(1234) == "1.234"
    assert value_text("patient.view") == "Akte geöffnet"  # an action named in a detail


def test_objects_are_named_in_words(german):
    assert str(object_label("user")) == "Benutzer"
    assert str(object_label("webhook_event")) == "Webhook-Ereignis"
