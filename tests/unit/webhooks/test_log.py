"""The webhook event log: status derived from the receipt outcome and the latest attempt, filters in the practice's
time zone, paging, the audited payload reveal, and the append-only event and attempt tables."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from app.platform.database import utcnow
from app.platform.security.actor import Actor
from app.webhooks.log import get_event_row, log_page, log_query, reveal_payload
from app.webhooks.models import WebhookEventAttempt
from tests.helpers import audit_actions
from tests.webhook_factories import make_endpoint, make_event


@pytest.fixture
def endpoint(db, practice):
    """The practice's booking endpoint."""
    return make_endpoint(practice)


def _statuses(practice, **filters):
    """{event id: status} of the practice's log."""
    return {row.WebhookEvent.id: row.status for row in log_page(log_query(practice, **filters), 1, 100).items}


def test_status_comes_from_receipt_outcome_or_latest_attempt(db, practice, endpoint):
    """Rejected/duplicate events keep their receipt outcome; accepted ones show their latest attempt, an error
    being "retrying" while a retry is scheduled and "failed" when none is."""
    later = utcnow() + timedelta(minutes=5)
    events = {
        "processed": make_event(endpoint, attempts=[{"outcome": "error", "error": "db"}, {"outcome": "processed"}]),
        "ignored": make_event(endpoint, attempts=[{"outcome": "ignored"}]),
        "retrying": make_event(endpoint, attempts=[{"outcome": "error", "next_retry_at": later}]),
        "failed": make_event(endpoint, attempts=[{"outcome": "error", "next_retry_at": later}, {"outcome": "error"}]),
        "pending": make_event(endpoint),
        "duplicate": make_event(endpoint, outcome="duplicate"),
        "rejected": make_event(endpoint, outcome="rejected", reject_reason="signature mismatch"),
    }
    assert _statuses(practice) == {event.id: status for status, event in events.items()}
    assert get_event_row(practice, events["retrying"].id).next_retry_at == later
    for status, event in events.items():
        assert _statuses(practice, status=status) == {event.id: status}


def test_latest_attempt_is_the_highest_number(db, practice, endpoint):
    """The latest attempt is the one with the highest number, even when a lower number has the later timestamps
    or the higher id."""
    event = make_event(endpoint, attempts=[{"outcome": "processed", "started_at": utcnow() + timedelta(hours=1)}])
    db.session.add(WebhookEventAttempt(event_id=event.id, number=3, outcome="ignored", triggered_by="replay",
                                       started_at=utcnow() - timedelta(hours=1)))
    db.session.add(WebhookEventAttempt(event_id=event.id, number=2, outcome="error", triggered_by="retry"))
    db.session.commit()
    assert get_event_row(practice, event.id).status == "ignored"


def test_page_is_one_query_whatever_the_number_of_attempts(db, practice, endpoint, sql_statements):
    """A page of the log costs the same statements for 3 events as for 30: nothing is fetched per row."""

    def statements_for_page():
        db.session.refresh(practice)
        with sql_statements() as sent:
            page = log_page(log_query(practice), 1, 50)
            [(row.WebhookEvent.event_type, row.status, row.next_retry_at) for row in page.items]
        return len(sent), len(page.items)

    for _ in range(3):
        make_event(endpoint, attempts=[{"outcome": "error"}, {"outcome": "processed"}])
    few = statements_for_page()
    for _ in range(27):
        make_event(endpoint, attempts=[{"outcome": "error"}, {"outcome": "processed"}])
    many = statements_for_page()
    assert few == (2, 3) and many == (2, 30)  # the rows and the count


def test_filters_and_practice_scope(db, practice, other_practice, endpoint):
    """Source, type and outcome filter; another practice's events never appear."""
    calcom = make_endpoint(practice, source="calcom", secret="calcom-secret")
    booking_event = make_event(endpoint, event_type="appointment.created")
    calcom_event = make_event(calcom, event_type="BOOKING_CREATED")
    rejected = make_event(calcom, outcome="rejected", event_type=None)
    make_event(make_endpoint(other_practice), event_type="appointment.created")
    assert set(_statuses(practice)) == {booking_event.id, calcom_event.id, rejected.id}
    assert set(_statuses(practice, source="calcom")) == {calcom_event.id, rejected.id}
    assert set(_statuses(practice, event_type="appointment.created")) == {booking_event.id}
    assert set(_statuses(practice, outcome="rejected")) == {rejected.id}


def test_date_range_uses_the_practice_time_zone(db, practice, endpoint):
    """Days are the practice's days (Europe/Berlin, UTC+1 in March): 23:30 UTC on 1 March is already 2 March
    there, 22:30 UTC still 1 March; a range includes its whole end day."""
    second = make_event(endpoint, received_at=datetime(2025, 3, 1, 23, 30, tzinfo=UTC))
    first = make_event(endpoint, received_at=datetime(2025, 3, 1, 22, 30, tzinfo=UTC))
    assert set(_statuses(practice, date_from=date(2025, 3, 2), date_to=date(2025, 3, 2))) == {second.id}
    assert set(_statuses(practice, date_to=date(2025, 3, 1))) == {first.id}
    assert set(_statuses(practice, date_from=date(2025, 3, 1))) == {first.id, second.id}
    assert set(_statuses(practice, date_from=date(2025, 3, 3))) == set()


def test_reveal_payload_is_audited(db, practice, make_user, endpoint):
    """Revealing decrypts the stored payload and writes a payload.reveal audit entry naming the event."""
    admin = make_user()
    event = make_event(endpoint, payload={"data": {"email": "erika@example.test"}})
    revealed = reveal_payload(Actor(admin), event)
    assert json.loads(revealed) == {"data": {"email": "erika@example.test"}}
    assert audit_actions(db, object_type="webhook_event", object_id=str(event.id)) == ["payload.reveal"]
    assert reveal_payload(Actor(admin), make_event(endpoint, outcome="rejected")) is None
    assert audit_actions(db, action="payload.reveal") == ["payload.reveal"]


@pytest.mark.parametrize("table", ["webhook_events", "webhook_event_attempts"])
@pytest.mark.parametrize("statement", ["UPDATE {table} SET id = id", "DELETE FROM {table}",
                                       "DELETE FROM {table} WHERE id > 0"])
def test_event_tables_are_append_only(db, endpoint, table, statement):
    """The database itself rejects UPDATE and DELETE on the event log and its attempts."""
    make_event(endpoint, attempts=[{"outcome": "processed"}])
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(text(statement.format(table=table)))
    db.session.rollback()
    assert db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1  # noqa: S608


def test_orm_changes_to_events_are_rejected(db, endpoint):
    """Changing an event or an attempt through the ORM fails the same way."""
    event = make_event(endpoint, attempts=[{"outcome": "error"}])
    event.outcome = "rejected"
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    attempt = event.attempts[0]
    attempt.outcome = "processed"
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.commit()
    db.session.rollback()
