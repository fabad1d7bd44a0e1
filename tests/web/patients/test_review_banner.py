"""A patient held on the review list (created by a sync or webhook, issue 17, item 5) is marked where the front desk
meets it: a banner on the record (with the way to decide for those who may) and a marker in the patient list, read
for the whole page in one query."""

import pytest
from sqlalchemy import update

from app.patients.reviews.models import ACCEPTED, PENDING, PatientReview
from app.patients.reviews.service import hold_for_review
from tests.helpers import htmx


@pytest.fixture
def held(db, practice, make_patient):
    """A patient a Cal.com sync created, waiting on the review list; returns (patient, review)."""
    patient = make_patient(first_name="Peter", last_name="Schneider", source="calcom")
    hold_for_review(practice.id, patient.id, "calcom")
    db.session.commit()
    review = db.session.query(PatientReview).filter_by(patient_id=patient.id).one()
    return patient, review


def test_the_record_of_a_held_patient_shows_the_banner_with_the_way_to_decide(client, auth, held):
    patient, review = held
    auth.login("admin")
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert 'id="patient-review-banner"' in html and "Zu prüfen" in html and "Quelle: Cal.com" in html
    assert f'href="/patients/reviews/{review.id}"' in html and "Jetzt entscheiden" in html


@pytest.mark.parametrize("role", ["assistant", "billing"])
def test_who_may_not_decide_sees_the_banner_without_the_link(client, auth, held, role):
    patient, review = held
    auth.login(role)
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert 'id="patient-review-banner"' in html and "Administrator" in html
    assert "/patients/reviews/" not in html


def test_no_banner_once_decided_or_for_ordinary_patients(client, auth, db, held, make_patient):
    patient, review = held
    ordinary = make_patient()
    auth.login("admin")
    assert 'id="patient-review-banner"' not in client.get(f"/patients/{ordinary.id}").get_data(as_text=True)
    db.session.execute(update(PatientReview).where(PatientReview.id == review.id).values(status=ACCEPTED))
    db.session.commit()
    assert 'id="patient-review-banner"' not in client.get(f"/patients/{patient.id}").get_data(as_text=True)


def test_the_banner_is_not_in_the_tab_fragments(client, auth, held):
    """Switching tabs swaps only #patient-tab: the banner above stays, and is not repeated inside it."""
    patient, _review = held
    auth.login("admin")
    html = client.get(f"/patients/{patient.id}/verlauf", headers=htmx("patient-tab")).get_data(as_text=True)
    assert "<html" not in html and 'id="patient-review-banner"' not in html


def test_the_list_marks_held_patients_in_the_page_and_the_search_fragment(client, auth, held, make_patient):
    patient, _review = held
    ordinary = make_patient(last_name="Schneidermann")
    auth.login("assistant")
    for response in (client.get("/patients/"), client.get("/patients/?q=Schneider", headers=htmx("patients-table"))):
        html = response.get_data(as_text=True)
        assert f'id="review-mark-{patient.id}"' in html
        assert f'id="review-mark-{ordinary.id}"' not in html and f'id="patient-row-{ordinary.id}"' in html


def test_another_practices_review_does_not_mark(client, auth, db, make_patient, other_practice, practice):
    """The lookup is scoped by practice, so a stray review row of another practice never marks a patient."""
    patient = make_patient()
    db.session.add(PatientReview(practice_id=other_practice.id, patient_id=patient.id, source="calcom",
                                 status=PENDING))
    db.session.commit()
    auth.login("admin")
    assert f'id="review-mark-{patient.id}"' not in client.get("/patients/").get_data(as_text=True)


def test_the_markers_cost_one_query_for_the_whole_page(client, auth, db, practice, make_patient, sql_statements):
    """Not one query per row: the list's statements stay the same with 1 or 20 held patients."""
    auth.login("admin")

    def review_queries():
        with sql_statements() as sent:
            client.get("/patients/", headers=htmx("patients-table"))
        return [statement for statement in sent if "patient_reviews" in statement]

    first = make_patient(last_name="Aaa")
    hold_for_review(practice.id, first.id, "calcom")
    db.session.commit()
    few = review_queries()
    for number in range(19):
        hold_for_review(practice.id, make_patient(last_name=f"Bbb{number:02d}").id, "booking")
    db.session.commit()
    many = review_queries()
    assert len(few) == len(many) == 1, many
