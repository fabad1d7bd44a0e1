"""Bookings made by staff keep the type's minimum notice and booking horizon: refused with a sentence naming the
earliest start or the last day, unless a user who may override gives a reason (audited with the rule booked
over); moving an appointment keeps them too, other edits do not re-check them."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.platform.audit.models import AuditEntry
from app.platform.database import utcnow
from app.platform.security.actor import Actor
from app.scheduling.booking import BookingRequest, book, change
from app.scheduling.resolve import SchedulingError
from tests.unit.scheduling.setup import TUESDAY, build, local


@pytest.fixture
def s(practice, make_user, db):
    setup = build(practice, make_user)
    setup.kg.min_notice_minutes = 24 * 60
    setup.kg.horizon_days = 60
    db.session.commit()
    return setup


def request_for(s, start, **kw):
    return BookingRequest(type_id=s.kg.id, therapist_id=s.anna.id, location_id=s.location.id, start=start, **kw)


def soon():
    """In two hours, on the quarter hour."""
    start = utcnow() + timedelta(hours=2)
    return start.replace(minute=0, second=0, microsecond=0)


def test_inside_the_minimum_notice_is_refused_with_the_earliest_start(db, s):
    with pytest.raises(SchedulingError) as error:
        book(Actor(s.anna), s.practice, request_for(s, soon()))
    assert error.value.field == "start_time"
    assert "1440 Minuten im Voraus" in str(error.value)


def test_beyond_the_horizon_is_refused(db, s):
    with pytest.raises(SchedulingError) as error:
        book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 9)))
    assert "60" in str(error.value) and error.value.field == "start_time"


def test_override_with_a_reason_books_and_audits_the_rule(db, s):
    with pytest.raises(SchedulingError):
        book(Actor(s.anna), s.practice, request_for(s, soon(), override_reason=""), can_override=True)
    appointment = book(Actor(s.anna), s.practice, request_for(s, soon(), override_reason="Schmerzpatient"),
                       can_override=True)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "appointment.create"))
    assert appointment.id and "min_notice" in entry.meta["conflicts"]
    assert entry.meta["override_reason"] == "Schmerzpatient"


def test_a_move_keeps_the_rules_other_edits_do_not(db, s):
    s.kg.horizon_days = 20 * 365
    db.session.commit()
    appointment = book(Actor(s.anna), s.practice, request_for(s, local(TUESDAY, 9)))
    s.kg.horizon_days = 60
    db.session.commit()
    change(Actor(s.anna), s.practice, appointment, request_for(s, local(TUESDAY, 9), notes="Handtuch mitbringen"))
    with pytest.raises(SchedulingError):
        change(Actor(s.anna), s.practice, appointment, request_for(s, local(TUESDAY, 10)))
