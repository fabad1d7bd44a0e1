"""Unit tests: building the booking page URL from the practice's template, validating templates, and when the
appointment cache counts as stale."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from app.appointments.reading import SourceSync, is_stale, sync_state
from app.platform.errors import ServiceError
from app.tenancy.settings import booking_url, check_booking_url_template
from tests.appointment_data import add_appointment, add_event

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def patient(first="Jörg", last="Müller-Lüdenscheidt", email="joerg@example.test", booking_email=None):
    """A stand-in for a patient with the fields the URL uses."""
    return SimpleNamespace(first_name=first, last_name=last, full_name=f"{first} {last}".strip(), email=email,
                           booking_email=booking_email)


@pytest.mark.parametrize(("template", "expected"), [
    ("https://cal.com/p/erst?name={name}&email={email}",
     "https://cal.com/p/erst?name=J%C3%B6rg%20M%C3%BCller-L%C3%BCdenscheidt&email=joerg%40example.test"),
    ("https://buchung.example/neu?vorname={first_name}&nachname={last_name}",
     "https://buchung.example/neu?vorname=J%C3%B6rg&nachname=M%C3%BCller-L%C3%BCdenscheidt"),
    ("https://buchung.example/{last_name}/termin", "https://buchung.example/M%C3%BCller-L%C3%BCdenscheidt/termin"),
    ("https://cal.com/praxis/erstgespraech",
     "https://cal.com/praxis/erstgespraech?name=J%C3%B6rg%20M%C3%BCller-L%C3%BCdenscheidt&email=joerg%40example.test"),
    ("https://cal.com/praxis/erst?month=2026-03",
     "https://cal.com/praxis/erst?month=2026-03&name=J%C3%B6rg%20M%C3%BCller-L%C3%BCdenscheidt"
     "&email=joerg%40example.test"),
])
def test_booking_url_fills_and_encodes(template, expected):
    """Placeholders are replaced by URL-encoded values; a plain URL gets name and email query parameters."""
    assert booking_url(template, patient()) == expected


def test_booking_url_encodes_characters_that_would_break_the_query():
    """"&", "=", "#", "+" and spaces in a value cannot add parameters or end the query."""
    url = booking_url("https://cal.com/p?name={name}&x=1", patient(first="A&b=c #1", last="+Z"))
    assert url == "https://cal.com/p?name=A%26b%3Dc%20%231%20%2BZ&x=1"
    url = booking_url("https://cal.com/p", patient(first="A&b", last="C", email=None))
    assert url == "https://cal.com/p?name=A%26b%20C"


def test_booking_url_prefers_the_booking_tool_s_email_and_needs_a_template():
    """The email the booking tool knows is filled in when there is one; no template, no URL."""
    assert booking_url("https://cal.com/p?e={email}", patient(booking_email="b@example.test")) == \
        "https://cal.com/p?e=b%40example.test"
    assert booking_url(None, patient()) is None and booking_url("", patient()) is None


@pytest.mark.parametrize("value", [
    "https://cal.com/praxis", "http://intranet.praxis.test/buchen?n={name}&e={email}&v={first_name}&l={last_name}",
    "  https://cal.com/praxis  ",
])
def test_valid_templates(value):
    """http(s) URLs with known placeholders are accepted (trimmed)."""
    assert check_booking_url_template(value) == value.strip()


@pytest.mark.parametrize("value", [
    "ftp://cal.com/x", "javascript:alert(1)", "data:text/html,x", "//cal.com/x", "cal.com/x", "https://",
    "https://cal.com/a b", "https://cal.com/x?n={Name}", "https://cal.com/x?n={}", "https://cal.com/x?n={name",
    "https://cal.com/x?n=name}", "https://cal.com/" + "a" * 2000,
])
def test_invalid_templates(value):
    """Anything but an http(s) URL with known placeholders is refused."""
    with pytest.raises(ServiceError):
        check_booking_url_template(value)


def test_empty_template_means_none():
    """An empty field removes the template."""
    assert check_booking_url_template("  ") is None and check_booking_url_template(None) is None


@pytest.mark.parametrize(("age", "stale"), [
    (timedelta(0), False), (timedelta(hours=1), False), (timedelta(hours=24), False),
    (timedelta(hours=24, seconds=1), True), (timedelta(hours=25), True), (None, False),
])
def test_is_stale(app, age, stale):
    """Older than APPOINTMENTS_STALE_HOURS (24) is stale; never heard from is not (nothing to warn about)."""
    synced_at = NOW - age if age is not None else None
    assert is_stale(synced_at, NOW) is stale


def test_is_stale_follows_the_setting(app):
    """The threshold is configurable."""
    app.config["APPOINTMENTS_STALE_HOURS"] = 2
    assert is_stale(NOW - timedelta(hours=3), NOW) is True


def test_sync_state_takes_the_later_of_events_and_appointments(app, practice, make_patient):
    """Per source: the newest applied event or the newest synced appointment of the patient, whichever is later
    (events count for every patient of the practice, a patient's appointments only for that patient)."""
    person = make_patient()
    add_event(practice, NOW - timedelta(hours=30))
    add_appointment(practice, person, NOW + timedelta(days=1), synced_at=NOW - timedelta(hours=2))
    add_event(practice, NOW - timedelta(hours=20), source="calcom")
    add_event(practice, NOW - timedelta(hours=1), source="calcom", attempt="error")
    syncs, has_cached = sync_state(person, NOW)
    assert has_cached is True
    assert [(sync.source, sync.synced_at, sync.stale) for sync in syncs] == [
        ("booking", NOW - timedelta(hours=2), False), ("calcom", NOW - timedelta(hours=20), False)]
    later = NOW + timedelta(hours=5)
    assert sync_state(make_patient(), later) == (
        [SourceSync("booking", NOW - timedelta(hours=30), True), SourceSync("calcom", NOW - timedelta(hours=20), True)],
        False)
