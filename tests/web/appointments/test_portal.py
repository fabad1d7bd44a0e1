"""Meine Termine: the page a patient opens with a personal link shows only that patient's upcoming appointments,
privately (no caching, no referrer, no indexing), and any link that does not work answers the same 404."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from itsdangerous import URLSafeSerializer

from app.patients.links import LINK_SIGNING_SALT, create_link, link_token, revoke_link
from app.patients.models import PatientAccessLink
from app.platform.database import utcnow
from app.platform.security.actor import Actor
from tests.appointment_data import add_appointment

INVALID = "This link is no longer valid."


@pytest.fixture
def issue(make_user):
    """``issue(patient, now=None)``: create a link for ``patient`` as an assistant; returns (link, URL path)."""
    def make(patient, now=None):
        link = create_link(Actor(make_user(role="assistant")), patient, now or utcnow())
        return link, f"/meine-termine/{link_token(link)}"

    return make


def in_days(days, hour_utc=9):
    """A whole hour ``days`` from now (UTC)."""
    day = (utcnow() + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour_utc, tzinfo=UTC)


def test_page_shows_only_this_patient_s_upcoming_appointments(client, make_practice, make_patient, make_user,
                                                              issue, db, english):
    """First name only, the practice's name, upcoming appointments that still take place with date, time in the
    practice's zone, service and therapist; nothing of other patients, past or cancelled appointments."""
    practice = make_practice(name="Praxis Sonnenschein", timezone="Asia/Tokyo")
    patient = make_patient(practice=practice, first_name="Jana", last_name="Geheimnachname")
    other = make_patient(practice=practice, first_name="Otto")
    therapist = make_user(role="therapist", practice=practice, name="Tom Therapeut")
    visit = add_appointment(practice, patient, in_days(2, 23), service_name="Krankengymnastik",
                            therapist_id=therapist.id)
    add_appointment(practice, patient, in_days(3), service_name="Abgesagte Stunde", status="cancelled")
    add_appointment(practice, patient, in_days(-3), service_name="Vergangene Stunde")
    add_appointment(practice, other, in_days(1), service_name="Ottos Termin")
    link, path = issue(patient)

    response = client.get(path)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Hello Jana," in html and "Praxis Sonnenschein" in html
    assert "Geheimnachname" not in html
    assert re.findall(r'id="portal-appointment-(\d+)"', html) == [str(visit.id)]
    local = visit.starts_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert local.strftime("%B %-d, %Y") in html and "at 8:00" in html
    assert "Krankengymnastik" in html and "with Tom Therapeut" in html
    for hidden in ("Abgesagte Stunde", "Vergangene Stunde", "Ottos Termin", "main-nav"):
        assert hidden not in html
    db.session.refresh(link)
    assert link.last_used_at is not None


def test_page_is_private_and_mobile_friendly(client, make_patient, issue):
    """No caching, no referrer, not indexed; a viewport for phones."""
    _link, path = issue(make_patient())
    response = client.get(path)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response.headers["X-Robots-Tag"]
    html = response.get_data(as_text=True)
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'id="portal-empty"' in html


def test_expired_revoked_forged_and_archived_links_answer_the_same_404(client, make_patient, issue, db, english):
    """Every kind of broken link gets the same page, which does not say why."""
    patient = make_patient()
    _expired, expired_path = issue(patient, now=utcnow() - timedelta(days=31))
    revoked, revoked_path = issue(patient)
    revoke_link(Actor(), patient, revoked.id, utcnow())
    valid, valid_path = issue(patient)
    forged_nonce = URLSafeSerializer("test-secret-key", salt=LINK_SIGNING_SALT).dumps(
        {"link": valid.id, "nonce": "0" * 32})
    other_key = URLSafeSerializer("another-key", salt=LINK_SIGNING_SALT).dumps(
        {"link": valid.id, "nonce": valid.nonce})
    paths = [expired_path, revoked_path, f"/meine-termine/{forged_nonce}", f"/meine-termine/{other_key}",
             "/meine-termine/nonsense", valid_path[:-2]]
    bodies = set()
    for path in paths:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["Cache-Control"] == "no-store"
        bodies.add(response.get_data(as_text=True))
    assert len(bodies) == 1 and INVALID in bodies.pop()
    assert client.get(valid_path).status_code == 200
    patient.archived_at = utcnow()
    db.session.commit()
    assert client.get(valid_path).status_code == 404


def test_last_used_is_not_set_by_broken_links(client, make_patient, issue, db):
    """Only a working link records its use."""
    patient = make_patient()
    link, path = issue(patient, now=utcnow() - timedelta(days=31))
    client.get(path)
    db.session.refresh(link)
    assert link.last_used_at is None
    assert db.session.get(PatientAccessLink, link.id).revoked_at is None


@pytest.mark.parametrize("app_overrides", [{"RATELIMIT_ENABLED": True}])
def test_rate_limited(client, make_patient, issue):
    """30 requests a minute per client address; then 429."""
    _link, path = issue(make_patient())
    statuses = [client.get(path).status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
