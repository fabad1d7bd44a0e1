"""The process's one writing connection to SQLite (app.platform.database.sqlite_write_transaction)."""

import threading

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app.platform.database import sqlite_write_transaction


@pytest.fixture
def engine(tmp_path):
    """A SQLite file of its own (whatever database the suite runs on), with one table."""
    engine = create_engine(f"sqlite:///{tmp_path / 'writer.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    yield engine
    engine.dispose()


def _connection_id(connection):
    return id(connection.connection.dbapi_connection)


def test_every_write_goes_through_one_connection_from_any_thread(engine):
    """Writes from several threads use the same connection (its page cache stays warm) and each commits."""
    seen = []

    def write(number):
        with sqlite_write_transaction(engine) as connection:
            connection.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": f"note {number}"})
            seen.append(_connection_id(connection))

    threads = [threading.Thread(target=write, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1
    with engine.connect() as reader:
        assert reader.execute(text("SELECT count(*) FROM notes")).scalar() == 8


def test_a_failed_write_is_rolled_back_and_its_connection_replaced(engine):
    """A database error rolls the transaction back and the next write opens the connection anew (from the pool;
    one the database dropped is discarded by the pool); an error of the caller's own rolls back and keeps it."""
    with sqlite_write_transaction(engine) as connection:
        first = connection
    with pytest.raises(LookupError), sqlite_write_transaction(engine) as connection:
        connection.execute(text("INSERT INTO notes (body) VALUES ('kept?')"))
        raise LookupError
    with pytest.raises(OperationalError), sqlite_write_transaction(engine) as connection:
        assert connection is first
        connection.execute(text("INSERT INTO notes (body) VALUES ('kept?')"))
        connection.execute(text("INSERT INTO no_such_table VALUES (1)"))
    with sqlite_write_transaction(engine) as connection:
        assert connection is not first and first.closed
        assert connection.execute(text("SELECT count(*) FROM notes")).scalar() == 0


def test_disposing_the_engine_closes_the_connection(engine):
    """engine.dispose() (the tests' teardown, a restart) closes the writing connection with the pool."""
    with sqlite_write_transaction(engine) as connection:
        held = connection
    engine.dispose()
    assert held.closed
    with sqlite_write_transaction(engine) as connection:
        assert connection is not held and not connection.closed
