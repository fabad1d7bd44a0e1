"""Pooled connections are pinged before use only after sitting idle (app.platform.database._ping_if_idle), and a
dead one found that way is replaced, never handed out."""

import time

from sqlalchemy import create_engine, text

from app.platform.database import IDLE_PING_SECONDS


def _engine(tmp_path):
    return create_engine(f"sqlite:///{tmp_path}/ping.sqlite3", pool_size=1, max_overflow=0)


def _traced(connection, sent):
    """Record every SQL text the DBAPI connection runs (the ping bypasses SQLAlchemy's events)."""
    connection.connection.driver_connection.set_trace_callback(sent.append)


def test_a_connection_used_a_moment_ago_is_not_pinged(tmp_path):
    engine, sent = _engine(tmp_path), []
    with engine.connect() as connection:
        _traced(connection, sent)
        connection.execute(text("SELECT 2"))
    with engine.connect() as connection:
        connection.execute(text("SELECT 3"))
    assert "SELECT 1" not in sent
    assert "SELECT 3" in sent
    engine.dispose()


def test_an_idle_connection_is_pinged(tmp_path):
    engine, sent = _engine(tmp_path), []
    with engine.connect() as connection:
        _traced(connection, sent)
        record = connection.connection._connection_record
    record.info["returned_at"] = time.monotonic() - IDLE_PING_SECONDS - 1
    with engine.connect() as connection:
        connection.execute(text("SELECT 3"))
    assert sent.index("SELECT 1") < sent.index("SELECT 3")
    engine.dispose()


def test_a_dead_idle_connection_is_replaced(tmp_path):
    engine = _engine(tmp_path)
    with engine.connect() as connection:
        dead = connection.connection.driver_connection
        record = connection.connection._connection_record
    dead.close()  # as a restarted database leaves it
    record.info["returned_at"] = time.monotonic() - IDLE_PING_SECONDS - 1
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 3")).scalar() == 3
        assert connection.connection.driver_connection is not dead
    engine.dispose()
