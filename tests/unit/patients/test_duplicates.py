"""Likely duplicates on create and edit (issue 17, item 3): the import's matching rules, shared in
app.patients.duplicates, decide; a duplicate stops the save unless a reason is given, and the reason is audited."""

from datetime import date

import pytest
from sqlalchemy import select

from app.patients import duplicates as shared
from app.patients.duplicates import find_duplicates
from app.patients.importing import plan
from app.patients.models import Patient
from app.patients.service import DuplicatesFound, create_patient, update_patient
from app.platform.audit.models import AuditEntry
from app.platform.errors import ServiceError
from app.platform.security.actor import Actor

BORN = date(1980, 3, 12)


@pytest.fixture
def actor(make_user):
    return Actor(make_user(role="assistant"))


@pytest.fixture
def anna(make_patient):
    return make_patient(first_name="Anna", last_name="Schäfer", birth_date=BORN, email="anna@example.de",
                        phone="+4917012345678")


def test_the_import_uses_the_shared_rule():
    """One rule, not a copy: the import's plan reads name and birth date through app.patients.duplicates."""
    assert plan._identity is shared.identity_key
    assert plan.email_keys is shared.email_keys


@pytest.mark.parametrize(("values", "reasons"), [
    ({"first_name": "anna", "last_name": " SCHÄFER ", "birth_date": BORN}, ["identity"]),
    ({"first_name": "Berta", "last_name": "Neu", "email": "ANNA@example.de"}, ["email"]),
    ({"first_name": "Berta", "last_name": "Neu", "phone": "+4917012345678"}, ["phone"]),
    ({"first_name": "Anna", "last_name": "Schäfer", "birth_date": BORN, "email": "anna@example.de"},
     ["identity", "email"]),
])
def test_matches_by_name_and_birth_date_email_or_phone(app, anna, values, reasons):
    found = find_duplicates(anna.practice_id, values)
    assert [(duplicate.patient.id, duplicate.reasons) for duplicate in found] == [(anna.id, reasons)]


@pytest.mark.parametrize("values", [
    {"first_name": "Anna", "last_name": "Schäfer", "birth_date": date(1980, 3, 13)},  # another birth date
    {"first_name": "Anne", "last_name": "Schäfer", "birth_date": BORN},
    {"first_name": "Anna", "last_name": "Schäfer"},  # no birth date: only a record without one would match
    {"first_name": "Berta", "last_name": "Neu", "email": "anna@example.com", "phone": "+4917012345679"},
])
def test_near_misses_are_not_duplicates(app, anna, values):
    assert find_duplicates(anna.practice_id, values) == []


def test_the_booking_email_counts_as_the_patients_email(app, make_patient):
    linked = make_patient(first_name="Carl", last_name="Bauer", email="carl@praxis.de", booking_email="c@b.de",
                          booking_system_id="B-1")
    assert [d.patient.id for d in find_duplicates(linked.practice_id, {"email": "carl@praxis.de"})] == [linked.id]


def test_never_another_practice_the_record_itself_or_a_merged_record(app, anna, make_patient, other_practice):
    values = {"first_name": "Anna", "last_name": "Schäfer", "birth_date": BORN}
    make_patient(practice=other_practice, first_name="Anna", last_name="Schäfer", birth_date=BORN)
    merged = make_patient(first_name="Anna", last_name="Schäfer", birth_date=BORN, merged_into_id=anna.id)
    assert merged.id not in [d.patient.id for d in find_duplicates(anna.practice_id, values)]
    assert [d.patient.id for d in find_duplicates(anna.practice_id, values)] == [anna.id]
    assert find_duplicates(anna.practice_id, values, exclude_id=anna.id) == []


def test_create_stops_at_a_duplicate_until_a_reason_is_given(app, db, actor, anna, practice):
    data = {"first_name": "Anna", "last_name": "Schäfer", "birth_date": "12.03.1980"}
    with pytest.raises(DuplicatesFound) as stopped:
        create_patient(actor, practice, data, check_duplicates=True)
    assert [d.patient.id for d in stopped.value.duplicates] == [anna.id]
    db.session.rollback()
    with pytest.raises(DuplicatesFound) as no_reason:
        create_patient(actor, practice, data, check_duplicates=True, duplicate_reason="  ")
    assert no_reason.value.field == "duplicate_reason"
    db.session.rollback()
    with pytest.raises(ServiceError):
        create_patient(actor, practice, data, check_duplicates=True, duplicate_reason="x" * 501)
    db.session.rollback()
    twin = create_patient(actor, practice, data, check_duplicates=True, duplicate_reason="Zwillingsschwester")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "patient.create",
                                                       AuditEntry.patient_id == twin.id))
    assert entry.meta == {"duplicates": [anna.id], "reason": "Zwillingsschwester"}
    assert db.session.scalar(select(Patient.id).where(Patient.id != anna.id, Patient.id != twin.id)) is None


def test_without_the_check_the_api_path_is_unchanged(app, actor, anna, practice):
    created = create_patient(actor, practice, {"first_name": "Anna", "last_name": "Schäfer"})
    assert created.id != anna.id


def test_edit_checks_only_when_an_identifying_field_changes(app, db, actor, anna, make_patient):
    other = make_patient(first_name="Berta", last_name="Neu", phone="+4917012345678")  # already shares the phone
    update_patient(actor, other, {"first_name": "Berta", "last_name": "Neu", "phone": "0170 12345678"},
                   therapist_id=None, check_duplicates=True)  # phone unchanged: no question asked
    with pytest.raises(DuplicatesFound) as stopped:
        update_patient(actor, other, {"first_name": "Berta", "last_name": "Neu", "email": "anna@example.de",
                                      "phone": "0170 12345678"}, check_duplicates=True)
    assert [d.patient.id for d in stopped.value.duplicates] == [anna.id]
    db.session.rollback()
    update_patient(actor, db.session.get(Patient, other.id), {
        "first_name": "Berta", "last_name": "Neu", "email": "anna@example.de", "phone": "0170 12345678"},
        check_duplicates=True, duplicate_reason="Mutter und Tochter teilen die Adresse")
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "patient.update")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.meta == {"fields": ["email"], "duplicates": [anna.id],
                          "reason": "Mutter und Tochter teilen die Adresse"}
