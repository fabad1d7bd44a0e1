"""The receiver's fast path (app.webhooks.fast_path): a booking-tool appointment event is stored, applied and its
attempt written by one autocommitted statement on PostgreSQL, by three statements straight to the driver on SQLite,
with the general path's results; a failing statement leaves nothing and the general path takes over."""

import itertools
import os
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import func, select

from app.appointments.models import Appointment
from app.platform.security.actor import Actor
from app.webhooks import endpoints as webhook_endpoints
from app.webhooks.models import WebhookEvent
from tests.signers import booking_event, compact, sign_booking

_numbers = itertools.count(1)
# The one statement and its own connection are PostgreSQL's; CI's PostgreSQL run has these tests.
postgresql_only = pytest.mark.skipif("postgresql" not in os.environ.get("TEST_DATABASE_URL", ""),
                                     reason="the one statement and its own connection are PostgreSQL's")


@pytest.fixture
def booking(db, practice):
    """The practice's booking endpoint and its secret."""
    return webhook_endpoints.create_endpoint(Actor(practice_id=practice.id), "booking")


def _send(client, booking, updated_at="2030-05-01T08:00:00+02:00", msg_id=None, therapist="Dr. Maria Weber"):
    """POST appointment A-1 (as last changed at ``updated_at``); returns the response."""
    endpoint, secret = booking
    msg_id = msg_id or f"msg_one_{next(_numbers)}"
    data = {"appointment_id": "A-1", "patient_id": "B-1", "start": "2030-05-04T09:30:00+02:00",
            "duration_minutes": 45, "therapist_name": therapist, "service_name": "Physiotherapie",
            "status": "scheduled", "updated_at": updated_at}
    body = compact(booking_event("appointment.updated", data, event_id=msg_id))
    return client.post(f"/api/webhooks/booking/{endpoint.public_id}", data=body,
                       headers=sign_booking(secret, body, msg_id=msg_id))


@pytest.fixture
def sent_statements(db, sql_statements, monkeypatch):
    """Records the statements sent to the database inside a block, as ``sql_statements`` does; on PostgreSQL at
    psycopg's cursor, where the fast path's statement goes without a SQLAlchemy Connection (and its events)."""
    if db.engine.dialect.name != "postgresql":
        return sql_statements

    @contextmanager
    def recording():
        sent, execute = [], psycopg.Cursor.execute

        def recorded(cursor, query, *args, **kwargs):
            sent.append(query)
            return execute(cursor, query, *args, **kwargs)

        with monkeypatch.context() as patch:
            patch.setattr(psycopg.Cursor, "execute", recorded)
            yield sent

    return recording


def test_an_appointment_event_costs_its_writes_only(client, db, make_user, booking, sent_statements):
    """After the first event (which reads the endpoint), an event costs its writes only: on PostgreSQL one
    statement (event, upsert and attempt together), on SQLite those three; answered and stored as the general
    path would."""
    weber = make_user("therapist", name="Dr. Maria Weber")
    assert _send(client, booking).status_code == 200
    with sent_statements() as sent:
        answer = _send(client, booking, updated_at="2030-05-02T08:00:00+02:00")
    assert answer.status_code == 200 and answer.json["status"] == "processed"
    if db.engine.dialect.name == "postgresql":
        assert len(sent) == 1 and sent[0].startswith("WITH ev AS (INSERT INTO webhook_events")
    else:
        assert [statement.split(" (")[0] for statement in sent] == [
            "INSERT INTO webhook_events", "INSERT INTO appointments", "INSERT INTO webhook_event_attempts"]
    event = db.session.get(WebhookEvent, answer.json["event_id"])
    [attempt] = event.attempts
    assert (event.outcome, attempt.outcome, attempt.triggered_by) == ("accepted", "processed", "receipt")
    assert attempt.detail == "appointment booking:A-1: stored (scheduled)"
    appointment = db.session.scalar(select(Appointment))
    assert appointment.therapist_id == weber.id and appointment.external_id == "A-1"


def test_an_older_update_is_stored_and_ignored(client, db, booking):
    assert _send(client, booking, updated_at="2030-05-02T08:00:00+02:00").json["status"] == "processed"
    answer = _send(client, booking, updated_at="2030-05-01T08:00:00+02:00")
    assert answer.json["status"] == "ignored"
    [attempt] = db.session.get(WebhookEvent, answer.json["event_id"]).attempts
    assert (attempt.outcome, attempt.detail) == ("ignored", "appointment booking:A-1: older than the stored update")


def test_a_second_delivery_fails_the_statement_and_is_stored_as_a_duplicate(client, db, booking):
    """The partial unique index fails the whole statement (nothing of it stays); the general path then stores the
    duplicate, pointing at the original."""
    first = _send(client, booking, msg_id="msg_twice")
    second = _send(client, booking, msg_id="msg_twice")
    assert (second.status_code, second.json) == (200, {"status": "duplicate", "event_id": first.json["event_id"]})
    outcomes = db.session.scalars(select(WebhookEvent.outcome).order_by(WebhookEvent.id)).all()
    assert outcomes == ["accepted", "duplicate"]
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1


_REFUSING = {
    "postgresql": (
        ["CREATE OR REPLACE FUNCTION test_refuse_a1() RETURNS trigger AS $$ BEGIN IF NEW.external_id = 'A-1' THEN "
         "RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END; $$ LANGUAGE plpgsql",
         "CREATE TRIGGER test_refuse_a1 BEFORE INSERT OR UPDATE ON appointments FOR EACH ROW "
         "EXECUTE FUNCTION test_refuse_a1()"],
        ["DROP TRIGGER test_refuse_a1 ON appointments", "DROP FUNCTION test_refuse_a1()"],
    ),
    "sqlite": (
        [f"CREATE TRIGGER test_refuse_a1_{event} BEFORE {event} ON appointments WHEN NEW.external_id = 'A-1' "
         "BEGIN SELECT RAISE(ABORT, 'refused for the test'); END" for event in ("INSERT", "UPDATE")],
        [f"DROP TRIGGER test_refuse_a1_{event}" for event in ("INSERT", "UPDATE")],
    ),
}


@pytest.fixture
def refusing_appointments(db):
    """A trigger that makes the database refuse any write of appointment A-1 (as a check or a full disk would)."""
    create, drop = _REFUSING[db.engine.dialect.name]
    with db.engine.begin() as connection:
        for statement in create:
            connection.exec_driver_sql(statement)
    yield
    db.session.rollback()  # the test's reads hold a lock that dropping the trigger waits for
    with db.engine.begin() as connection:
        for statement in drop:
            connection.exec_driver_sql(statement)


def test_a_write_the_database_refuses_goes_down_the_general_path(client, db, booking, refusing_appointments):
    """A failing statement stores nothing itself; the general path keeps the event, records why applying it failed
    and schedules its retry (202), as for any event it cannot apply."""
    answer = _send(client, booking)
    assert answer.status_code == 202, answer.json
    [event] = db.session.scalars(select(WebhookEvent)).all()
    [attempt] = event.attempts
    assert (event.outcome, attempt.outcome) == ("accepted", "error") and attempt.next_retry_at is not None
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 0


def _drop_the_pools_connections(db):
    """Terminate every server process of the app's pool, as a restarted database or a proxy would (from a
    connection of its own, outside the pool)."""
    db.session.remove()
    url = db.engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")


@postgresql_only
def test_a_connection_the_database_dropped_is_replaced(client, db, booking):
    """The fast path's connection was dropped by the database: the event is still answered and stored, and the
    dead connection is not handed out again."""
    assert _send(client, booking).status_code == 200
    _drop_the_pools_connections(db)
    answer = _send(client, booking, updated_at="2030-05-02T08:00:00+02:00")
    assert answer.status_code == 200 and answer.json["status"] == "processed", answer.json
    assert _send(client, booking, updated_at="2030-05-03T08:00:00+02:00").json["status"] == "processed"
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 3


@postgresql_only
@pytest.mark.parametrize("outcome", ["stored", "duplicate", "unexpected error"])
def test_the_connection_goes_back_to_the_pool_out_of_autocommit(client, db, booking, monkeypatch, outcome):
    """Whatever the statement met, its connection is not handed back in autocommit (every other user of the
    pool relies on its transactions) or, if it cannot be reset, not handed back at all."""
    msg_id = f"msg_pool_{outcome.replace(' ', '_')}"
    if outcome == "duplicate":
        assert _send(client, booking, msg_id=msg_id).status_code == 200
    used, checkout = [], db.engine.raw_connection

    def recorded():
        pooled = checkout()
        used.append((pooled, pooled.driver_connection))
        return pooled

    monkeypatch.setattr(db.engine, "raw_connection", recorded)
    if outcome == "unexpected error":  # not the database's: the general path takes the event
        monkeypatch.setattr(psycopg.Connection, "execute", lambda *args, **kwargs: 1 / 0)
    answer = _send(client, booking, msg_id=msg_id)
    assert answer.status_code == 200 and answer.json["status"] == ("duplicate" if outcome == "duplicate"
                                                                   else "processed")
    assert used
    assert all(driver.closed or driver.autocommit is False for _pooled, driver in used)
