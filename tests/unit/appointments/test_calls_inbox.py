"""The calls inbox's service: the open count (one indexed statement), the inbox's order and filters, assigning a call
(to an existing patient or a new one made with the patients domain's rules), done and open again, all audited,
and the move of a patient's appointments and calls."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.appointments.calls.service import (
    assign_call,
    assign_new_patient,
    inbox_page,
    mark_done,
    move_patient_records,
    new_patient_fields,
    open_calls_panel,
    open_count,
    reopen,
    sentiment_label,
)
from app.appointments.models import Appointment, Call
from app.patients.models import Patient
from app.patients.service import PatientValidationError
from app.platform.audit.models import AuditEntry
from app.platform.database import utcnow
from app.platform.security.actor import Actor
from tests.appointment_data import add_appointment
from tests.helpers import audit_actions


def add_call(db, practice, patient=None, hours_ago=1, **fields):
    """A call of ``practice`` (unmatched without ``patient``) started ``hours_ago`` hours ago."""
    fields.setdefault("external_id", f"call-{practice.id}-{hours_ago}-{fields.get('from_number', '')}")
    fields.setdefault("direction", "inbound")
    call = Call(practice_id=practice.id, patient_id=patient.id if patient else None,
                started_at=utcnow() - timedelta(hours=hours_ago), **fields)
    db.session.add(call)
    db.session.commit()
    return call


@pytest.fixture
def desk(make_user):
    """A front desk user."""
    return make_user(role="assistant", name="Emil Empfang")


def test_open_count_is_one_statement_and_counts_only_the_practices_open_calls(db, practice, other_practice, desk,
                                                                            sql_statements):
    """Open calls of the user's practice are counted; done ones and another practice's are not; one statement."""
    add_call(db, practice, hours_ago=1)
    add_call(db, practice, hours_ago=2, done_at=utcnow())
    add_call(db, practice, hours_ago=3)
    add_call(db, other_practice, hours_ago=1)
    assert desk.practice_id == practice.id  # loads the user before counting statements
    with sql_statements() as sent:
        assert open_count(desk) == 2
    assert len(sent) == 1 and "done_at IS NULL" in sent[0]


def test_inbox_lists_newest_first_and_filters(app, db, practice, other_practice, make_patient):
    """Every call newest first; "open", "unmatched" and "done" narrow the list; another practice's never shows."""
    patient = make_patient()
    newest = add_call(db, practice, hours_ago=1, from_number="+491700000001")
    matched = add_call(db, practice, patient, hours_ago=2, from_number="+491700000002")
    done = add_call(db, practice, hours_ago=3, from_number="+491700000003", done_at=utcnow())
    add_call(db, other_practice, hours_ago=1)
    with app.test_request_context():
        assert [c.id for c in inbox_page(practice.id, "all", 50).items] == [newest.id, matched.id, done.id]
        assert [c.id for c in inbox_page(practice.id, "open", 50).items] == [newest.id, matched.id]
        assert [c.id for c in inbox_page(practice.id, "unmatched", 50).items] == [newest.id]
        assert [c.id for c in inbox_page(practice.id, "done", 50).items] == [done.id]


def test_mark_done_keeps_who_and_when_and_reopen_clears_it(db, practice, desk):
    """Done records the user and time once (a second click changes nothing); open again clears both; each audited."""
    call = add_call(db, practice)
    mark_done(Actor(desk), call)
    first = call.done_at
    assert first is not None and call.done_by_id == desk.id
    mark_done(Actor(desk), call)
    assert call.done_at == first
    reopen(Actor(desk), call)
    assert call.done_at is None and call.done_by_id is None
    assert audit_actions(db, object_type="call") == ["call.done", "call.reopen"]


def test_assign_call_audits_the_previous_patient_and_refuses_another_practice(db, practice, other_practice, desk,
                                                                             make_patient):
    """Assigning records the patient on the audit entry (and the one before, when re-assigned); a patient of another
    practice is refused."""
    call = add_call(db, practice)
    first, second = make_patient(), make_patient()
    assign_call(Actor(desk), call, first)
    assign_call(Actor(desk), call, second)
    assert call.patient_id == second.id
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "call.assign")
                                 .order_by(AuditEntry.id)).all()
    assert [entry.patient_id for entry in entries] == [first.id, second.id]
    assert entries[1].meta == {"previous_patient_id": first.id}
    with pytest.raises(ValueError):
        assign_call(Actor(desk), call, make_patient(practice=other_practice))
    assert db.session.get(Call, call.id).patient_id == second.id


def test_new_patient_starts_with_the_callers_number_in_national_form(db, practice):
    """The caller's E.164 number is offered as the practice writes it; an outbound call offers the callee."""
    practice.country = "DE"
    inbound = add_call(db, practice, from_number="+491709998877", to_number="+4930555000")
    outbound = add_call(db, practice, hours_ago=2, direction="outbound", from_number="+4930555000",
                        to_number="+4915221234567")
    assert new_patient_fields(inbound, practice) == {"phone": "0170 9998877"}
    assert new_patient_fields(outbound, practice)["phone"].replace(" ", "") == "015221234567"


def test_assign_new_patient_uses_the_patients_rules(db, practice, desk):
    """A new patient is created through the patients domain's service (its validation, its audit entry) and the
    call assigned to them; invalid fields leave the call unassigned."""
    call = add_call(db, practice, from_number="+491709998877")
    with pytest.raises(PatientValidationError) as refused:
        assign_new_patient(Actor(desk), practice, call, {"first_name": "Ina", "last_name": "", "phone": "0170 9998877"})
    assert "last_name" in refused.value.errors
    db.session.rollback()
    assert db.session.get(Call, call.id).patient_id is None

    patient = assign_new_patient(Actor(desk), practice, call, {"first_name": "Ina", "last_name": "Neu",
                                                               "phone": "0170 9998877"})
    assert patient.phone == "+491709998877" and db.session.get(Call, call.id).patient_id == patient.id
    assert audit_actions(db) == ["patient.create", "call.assign"]


def test_move_patient_records_moves_appointments_and_calls_of_one_practice(db, practice, make_patient):
    """Both the appointments and the calls of the created record end up on the target; two statements."""
    created, target, bystander = make_patient(), make_patient(), make_patient()
    add_appointment(practice, created, utcnow() + timedelta(days=1))
    add_call(db, practice, created)
    add_call(db, practice, bystander, hours_ago=5)
    moved = move_patient_records(practice.id, created.id, target.id)
    db.session.commit()
    assert moved == {"appointments": 1, "calls": 1}
    assert db.session.scalar(select(Appointment.patient_id)) == target.id
    assert sorted(db.session.scalars(select(Call.patient_id))) == sorted([target.id, bystander.id])
    assert db.session.get(Patient, created.id) is not None


def test_home_panel_counts_and_lists_the_newest_open_calls(db, practice, desk, sql_statements):
    """The home panel shows the open count and the newest open calls, in two statements."""
    for hours in range(1, 8):
        add_call(db, practice, hours_ago=hours)
    assert desk.practice_id == practice.id
    with sql_statements() as sent:
        panel = open_calls_panel(desk)
    assert panel["count"] == 7 and len(panel["calls"]) == 5 and len(sent) == 2


@pytest.mark.parametrize(("value", "german"), [("Positive", "Positiv"), ("Negative", "Negativ"),
                                               ("Neutral", "Neutral"), ("Unknown", "Unbekannt"),
                                               ("Irritated", "Unbekannt"), (None, None)])
def test_sentiment_in_german_words(app, value, german):
    """Retell's sentiment values read as German words; an unexpected one as "Unbekannt", none as nothing."""
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("de"):
        label = sentiment_label(value)
        assert (str(label) if label is not None else None) == german
