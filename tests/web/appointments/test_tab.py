"""The patient record's Termine and Anrufe tabs: cached appointments in the practice's time zone, their freshness,
the booking button, the "Meine Termine" links, the calls, and who may see what ("own patients" include patients
with an appointment with the therapist)."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.appointments.reading import PAGE_SIZE
from app.patients.models import PatientAccessLink
from app.platform.audit.models import AuditEntry
from app.platform.database import utcnow
from app.platform.security.crypto import encrypt_secret
from tests.appointment_data import add_appointment, add_call, add_event
from tests.helpers import htmx

TOKYO = ZoneInfo("Asia/Tokyo")  # UTC+9 all year: local times differ visibly from UTC


def at_hour(days, hour_utc):
    """A UTC time ``days`` from now at ``hour_utc``:00 (whole hours keep the rendered times predictable)."""
    day = (utcnow() + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour_utc, tzinfo=UTC)


def termine(client, patient, **params):
    """The Termine tab as htmx fetches it (the #patient-tab fragment)."""
    response = client.get(f"/patients/{patient.id}/termine", query_string=params, headers=htmx("patient-tab"))
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def row_ids(html):
    """The appointment ids in the table, in order."""
    return [int(number) for number in re.findall(r'id="appointment-row-(\d+)"', html)]


def test_upcoming_appointments_in_practice_time_zone(client, auth, make_practice, make_user, make_patient, db,
                                                     english):
    """Upcoming appointments are listed ascending with date and time in the practice's zone, the matched
    therapist's name (else the name the source sent), the service, the status and the source."""
    tokyo = make_practice(timezone="Asia/Tokyo")
    auth.login(user=make_user(role="assistant", practice=tokyo))
    therapist = make_user(role="therapist", practice=tokyo, name="Tina Treffer")
    patient = make_patient(practice=tokyo)
    later = add_appointment(tokyo, patient, at_hour(3, 1), therapist_id=therapist.id, service_name="Massage")
    sooner = add_appointment(tokyo, patient, at_hour(2, 23), minutes=30, therapist_name="Frau Extern",
                             source="calcom", service_name="Erstgespräch")
    add_appointment(tokyo, patient, at_hour(-2, 10))  # past: not listed

    html = termine(client, patient)

    assert row_ids(html) == [sooner.id, later.id]
    sooner_row = html.split(f'id="appointment-row-{sooner.id}"')[1].split("</tr>")[0]
    local = sooner.starts_at.astimezone(TOKYO)
    assert local.strftime("%-d, %Y") in sooner_row and "8:00" in sooner_row and "8:30" in sooner_row
    assert "Frau Extern" in sooner_row and "Erstgespräch" in sooner_row and "Cal.com" in sooner_row
    assert "Scheduled" in sooner_row
    later_row = html.split(f'id="appointment-row-{later.id}"')[1].split("</tr>")[0]
    assert "Tina Treffer" in later_row and "Massage" in later_row and "Booking tool" in later_row
    assert "10:00" in later_row


def test_past_appointments_on_request_newest_first_and_paged(client, auth, make_patient, practice):
    """"Show past" lists earlier appointments newest first, a page at a time; the upcoming list pages too."""
    auth.login()
    patient = make_patient()
    past = [add_appointment(practice, patient, at_hour(-days, 9)) for days in range(1, PAGE_SIZE + 3)]
    upcoming = add_appointment(practice, patient, at_hour(1, 9))

    first = termine(client, patient, past=1)
    assert row_ids(first) == [appointment.id for appointment in past[:PAGE_SIZE]]
    assert upcoming.id not in row_ids(first) and 'id="appointments-next"' in first
    second = termine(client, patient, past=1, page=2)
    assert row_ids(second) == [appointment.id for appointment in past[PAGE_SIZE:]]
    assert 'id="appointments-next"' not in second and 'id="appointments-previous"' in second
    assert row_ids(termine(client, patient)) == [upcoming.id]


def test_past_toggle_swaps_only_the_list(client, auth, make_patient, practice):
    """The toggle aims at #patient-appointments and gets just that fragment; without htmx it is a full page."""
    auth.login()
    patient = make_patient()
    add_appointment(practice, patient, at_hour(-1, 9))
    url = f"/patients/{patient.id}/termine?past=1"
    fragment = client.get(url, headers=htmx("patient-appointments"))
    text = fragment.get_data(as_text=True)
    assert text.lstrip().startswith('<div id="patient-appointments" data-past="true"')
    assert "<html" not in text and "HX-Target" in fragment.headers["Vary"]
    assert "<html" in client.get(url).get_data(as_text=True)


def test_cancelled_and_rescheduled_stay_visible_and_marked(client, auth, make_patient, practice, english):
    """Appointments that no longer take place are listed, struck through and labelled."""
    auth.login()
    patient = make_patient()
    cancelled = add_appointment(practice, patient, at_hour(1, 9), status="cancelled")
    moved = add_appointment(practice, patient, at_hour(2, 9), status="rescheduled")
    kept = add_appointment(practice, patient, at_hour(3, 9))
    html = termine(client, patient)
    assert row_ids(html) == [cancelled.id, moved.id, kept.id]
    for appointment, label in ((cancelled, "Cancelled"), (moved, "Rescheduled")):
        row = re.search(rf'<tr id="appointment-row-{appointment.id}"[^>]*>(.*?)</tr>', html, re.S)
        assert 'class="appointment-inactive"' in row.group(0) and label in row.group(1)
    assert 'class="appointment-inactive"' not in re.search(rf'<tr id="appointment-row-{kept.id}"[^>]*>', html).group(0)


def test_fallback_texts(client, auth, make_patient, practice, db, english):
    """Nothing cached: the "no appointments yet" text and the booking button; only past ones cached: "no upcoming"."""
    auth.login()
    practice.settings = {"booking_url_template": "https://cal.com/praxis/termin"}
    db.session.commit()
    patient = make_patient()
    html = termine(client, patient)
    assert 'id="appointments-empty"' in html and "No appointments yet." in html
    assert 'id="book-appointment-link"' in html and 'id="appointments-table"' not in html
    add_appointment(practice, patient, at_hour(-1, 9))
    html = termine(client, patient)
    assert 'id="appointments-none-upcoming"' in html and 'id="appointments-empty"' not in html
    assert 'id="appointments-none-past"' in termine(client, make_patient(), past=1)


def test_stale_warning_after_25_hours(client, auth, make_patient, practice, english):
    """The booking tool last heard from 25 hours ago: the cached list stays visible with a warning naming that
    time (in the practice's zone)."""
    auth.login()
    patient = make_patient()
    heard = utcnow() - timedelta(hours=25)
    add_event(practice, heard)
    appointment = add_appointment(practice, patient, at_hour(2, 9), synced_at=heard)
    html = termine(client, patient)
    assert row_ids(html) == [appointment.id]
    warning = re.search(r'<p class="notice" role="alert" id="appointments-stale-booking">(.*?)</p>', html, re.S)
    assert warning is not None
    assert "May be out of date: the booking tool was last heard from" in warning.group(1)
    assert heard.astimezone(ZoneInfo("Europe/Berlin")).strftime("%-I:%M") in warning.group(1)


def test_fresh_after_one_hour_shows_last_sync_without_warning(client, auth, make_patient, practice, english):
    """Heard from an hour ago: "Last synchronised" with that time, no warning."""
    auth.login()
    patient = make_patient()
    add_event(practice, utcnow() - timedelta(hours=25))
    add_event(practice, utcnow() - timedelta(hours=1), attempt="ignored")
    add_appointment(practice, patient, at_hour(2, 9), synced_at=utcnow() - timedelta(hours=25))
    html = termine(client, patient)
    assert 'id="appointments-synced-booking"' in html and "Last synchronised:" in html
    assert "appointments-stale" not in html


@pytest.mark.parametrize("newer", [
    {"attempt": "error"},
    {"attempt": None},
    {"outcome": "rejected", "attempt": None},
    {"outcome": "duplicate", "attempt": None},
    {"source": "calcom"},
])
def test_only_applied_events_of_the_same_source_count(client, auth, make_patient, practice, newer):
    """A newer event that failed, was never applied, was rejected or a duplicate, or came from another source,
    does not make the booking tool's cache fresh."""
    auth.login()
    patient = make_patient()
    add_event(practice, utcnow() - timedelta(hours=30))
    add_event(practice, utcnow() - timedelta(minutes=5), **newer)
    add_appointment(practice, patient, at_hour(2, 9), synced_at=utcnow() - timedelta(hours=30))
    assert 'id="appointments-stale-booking"' in termine(client, patient)


def test_another_practice_s_events_do_not_count(client, auth, make_patient, practice, other_practice):
    """Freshness is per practice."""
    auth.login()
    patient = make_patient()
    add_event(other_practice, utcnow())
    add_appointment(practice, patient, at_hour(2, 9), synced_at=utcnow() - timedelta(hours=30))
    assert 'id="appointments-stale-booking"' in termine(client, patient)


def test_sync_time_falls_back_to_the_appointments(client, auth, make_patient, practice):
    """Without events the newest synced_at of the patient's appointments of a source is its last contact."""
    auth.login()
    patient = make_patient()
    add_appointment(practice, patient, at_hour(2, 9), source="calcom", synced_at=utcnow() - timedelta(hours=2))
    html = termine(client, patient)
    assert 'id="appointments-synced-calcom"' in html and "appointments-stale" not in html
    add_appointment(practice, patient, at_hour(3, 9), synced_at=utcnow() - timedelta(hours=26))
    html = termine(client, patient)
    assert 'id="appointments-stale-booking"' in html and 'id="appointments-stale-calcom"' not in html


def test_booking_button_fills_in_the_patient(client, auth, make_patient, practice, db):
    """The button opens the booking page in a new tab with the patient's name and email encoded into it."""
    auth.login(role="therapist")
    practice.settings = {"booking_url_template": "https://cal.com/praxis/erst?name={name}&email={email}"}
    db.session.commit()
    patient = make_patient(first_name="Jörg & Söhne", last_name="Müller Lüdenscheidt", email="joerg@example.test",
                           therapist_id=auth.user.id)
    html = termine(client, patient)
    link = re.search(r'<a href="([^"]+)" target="_blank" rel="([^"]+)" role="button" id="book-appointment-link"',
                     html)
    assert link is not None and "noopener" in link.group(2).split()
    assert unescape(link.group(1)) == ("https://cal.com/praxis/erst?name=J%C3%B6rg%20%26%20S%C3%B6hne%20"
                                       "M%C3%BCller%20L%C3%BCdenscheidt&email=joerg%40example.test")


@pytest.mark.parametrize(("role", "hint"), [("admin", True), ("assistant", False)])
def test_without_template_no_button_and_a_hint_for_admins(client, auth, make_patient, role, hint):
    """No booking page configured: no button; admins get a link to the settings."""
    auth.login(role=role)
    html = termine(client, make_patient())
    assert 'id="book-appointment-link"' not in html
    assert ('id="booking-url-hint"' in html) is hint
    assert ('href="/settings/"' in html) is hint


def test_billing_reads_appointments_but_cannot_book_or_link(client, auth, make_patient, practice, db):
    """Billing sees the list but neither the booking button nor the links; creating a link is refused."""
    auth.login(role="billing")
    practice.settings = {"booking_url_template": "https://cal.com/praxis/termin"}
    db.session.commit()
    patient = make_patient()
    add_appointment(practice, patient, at_hour(1, 9))
    html = termine(client, patient)
    assert 'id="appointments-table"' in html
    assert 'id="book-appointment-link"' not in html and 'id="patient-links"' not in html
    assert client.post(f"/patients/{patient.id}/meine-termine").status_code == 403


def test_therapist_owns_patients_with_an_appointment_with_them(client, auth, make_user, make_patient, practice):
    """A therapist reads a colleague's patient who has an appointment with them: in the list, the record and the
    Termine tab; patients without such an appointment stay 404."""
    therapist = auth.login(role="therapist")
    colleague = make_user(role="therapist")
    shared = make_patient(last_name="Gemeinsam", therapist_id=colleague.id)
    foreign = make_patient(last_name="Fremd", therapist_id=colleague.id)
    add_appointment(practice, shared, at_hour(-30, 9), therapist_id=therapist.id)
    add_appointment(practice, foreign, at_hour(1, 9), therapist_id=colleague.id)
    listing = client.get("/patients/", headers=htmx("patients-table")).get_data(as_text=True)
    assert "Gemeinsam" in listing and "Fremd" not in listing
    assert "Gemeinsam" in client.get("/patients/?q=gemein", headers=htmx("patients-table")).get_data(as_text=True)
    assert client.get(f"/patients/{shared.id}").status_code == 200
    assert client.get(f"/patients/{shared.id}/termine").status_code == 200
    for url in (f"/patients/{foreign.id}", f"/patients/{foreign.id}/termine", f"/patients/{foreign.id}/anrufe"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/patients/{foreign.id}/meine-termine").status_code == 404


def test_other_practice_is_404(client, auth, make_patient, other_practice):
    """Another practice's patient: every appointment and link view answers 404."""
    auth.login()
    stranger = make_patient(practice=other_practice)
    add_appointment(other_practice, stranger, at_hour(1, 9))
    assert client.get(f"/patients/{stranger.id}/termine").status_code == 404
    assert client.get(f"/patients/{stranger.id}/anrufe").status_code == 404
    assert client.post(f"/patients/{stranger.id}/meine-termine").status_code == 404
    assert client.post(f"/patients/{stranger.id}/meine-termine/revoke", data={"link_id": 1}).status_code == 404


def test_create_copy_and_revoke_a_link(app, client, auth, make_patient, db, english):
    """Staff create a link (audited with the patient), see it with its expiry and a copy field, and revoke it."""
    auth.login(role="assistant")
    patient = make_patient()
    created = client.post(f"/patients/{patient.id}/meine-termine", headers=htmx("patient-links"))
    assert created.status_code == 200 and '"toast"' in created.headers["HX-Trigger"]
    html = created.get_data(as_text=True)
    assert html.lstrip().startswith('<article id="patient-links"')
    link = db.session.scalar(select(PatientAccessLink).where(PatientAccessLink.patient_id == patient.id))
    days = (link.expires_at - link.created_at).total_seconds() / 86400
    assert round(days) == app.config["PATIENT_LINK_DAYS"]
    url = re.search(rf'value="(http://localhost/meine-termine/[^"]+)" id="access-link-url-{link.id}"', html)
    assert url is not None and f'data-copy-target="access-link-url-{link.id}"' in html
    assert client.get(url.group(1)).status_code == 200

    revoked = client.post(f"/patients/{patient.id}/meine-termine/revoke", data={"link_id": link.id},
                          headers=htmx("patient-links"))
    assert revoked.status_code == 200 and 'data-status="revoked"' in revoked.get_data(as_text=True)
    assert client.get(url.group(1)).status_code == 404
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.object_type == "patient_access_link")
                                 .order_by(AuditEntry.id)).all()
    assert [(entry.action, entry.patient_id) for entry in entries] == [
        ("patient_access_link.create", patient.id), ("patient_access_link.revoke", patient.id)]


def test_links_are_listed_on_the_tab_with_their_state(client, auth, make_patient, db, practice):
    """The Termine tab lists the patient's links: active ones with the URL and a revoke button, expired without."""
    auth.login()
    patient = make_patient()
    now = utcnow()
    active = PatientAccessLink(practice_id=practice.id, patient_id=patient.id, nonce="a" * 32,
                               expires_at=now + timedelta(days=3))
    expired = PatientAccessLink(practice_id=practice.id, patient_id=patient.id, nonce="b" * 32,
                                expires_at=now - timedelta(minutes=1))
    db.session.add_all([active, expired])
    db.session.commit()
    html = termine(client, patient)
    assert f'id="access-link-{active.id}" data-status="active"' in html
    assert f'id="access-link-{expired.id}" data-status="expired"' in html
    assert f'id="revoke-access-link-{active.id}"' in html and f'id="revoke-access-link-{expired.id}"' not in html
    assert f'id="access-link-url-{expired.id}"' not in html


def test_a_link_cannot_be_revoked_through_another_patient(client, auth, make_patient, db):
    """Revoking names the patient in the URL: another patient's link id is 404 and stays active."""
    auth.login()
    owner, other = make_patient(), make_patient()
    client.post(f"/patients/{owner.id}/meine-termine")
    link = db.session.scalar(select(PatientAccessLink).where(PatientAccessLink.patient_id == owner.id))
    assert client.post(f"/patients/{other.id}/meine-termine/revoke", data={"link_id": link.id}).status_code == 404
    assert client.post(f"/patients/{owner.id}/meine-termine/revoke", data={"link_id": "x"}).status_code == 404
    db.session.refresh(link)
    assert link.revoked_at is None


def test_no_links_for_archived_patients(client, auth, make_patient, english):
    """An archived patient gets no new link (422 with the reason)."""
    auth.login()
    patient = make_patient(archived_at=utcnow())
    refused = client.post(f"/patients/{patient.id}/meine-termine", headers=htmx("patient-links"))
    assert refused.status_code == 422 and "Archived patients cannot get a link." in refused.headers["HX-Trigger"]
    assert 'id="create-access-link"' not in termine(client, patient)


def test_link_without_htmx_redirects_to_the_tab(client, auth, make_patient):
    """Without htmx the create button posts a form and lands back on the Termine tab (303)."""
    auth.login()
    patient = make_patient()
    response = client.post(f"/patients/{patient.id}/meine-termine")
    assert response.status_code == 303 and response.headers["Location"] == f"/patients/{patient.id}/termine"


def test_calls_tab(client, auth, make_patient, practice, english):
    """Calls newest first with local time, direction, duration as mm:ss, summary and sentiment; never the
    transcript."""
    auth.login()
    patient = make_patient()
    older = add_call(practice, patient, at_hour(-3, 8), direction="outbound", duration_ms=59_999,
                     summary="Rückruf wegen Rezept", sentiment="Neutral")
    newer = add_call(practice, patient, at_hour(-1, 8), direction="inbound", duration_ms=754_000,
                     summary="Termin verschoben", sentiment="Positive",
                     transcript=encrypt_secret("Geheimes Transkript"))
    response = client.get(f"/patients/{patient.id}/anrufe", headers=htmx("patient-tab"))
    html = response.get_data(as_text=True)
    assert [int(n) for n in re.findall(r'id="call-row-(\d+)"', html)] == [newer.id, older.id]
    newer_row = html.split(f'id="call-row-{newer.id}"')[1].split("</tr>")[0]
    assert "Inbound" in newer_row and "12:34" in newer_row and "Termin verschoben" in newer_row
    local = newer.started_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert "Positive" in newer_row and local.strftime("%-I:%M") in newer_row
    older_row = html.split(f'id="call-row-{older.id}"')[1].split("</tr>")[0]
    assert "Outbound" in older_row and "0:59" in older_row
    assert "Transkript" not in html and newer.transcript not in html


def test_calls_empty_state(client, auth, make_patient):
    """No calls: the empty state."""
    auth.login()
    html = client.get(f"/patients/{make_patient().id}/anrufe", headers=htmx("patient-tab")).get_data(as_text=True)
    assert 'id="calls-empty"' in html


@pytest.mark.parametrize("state, warned", [("unreachable", True), ("auth_failed", True), ("paused", True),
                                           ("ok", False), ("degraded", False)])
def test_cal_com_unavailable_keeps_the_list_with_a_warning(client, auth, make_patient, practice, db, english,
                                                           state, warned):
    """A fresh Cal.com cache still warns while the hub finds Cal.com unreachable (or refusing its key, or paused):
    the appointments stay listed and the notice says why they may be out of date."""
    from app.integrations.models import ProviderHealth

    auth.login()
    patient = make_patient()
    add_appointment(practice, patient, at_hour(2, 9), source="calcom", synced_at=utcnow() - timedelta(minutes=5))
    db.session.add(ProviderHealth(practice_id=practice.id, provider="calcom", state=state, consecutive_failures=1))
    db.session.commit()
    html = termine(client, patient)
    assert 'id="appointments-list"' in html or "appointments-synced-calcom" in html
    assert ('id="appointments-stale-calcom"' in html) is warned
    if warned:
        assert "Cal.com cannot be synchronised at the moment" in unescape(html)
