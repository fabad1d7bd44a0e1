"""The review list pages: only admins (patients.link), another practice's reviews answer 404, accept and ignore from
the list (htmx swaps the list and the navigation's count), link from the review's page; and the Termine tab shows
an unmapped Cal.com host as "nicht zugeordnet", not as a therapist."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.appointments.models import Appointment
from app.appointments.service import apply_appointment
from app.patients.models import Patient
from app.patients.reviews.models import PatientReview
from app.platform.database import utcnow
from app.platform.security.actor import Actor
from app.providers.events import SCHEDULED, AppointmentRecord
from tests.helpers import audit_actions, htmx


def stored(db, model, key):
    """The row as the database holds it now (the requests ran in sessions of their own)."""
    db.session.expire_all()
    return db.session.get(model, key)


def synced_patient(db, practice, external_id, email, name):
    """A Cal.com booking of a new attendee, applied as a sync does; returns the created patient's review."""
    start = utcnow() + timedelta(days=1)
    apply_appointment(Actor(practice_id=practice.id), practice, AppointmentRecord(
        source="calcom", external_id=external_id, starts_at=start, ends_at=start + timedelta(minutes=30),
        status=SCHEDULED, attendee_name=name, attendee_email=email, therapist_name="Jonas Wolf",
        therapist_email="jonas@cal.example", source_updated_at=utcnow()))
    db.session.commit()
    patient_id = db.session.scalar(select(Appointment.patient_id).where(Appointment.external_id == external_id))
    return db.session.scalar(select(PatientReview).where(PatientReview.patient_id == patient_id))


def nav_count(html):
    """The pending count in the navigation."""
    return int(re.search(r'id="nav-count-patient-reviews-index"[^>]*>(\d+)<', html).group(1))


@pytest.mark.parametrize("role", ["assistant", "therapist", "billing"])
def test_only_admins_review(client, auth, db, practice, role):
    """Other roles neither open the list nor decide."""
    auth.login(role)
    review = synced_patient(db, practice, "bk-1", "peter@example.com", "Peter Schneider")
    assert client.get("/patients/reviews/").status_code == 403
    assert client.post(f"/patients/reviews/{review.id}/accept").status_code == 403
    assert stored(db, PatientReview, review.id).status == "pending"


def test_another_practices_review_is_not_found(client, auth, db, other_practice, make_patient):
    """Review ids of another practice answer 404 and change nothing."""
    auth.login("admin")
    review = synced_patient(db, other_practice, "bk-9", "peter@example.com", "Peter Schneider")
    target = make_patient()
    assert client.get(f"/patients/reviews/{review.id}").status_code == 404
    for action, data in (("accept", {}), ("ignore", {}), ("link", {"patient_id": target.id})):
        assert client.post(f"/patients/reviews/{review.id}/{action}", data=data).status_code == 404
    assert stored(db, PatientReview, review.id).status == "pending"


def test_accept_and_ignore_from_the_list(client, auth, db, practice):
    """The list shows the created patients with their source and no therapist; accepting and ignoring swap the
    list and the navigation's count, with a toast."""
    auth.login("admin")
    peter = synced_patient(db, practice, "bk-1", "peter@example.com", "Peter Schneider")
    spam = synced_patient(db, practice, "bk-2", "test@example.com", "Test Buchung")

    page = client.get("/patients/reviews/").get_data(as_text=True)
    assert "Peter Schneider" in page and "Test Buchung" in page and "Cal.com" in page
    assert "nicht zugeordnet" in page and nav_count(page) == 2

    response = client.post(f"/patients/reviews/{peter.id}/accept", headers=htmx("patient-reviews"))
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="patient-reviews">') and "Peter Schneider" not in html
    assert re.search(r'id="nav-count-patient-reviews-index"[^>]*hx-swap-oob="true">1<', html)
    assert "toast" in response.headers["HX-Trigger"]

    client.post(f"/patients/reviews/{spam.id}/ignore", headers=htmx("patient-reviews"))
    assert stored(db, Patient, spam.patient_id).archived_at is not None
    again = client.post(f"/patients/reviews/{spam.id}/accept", headers=htmx("patient-reviews"))
    assert again.status_code == 422 and "bereits entschieden" in again.headers["HX-Trigger"].encode().decode(
        "unicode_escape")
    decided = client.get("/patients/reviews/", query_string={"decided": 1}).get_data(as_text=True)
    assert "Übernommen" in decided and "Ignoriert" in decided
    assert audit_actions(db, object_type="patient_review") == ["patient_review.accept", "patient_review.ignore"]


def test_link_from_the_review_page(client, auth, db, practice, make_patient):
    """The review's page offers the likely match (same email); linking moves the appointment and archives the
    created record; a patient of another practice cannot be chosen."""
    auth.login("admin")
    review = synced_patient(db, practice, "bk-1", "peter@example.com", "Peter Schneider")
    target = make_patient(first_name="Peter", last_name="Schneider", email="peter@example.com")

    page = client.get(f"/patients/reviews/{review.id}").get_data(as_text=True)
    assert f'id="review-matches-link-{target.id}"' in page

    response = client.post(f"/patients/reviews/{review.id}/link", data={"patient_id": target.id})
    assert response.status_code == 303
    assert db.session.scalar(select(Appointment.patient_id).where(Appointment.external_id == "bk-1")) == target.id
    assert stored(db, Patient, review.patient_id).archived_at is not None
    assert stored(db, PatientReview, review.id).status == "linked"


def test_termine_tab_shows_an_unmapped_calcom_host_as_not_assigned(client, auth, db, practice, make_user):
    """A Cal.com appointment whose host is no therapist shows "nicht zugeordnet" in the therapist column."""
    auth.login("admin")
    make_user(role="admin", name="Jonas Wolf")  # same name, but no therapist: not matched
    review = synced_patient(db, practice, "bk-1", "peter@example.com", "Peter Schneider")
    html = client.get(f"/patients/{review.patient_id}/termine", headers=htmx("patient-tab")).get_data(as_text=True)
    row = html.split('id="appointment-row-')[1].split("</tr>")[0]
    assert "nicht zugeordnet" in row and ">Jonas Wolf<" not in row


def test_home_page_shows_pending_reviews_to_admins(client, auth, db, practice):
    """An admin's home page lists "Zu prüfende Patient:innen" while any wait, linking to each."""
    auth.login("admin")
    assert 'id="home-pending-reviews"' not in client.get("/").get_data(as_text=True)
    review = synced_patient(db, practice, "bk-1", "peter@example.com", "Peter Schneider")
    panel = client.get("/").get_data(as_text=True).split('id="home-pending-reviews"')[1].split("</article>")[0]
    assert "Peter Schneider" in panel and f'href="/patients/reviews/{review.id}"' in panel


def test_search_on_the_review_page_finds_only_the_practices_active_patients(client, auth, db, practice,
                                                                           other_practice, make_patient):
    """Typing a name answers the #review-patient-results fragment with this practice's active patients only."""
    auth.login("admin")
    review = synced_patient(db, practice, "bk-1", "peter@example.com", "Peter Schneider")
    mine = make_patient(first_name="Petra", last_name="Suchbar")
    make_patient(practice=other_practice, first_name="Petra", last_name="Fremdpraxis")
    make_patient(first_name="Petra", last_name="Archiviert", archived_at=utcnow())
    html = client.get(f"/patients/reviews/{review.id}", query_string={"q": "Petra"},
                      headers=htmx("review-patient-results")).get_data(as_text=True)
    assert html.lstrip().startswith('<div id="review-patient-results">')
    assert f'id="review-patient-results-link-{mine.id}"' in html
    assert "Fremdpraxis" not in html and "Archiviert" not in html
