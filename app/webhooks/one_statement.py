"""An appointment event in one statement and one round trip on PostgreSQL (issue 16).

Most events the receiver gets are the booking tool's appointments, and applying one is a single upsert. The
general path (app.webhooks.ingest) spends five round trips on it: BEGIN, the fenced event insert, the upsert, the
attempt insert, COMMIT, each a wake-up of the database backend and of the waiting thread, and on two shared cores
the waiting was most of the receiver's time. PostgreSQL can do all of it in one statement with data-modifying
CTEs, and one statement needs no transaction block of its own (autocommit): it is atomic by itself.

    WITH ev AS (the fenced event insert, as in app.webhooks.receiving),
         appt AS (the appointment upsert of app.appointments.service, SELECTing its values FROM ev),
         att AS (the attempt: processed if appt wrote a row, else ignored as older)
    SELECT ev.id, whether appt wrote

The same guarantees as the general path, from the same statement: nothing is stored or applied when the fence
holds the event back (ev is empty, so appt and att are too; the caller handles the request again as for a stale
copy); a second delivery of an accepted event fails the whole statement at the partial unique index, so nothing of
it stays; the event, its application and its attempt commit together. Any error of the statement (that duplicate,
a value the database refuses) sends the request down the general path, which tells the cases apart and stores
what it must, so this path is only ever a faster way to the same rows. SQLite has no data-modifying CTEs and no
round trips to save: it always takes the general path."""

from functools import cache

from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

from app.appointments.service import UPSERT_BINDS, upsert_from, upsert_parameters, upsert_summaries
from app.platform.database import utcnow
from app.platform.extensions import db
from app.webhooks.models import IGNORED, PROCESSED, RECEIPT
from app.webhooks.receiving import StaleEndpoint, fenced_event_insert_sql


@cache
def _statement(dialect):
    """The statement (see the module docstring) as the driver's SQL text for ``dialect``, built once: the event
    insert is compiled from its Core form, so the fence is the one of app.webhooks.receiving."""
    event_insert = fenced_event_insert_sql(postgresql.dialect(paramstyle="named"))
    sql = (  # constant parts; every value is a bound parameter
        "WITH ev AS (" + event_insert + "), "  # noqa: S608
        "appt AS (" + upsert_from("ev") + "), "
        "att AS (INSERT INTO webhook_event_attempts (event_id, number, started_at, finished_at, outcome, detail, "
        "triggered_by) SELECT ev.id, 1, CAST(:attempt_at AS TIMESTAMP WITH TIME ZONE), "
        "CAST(:attempt_at AS TIMESTAMP WITH TIME ZONE), "
        "CASE WHEN EXISTS (SELECT 1 FROM appt) THEN :processed ELSE :ignored END, "
        "CASE WHEN EXISTS (SELECT 1 FROM appt) THEN :stored_detail ELSE :ignored_detail END, "
        ":triggered_by FROM ev) "
        "SELECT ev.id, EXISTS (SELECT 1 FROM appt) AS applied FROM ev"
    )
    return str(text(sql).bindparams(*UPSERT_BINDS).compile(dialect=dialect))


def available():
    """Whether this database runs the one-statement path (PostgreSQL)."""
    return db.engine.dialect.name == "postgresql"


def store_and_apply(endpoint, record, values):
    """Store the event (``values``, see app.webhooks.receiving.event_values) and apply its one ``record`` (see
    app.appointments.service.upsert_in_one_statement) in one autocommitted statement. Returns (event id,
    outcome, None) as the general path does; None when the statement failed (the caller then takes the general
    path); raises StaleEndpoint when the fence held the event back.

    Sent with ``exec_driver_sql`` on its own autocommit connection, without the ORM session and SQLAlchemy's
    statement compilation and bind processing (which cost more CPU than the statement itself): the values are
    ready for the driver (UTC-aware datetimes, strings and integers)."""
    if db.session().in_transaction():
        db.session.commit()  # the endpoint was read just now: hand that connection back first
    now = utcnow()
    stored_detail, ignored_detail = upsert_summaries(record)
    parameters = {
        **values, **upsert_parameters(endpoint.practice_id, record, now=now), "attempt_at": now,
        "processed": PROCESSED, "ignored": IGNORED, "stored_detail": stored_detail,
        "ignored_detail": ignored_detail, "triggered_by": RECEIPT,
    }
    try:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            row = connection.exec_driver_sql(_statement(db.engine.dialect), parameters).first()
    except DBAPIError:
        return None
    if row is None:
        raise StaleEndpoint
    return row[0], PROCESSED if row[1] else IGNORED, None
