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
a value the database refuses) sends the request down the general path, which tells the cases apart and stores
what it must, so the fast path is only ever a faster way to the same rows."""

from functools import cache

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
    except DBAPIError:
        return None
    return event_id, PROCESSED if applied else IGNORED, None


def _one_statement(dialect, parameters):
    """PostgreSQL: the one autocommitted statement; (event id, applied).

    Sent on the pooled connection's own psycopg connection rather than through a SQLAlchemy Connection, whose
    checkout, isolation switch, result wrapping and return cost twice what psycopg itself does for a statement
    (163 against 78 µs of CPU, issue 16). What the Connection would do on an error is done here: the error is
    raised as SQLAlchemy's DBAPIError (so the caller takes the general path), and a connection that is lost is
    dropped from the pool with the others of its time (see _reset_or_drop)."""
    sql, error_class = _postgresql_statement(dialect), dialect.loaded_dbapi.Error
    pooled = db.engine.raw_connection()
    driver = pooled.driver_connection
    try:
        driver.autocommit = True
        row = driver.execute(sql, parameters).fetchone()
        driver.autocommit = False
    except error_class as error:
        _reset_or_drop(pooled, driver, error, dialect)
        raise DBAPIError.instance(sql, parameters, error, error_class) from error
    finally:
        pooled.close()
    if row is None:
        raise StaleEndpoint
    return row[0], row[1]


def _reset_or_drop(pooled, driver, error, dialect):
    """After ``error`` on the fast path's connection: out of autocommit again, or, when the connection is lost (or
    cannot be reset), out of the pool together with every connection opened before it, as SQLAlchemy's Connection
    does on a disconnect (with the same Pool._invalidate): a database that went away took them all, and the
    general path, which takes over this event, must not be handed one of them."""
    if not driver.closed and not dialect.is_disconnect(error, driver, None):
        try:
            driver.autocommit = False
            return
        except dialect.loaded_dbapi.Error:
            pass
    db.engine.pool._invalidate(pooled, error)  # noqa: SLF001 (the call SQLAlchemy's Connection makes)


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
