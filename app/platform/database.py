"""Database plumbing shared by all models: connection settings, a UTC timestamp type and append-only tables.

Append-only tables (the audit log, later the webhook event log) are protected by the database itself: triggers
reject UPDATE and DELETE (and TRUNCATE on PostgreSQL). The same statements are used by ``db.create_all`` (through
DDL events, for tests) and by the Alembic migrations, so both paths build identical protection."""

import os
import threading
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, time, timedelta
from time import monotonic
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import DDL, DateTime, bindparam, column, event, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.pool import Pool
from sqlalchemy.types import TypeDecorator

from app.platform.extensions import db

APPEND_ONLY_MESSAGE = "append-only table"
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION praxis_reject_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}: % on % is not allowed', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql
"""


def utcnow():
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware, on SQLite (which keeps naive values) as on
    PostgreSQL (``timestamptz``)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Refuse naive datetimes (ambiguous) and store everything in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        """Attach UTC to values that come back naive (SQLite); give values in another UTC zone object (psycopg's
        ``ZoneInfo("Etc/UTC")``) ``datetime.UTC``: the same instants, but comparing and subtracting them is about
        8 times faster, which the scheduling engine does by the thousand per search."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value if value.tzinfo is UTC else value.astimezone(UTC)


def append_only_statements(table_name, dialect_name):
    """SQL that makes ``table_name`` append-only on the given dialect (``sqlite`` or ``postgresql``)."""
    if dialect_name == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table_name}_no_{op.lower()} BEFORE {op} ON {table_name} "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: {op} on {table_name} is not allowed'); END"
            for op in ("UPDATE", "DELETE")
        ]
    if dialect_name == "postgresql":
        return [
            _PG_FUNCTION,
            f"CREATE TRIGGER {table_name}_no_change BEFORE UPDATE OR DELETE ON {table_name} "
            "FOR EACH ROW EXECUTE FUNCTION praxis_reject_change()",
            f"CREATE TRIGGER {table_name}_no_truncate BEFORE TRUNCATE ON {table_name} "
            "FOR EACH STATEMENT EXECUTE FUNCTION praxis_reject_change()",
        ]
    raise RuntimeError(f"append-only tables are not implemented for {dialect_name}")


def _sqlite_insert_trigger(table_name, column, index_name):
    """The trigger that indexes each new row (see sqlite_search_index_statements)."""
    return (f"CREATE TRIGGER IF NOT EXISTS {index_name}_insert AFTER INSERT ON {table_name} BEGIN "
            f"INSERT INTO {index_name}(rowid, {column}) VALUES (new.id, new.{column}); END")


def sqlite_search_index_statements(table_name, column, index_name):
    """SQL for SQLite: an FTS5 trigram index over ``table_name.column`` (external content, rowid = id) and the
    triggers that keep it in step, so substring search does not scan the table."""
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {index_name} USING fts5({column}, content='{table_name}', "
        f"content_rowid='id', tokenize='trigram')",
        _sqlite_insert_trigger(table_name, column, index_name),
        f"CREATE TRIGGER IF NOT EXISTS {index_name}_delete AFTER DELETE ON {table_name} BEGIN "
        f"INSERT INTO {index_name}({index_name}, rowid, {column}) VALUES ('delete', old.id, old.{column}); END",
        f"CREATE TRIGGER IF NOT EXISTS {index_name}_update AFTER UPDATE OF {column} ON {table_name} BEGIN "
        f"INSERT INTO {index_name}({index_name}, rowid, {column}) VALUES ('delete', old.id, old.{column}); "
        f"INSERT INTO {index_name}(rowid, {column}) VALUES (new.id, new.{column}); END",
        f"INSERT INTO {index_name}({index_name}) VALUES ('rebuild')",
    ]


def _hold_sqlite_write_lock(connection):
    """Make sure the SQLite connection is inside a transaction that holds the write lock. pysqlite (before Python
    3.12) opens a transaction only before INSERT, UPDATE or DELETE: a DDL statement or a read that comes first runs
    on its own and a DROP TRIGGER is committed at once, whatever the caller rolls back later. ``BEGIN IMMEDIATE``
    opens the transaction with the write lock taken; pysqlite then commits or rolls it back as its own."""
    driver = connection.connection.driver_connection
    if not driver.in_transaction:
        driver.execute("BEGIN IMMEDIATE")


@contextmanager
def bulk_search_indexing(connection, table_name, column, index_name):
    """Around a bulk INSERT into ``table_name`` on SQLite: index the new rows with one INSERT ... SELECT instead of
    the per-row trigger (5 times faster for 100,000 rows). The trigger is dropped and re-created inside the
    caller's transaction, which holds SQLite's single write lock, so no other writer can slip a row past the
    index, and a rollback restores the trigger. Other databases: nothing to do."""
    if connection.dialect.name != "sqlite":
        yield
        return
    _hold_sqlite_write_lock(connection)
    highest = connection.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table_name}").scalar()
    connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {index_name}_insert")
    yield
    connection.exec_driver_sql(
        f"INSERT INTO {index_name}(rowid, {column}) SELECT id, {column} FROM {table_name} WHERE id > ?", (highest,)
    )
    connection.exec_driver_sql(_sqlite_insert_trigger(table_name, column, index_name))


def reserve_ids(connection, table, count):
    """``count`` unused primary keys of ``table`` for rows a bulk insert is about to write, so that the caller knows
    each new row's id without reading the rows back. PostgreSQL: drawn from the table's id sequence, like any
    INSERT, so concurrent writers never collide. SQLite: the ids after the highest, under the write lock that this
    transaction then holds until it ends, so no other writer can take them first."""
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        return list(connection.execute(
            select(func.nextval(func.pg_get_serial_sequence(table.name, "id")))
            .select_from(func.generate_series(1, count))
        ).scalars())
    _hold_sqlite_write_lock(connection)
    highest = connection.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar()
    return list(range(highest + 1, highest + 1 + count))


def bulk_insert(connection, table, rows):
    """INSERT ``rows`` (dicts with the same keys: column names) into ``table`` within the caller's transaction.

    PostgreSQL: one COPY, its bulk-load path. An executemany INSERT is one statement execution per row there;
    COPY writes 100,000 patients in 8 s against 14 s. Values go through each column type's bind processing, as
    they would in an INSERT. Other databases: executemany INSERT (in-process on SQLite, no round trips)."""
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    processors = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]
    preparer = dialect.identifier_preparer
    statement = (f"COPY {preparer.format_table(table)} "
                 f"({', '.join(preparer.format_column(column) for column in columns)}) FROM STDIN")
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([value if process is None else process(value)
                            for value, process in zip(row.values(), processors, strict=True)])


def bulk_update(connection, table, rows):
    """UPDATE rows of ``table`` by primary key ``id``: each dict of ``rows`` holds ``id`` and the new values (the
    same keys in every dict), within the caller's transaction.

    PostgreSQL: one ``UPDATE ... FROM unnest(<one array per column>)`` statement, instead of an executemany that
    executes one statement per row (100,000 import rows: 1 s against 7 s). SQLite: the driver's executemany with
    positional rows (bind processing as in bulk_insert), without SQLAlchemy's per-row parameter handling (most
    of the Python time of an executemany). Other databases: executemany UPDATE."""
    if not rows:
        return
    names = [name for name in rows[0] if name != "id"]
    dialect = connection.dialect
    if dialect.name == "sqlite":
        columns = [table.c[name] for name in (*names, "id")]
        processors = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]
        preparer = dialect.identifier_preparer
        assignments = ", ".join(f"{preparer.format_column(column)} = ?" for column in columns[:-1])
        connection.exec_driver_sql(
            f"UPDATE {preparer.format_table(table)} SET {assignments} WHERE id = ?",
            [tuple(value if process is None else process(value)
                   for value, process in zip((*(row[name] for name in names), row["id"]), processors, strict=True))
             for row in rows])
        return
    if dialect.name != "postgresql":
        statement = update(table).where(table.c.id == bindparam("v_id")).values(
            {name: bindparam(f"v_{name}") for name in names})
        connection.execute(statement, [{f"v_{name}": value for name, value in row.items()} for row in rows])
        return
    arrays = [bindparam(f"v_{name}", [row[name] for row in rows], type_=ARRAY(table.c[name].type))
              for name in ("id", *names)]  # psycopg sends each as a typed array ($1::INTEGER[])
    given = func.unnest(*arrays).table_valued(*(column(name) for name in ("id", *names))).render_derived(
        name="given")
    connection.execute(
        update(table).where(table.c.id == given.c.id).values({name: given.c[name] for name in names})
    )


def make_sqlite_search_index(table, column, index_name):
    """Register DDL so that ``db.create_all``/``drop_all`` build and remove the SQLite search index as the
    migrations do."""

    def create(target, connection, **kw):
        if connection.dialect.name == "sqlite":
            for statement in sqlite_search_index_statements(target.name, column, index_name):
                connection.execute(DDL(statement.replace("%", "%%")))

    def drop(target, connection, **kw):
        if connection.dialect.name == "sqlite":
            connection.execute(DDL(f"DROP TABLE IF EXISTS {index_name}"))

    event.listen(table, "after_create", create)
    event.listen(table, "before_drop", drop)
    return table


def make_append_only(table):
    """Register DDL so that ``db.create_all`` protects ``table`` exactly as the migrations do."""

    def create_triggers(target, connection, **kw):
        for statement in append_only_statements(target.name, connection.dialect.name):
            connection.execute(DDL(statement.replace("%", "%%")))  # DDL() applies %-formatting

    event.listen(table, "after_create", create_triggers)
    return table


def within_days(column, timezone, date_from=None, date_to=None):
    """SQL conditions keeping ``column`` (a UTC timestamp) within the calendar days ``date_from`` to ``date_to``
    (both included, either may be None) as they are in ``timezone``, the practice's zone."""
    zone = ZoneInfo(timezone)
    conditions = []
    if date_from:
        conditions.append(column >= datetime.combine(date_from, time.min, zone))
    if date_to:
        conditions.append(column < datetime.combine(date_to + timedelta(days=1), time.min, zone))
    return conditions


def database_answers():
    """True when the database answers ``SELECT 1`` (the health check); a failure is logged and rolled back."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("health check: database unreachable")
        return False
    return True


def pool_options(config):
    """The connection pool's size for the configured database (DATABASE_POOL_SIZE, DATABASE_MAX_OVERFLOW).
    SQLAlchemy keeps 5 connections by default; a gunicorn worker with more threads then opens a connection for
    each request beyond the fifth and closes it on return, which on PostgreSQL forks a backend that rebuilds its
    catalogue caches every time. An in-memory SQLite database has a single shared connection and no pool to size."""
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return {}
    return {"pool_size": config["DATABASE_POOL_SIZE"], "max_overflow": config["DATABASE_MAX_OVERFLOW"]}


def plan_for_values():
    """Have PostgreSQL plan the rest of the current transaction's statements for their actual values.

    psycopg prepares a statement on the server after its fifth use, and PostgreSQL may then switch to one generic
    plan for all values. For the patient search that is wrong both ways: a two-letter word has no trigram, and a
    generic plan that still uses the trigram index reads the whole index (124 ms against 4 ms for a five-letter
    word, 50,000 patients). Set for the search's transaction only (SET LOCAL, also right behind a transaction-
    pooling PgBouncer), not per connection: every other statement keeps its cached plan, and re-planning the
    webhook receiver's one statement for every event cost PostgreSQL a quarter of its time (issue 16)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


_SQLITE_WRITE_LOCK = threading.Lock()


def sqlite_writer(engine):
    """A context in which this process writes to SQLite one thread at a time; a no-op on other databases.
    SQLite has a single writer anyway, and a thread that finds the database locked waits in SQLite's busy handler,
    which sleeps in growing steps (up to 100 ms); queueing the hot write paths (webhook ingestion) on a lock
    hands the database from one thread to the next without those sleeps. Other processes still meet the busy
    handler, so correctness never depends on this lock."""
    return _SQLITE_WRITE_LOCK if engine.dialect.name == "sqlite" else nullcontext()


# engine -> (process id, Connection): the one connection this process writes SQLite's hot paths with.
_SQLITE_WRITERS = {}


@contextmanager
def sqlite_write_transaction(engine):
    """A transaction on this process's one writing connection to a SQLite ``engine``, taken under sqlite_writer's
    lock. SQLite drops a connection's page cache whenever another connection has written, so writes spread over
    the pool's connections (one per thread) each start cold and read their pages again; with every hot write on
    one connection its cache stays warm (issue 16: the webhook receiver used 8 % less CPU per event). The
    connection is opened on first use, opened anew after a database error or in a forked process, and closed when
    the engine is disposed."""
    with _SQLITE_WRITE_LOCK:
        pid, connection = _SQLITE_WRITERS.get(engine, (None, None))
        if connection is None or connection.closed or pid != os.getpid():
            connection = engine.connect()
            _SQLITE_WRITERS[engine] = (os.getpid(), connection)
            if not event.contains(engine, "engine_disposed", _close_sqlite_writer):
                event.listen(engine, "engine_disposed", _close_sqlite_writer)
        try:
            with connection.begin():
                yield connection
        except DBAPIError:
            _close_sqlite_writer(engine)
            raise


def _close_sqlite_writer(engine):
    """Close and forget ``engine``'s writing connection (see sqlite_write_transaction)."""
    pid, connection = _SQLITE_WRITERS.pop(engine, (None, None))
    if connection is not None and pid == os.getpid():
        connection.close()


@event.listens_for(Engine, "connect")
def _connection_settings(dbapi_connection, connection_record):
    """Per-connection settings. SQLite: foreign keys, WAL and a busy timeout. PostgreSQL needs none: the patient
    search asks for plans for its values itself (plan_for_values)."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


# A pooled connection handed back less than this many seconds ago is handed out again without a ping.
IDLE_PING_SECONDS = 10


@event.listens_for(Pool, "checkin")
def _note_return(dbapi_connection, connection_record):
    """Remember when a connection went back to the pool (for _ping_if_idle)."""
    connection_record.info["returned_at"] = monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection, connection_record, connection_proxy):
    """Ping a pooled connection before use only when it sat idle for IDLE_PING_SECONDS: that is when a restarted
    database, a proxy or a firewall has dropped it. SQLAlchemy's pool_pre_ping pings on every checkout, one more
    round trip per request (issue 16 measured 10 % of the webhook receiver's time); a connection used a moment ago
    is alive, and if the database went away in between, the error marks the whole pool stale and the next
    checkout reconnects. A failed ping makes the pool replace the connection (DisconnectionError)."""
    returned_at = connection_record.info.get("returned_at")
    if returned_at is None or monotonic() - returned_at < IDLE_PING_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as error:  # whatever the driver raises for a dead connection
        raise DisconnectionError(str(error)) from error


# Tables that exist in the database but not in the models: SQLite's full-text index of patients (an FTS5 virtual
# table and its shadow tables), maintained by triggers. Autogenerate must neither drop nor report them.
UNMANAGED_TABLE_PREFIXES = ("patients_search",)


def autogenerate_filter(dialect_name):
    """An Alembic ``include_object`` that skips schema objects declared for another dialect only (``ddl_if``),
    such as the PostgreSQL trigram index, and the unmanaged search tables, so comparing does not report them."""

    def include_object(obj, name, type_, reflected, compare_to):
        if type_ == "table" and reflected and compare_to is None and name.startswith(UNMANAGED_TABLE_PREFIXES):
            return False
        condition = getattr(obj, "_ddl_if", None)
        return condition is None or condition.dialect is None or condition.dialect == dialect_name

    return include_object
