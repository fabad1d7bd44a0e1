"""The receiver's fast path for the commonest event: one booking-tool appointment (issue 16).

Applying such an event is a single upsert, yet the general path (app.webhooks.ingest) spends most of its time
around it: on PostgreSQL five round trips (BEGIN, the fenced event insert, the upsert, the attempt insert, COMMIT),
each a wake-up of the database backend and of the waiting thread; on SQLite, where a statement costs no round
trip, the ORM session and SQLAlchemy's per-statement machinery cost several times what SQLite itself does. The fast
path writes the same rows with the same SQL, sent straight to the driver (``exec_driver_sql``, compiled once):

* PostgreSQL: **one statement, one round trip**, autocommitted (one statement is atomic by itself)::

      WITH ev AS (the fenced event insert of app.webhooks.receiving),
           appt AS (the upsert of app.appointments.service, SELECTing its values FROM ev),
           att AS (the attempt: processed if appt wrote a row, else ignored as older)
      SELECT ev.id, whether appt wrote

  Nothing is applied when the fence holds the event back (ev is empty, so appt and att are too).
* SQLite (no data-modifying CTEs): the three statements in one transaction on the process's writing connection
  (app.platform.database.sqlite_write_transaction: under the process's write lock, its page cache kept warm).

The guarantees are the general path's: nothing is stored or applied with a stale copy of the endpoint (the caller
handles the request again, as for any stale copy); a second delivery of an accepted event fails at the partial
unique index and nothing of it stays; event, application and attempt commit together. Any error (that duplicate,
a value the database refuses, or a fault of the fast path itself) sends the request down the general path, which
tells the cases apart and stores what it must, so the fast path is only ever a faster way to the same rows."""

from functools import cache

from flask import current_app
from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from app.appointments.service import UPSERT_BINDS, upsert_from, upsert_parameters, upsert_sql, upsert_summaries
from app.platform.database import UTCDateTime, sqlite_write_transaction, utcnow
from app.platform.extensions import db
from app.webhooks.models import IGNORED, PROCESSED, RECEIPT
from app.webhooks.receiving import StaleEndpoint, fenced_event_insert_sql

# The parameters that are timestamps (bound as SQLAlchemy binds them: UTC, and on SQLite its text format).
_DATED = ("received_at", "starts_at", "ends_at", "source_updated_at", "synced_at", "created_at", "attempt_at")
_ATTEMPT_COLUMNS = "event_id, number, started_at, finished_at, outcome, detail, triggered_by"


@cache
def _postgresql_statement(dialect):
    """The one statement (see the module docstring) as the driver's SQL for ``dialect``, built once."""
    event_insert = fenced_event_insert_sql(postgresql.dialect(paramstyle="named"), typed=True)
    sql = (  # constant parts; every value is a bound parameter
        "WITH ev AS (" + event_insert + "), "  # noqa: S608
        "appt AS (" + upsert_from("ev") + "), "
        "att AS (INSERT INTO webhook_event_attempts (" + _ATTEMPT_COLUMNS + ") SELECT ev.id, 1, "
        "CAST(:attempt_at AS TIMESTAMP WITH TIME ZONE), CAST(:attempt_at AS TIMESTAMP WITH TIME ZONE), "
        "CASE WHEN EXISTS (SELECT 1 FROM appt) THEN :processed ELSE :ignored END, "
        "CASE WHEN EXISTS (SELECT 1 FROM appt) THEN :stored_detail ELSE :ignored_detail END, "
        ":triggered_by FROM ev) "
        "SELECT ev.id, EXISTS (SELECT 1 FROM appt) AS applied FROM ev"
    )
    return str(text(sql).bindparams(*UPSERT_BINDS).compile(dialect=dialect))


@cache
def _sqlite_statements():
    """The event insert, the upsert and the attempt insert as SQLite SQL with named parameters, built once."""
    named = sqlite.dialect(paramstyle="named")
    attempt = (f"INSERT INTO webhook_event_attempts ({_ATTEMPT_COLUMNS}) "  # noqa: S608 (constant names)
               "VALUES (:event_id, 1, :attempt_at, :attempt_at, :outcome, :detail, :triggered_by)")
    return (fenced_event_insert_sql(named, typed=False), str(upsert_sql().compile(dialect=named)), attempt)


@cache
def _date_binder(dialect):
    """UTCDateTime's bind processing for ``dialect`` (what SQLAlchemy would apply to each timestamp)."""
    return UTCDateTime().bind_processor(dialect) or (lambda value: value)


def store_and_apply(endpoint, record, values):
    """Store the event (``values``, see app.webhooks.receiving.event_values) and apply its one ``record`` (see
    app.appointments.service.upsert_in_one_statement). Returns (event id, outcome, None) as the general path
    does; None when a statement failed (nothing is stored; the caller takes the general path); raises
    StaleEndpoint when the fence held the event back."""
    if db.session.registry.has() and db.session().in_transaction():  # (has(): no session is made just to ask)
        db.session.commit()  # the endpoint was read just now: hand that connection back first
    now = utcnow()
    stored_detail, ignored_detail = upsert_summaries(record)
    parameters = {**values, **upsert_parameters(endpoint.practice_id, record, now=now), "attempt_at": now,
                  "triggered_by": RECEIPT}
    dialect = db.engine.dialect
    bind = _date_binder(dialect)
    parameters.update({name: bind(parameters[name]) for name in _DATED})
    try:
        if dialect.name == "postgresql":
            event_id, applied = _one_statement(dialect, {
                **parameters, "processed": PROCESSED, "ignored": IGNORED, "stored_detail": stored_detail,
                "ignored_detail": ignored_detail})
        else:
            event_id, applied = _one_transaction(parameters, stored_detail, ignored_detail)
    except StaleEndpoint:
        raise
    except Exception as error:  # noqa: BLE001 (the general path takes the event, whatever happened here)
        return fall_back(error)
    return event_id, PROCESSED if applied else IGNORED, None


def fall_back(error):
    """None, for the general path to take an event a fast path failed on. A database error is routine (a second
    delivery, a value the database refuses) and passes silently: the general path meets it again and stores what
    it must. Anything else is a fault of the fast path, logged by its type only (its message may hold the
    event's values) so that it does not hide behind the general path."""
    if not isinstance(error, DBAPIError):
        current_app.logger.warning("webhook fast path failed (%s); the general path takes the event",
                                   type(error).__name__)
    return None


def _one_statement(dialect, parameters):
    """PostgreSQL: the one autocommitted statement; (event id, applied).

    Sent on the pooled connection's own psycopg connection rather than through a SQLAlchemy Connection, whose
    checkout, isolation switch, result wrapping and return cost twice what psycopg itself does for a statement
    (163 against 89 µs of CPU, issue 16). What the Connection would do is done here: an error is raised as
    SQLAlchemy's DBAPIError (so the caller takes the general path); a lost connection is dropped from the pool
    with every connection opened before it, as Connection does on a disconnect (with the same Pool._invalidate:
    a database that went away took them all, and the general path must not be handed one of them); and the
    connection goes back out of autocommit, whatever happened (_hand_back)."""
    sql, error_class = _postgresql_statement(dialect), dialect.loaded_dbapi.Error
    pooled = db.engine.raw_connection()
    driver = pooled.driver_connection
    try:
        driver.autocommit = True
        row = driver.execute(sql, parameters).fetchone()
    except error_class as error:
        if driver.closed or dialect.is_disconnect(error, driver, None):
            db.engine.pool._invalidate(pooled, error)  # noqa: SLF001 (the call SQLAlchemy's Connection makes)
        raise DBAPIError.instance(sql, parameters, error, error_class) from error
    finally:
        _hand_back(pooled, driver, error_class)
    if row is None:
        raise StaleEndpoint
    return row[0], row[1]


def _hand_back(pooled, driver, error_class):
    """Return the fast path's connection to the pool out of autocommit, as the pool hands connections out (every
    other user of the pool relies on its transactions); one that cannot be reset is closed instead."""
    if pooled.is_valid and not driver.closed:
        try:
            driver.autocommit = False
        except error_class:
            pooled.invalidate()
    pooled.close()


def _one_transaction(parameters, stored_detail, ignored_detail):
    """SQLite: the three statements in one transaction; (event id, applied). Rolled back when the fence holds the
    event back or a statement fails."""
    event_sql, upsert_sql_text, attempt_sql = _sqlite_statements()
    with sqlite_write_transaction(db.engine) as connection:
        event_id = connection.exec_driver_sql(event_sql, parameters).scalar()
        if event_id is None:
            raise StaleEndpoint  # leaving the block rolls the (empty) transaction back
        applied = connection.exec_driver_sql(upsert_sql_text, parameters).scalar() is not None
        connection.exec_driver_sql(attempt_sql, {
            "event_id": event_id, "attempt_at": parameters["attempt_at"], "triggered_by": RECEIPT,
            "outcome": PROCESSED if applied else IGNORED, "detail": stored_detail if applied else ignored_detail})
    return event_id, applied
