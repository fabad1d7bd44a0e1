"""Per-connection database settings (app.platform.database): what every pooled connection is set up with."""

from datetime import UTC, datetime

from sqlalchemy import bindparam, text

from app.platform.database import UTCDateTime


def test_each_connection_gets_the_settings_of_its_database(db):
    """SQLite enforces foreign keys and waits for a busy writer; PostgreSQL plans each statement for its values
    (a generic plan would send a two-letter patient search through the whole trigram index)."""
    with db.engine.connect() as connection:
        if db.engine.dialect.name == "postgresql":
            assert connection.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
        else:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000


def test_timestamps_come_back_in_utc(db):
    """Every UTC column reads back as datetime.UTC, naive on SQLite or in psycopg's Etc/UTC zone on PostgreSQL
    alike (the same instant; datetime.UTC compares much faster)."""
    at = bindparam("at", datetime(2030, 3, 31, 1, 30, tzinfo=UTC), type_=UTCDateTime())
    value = db.session.scalar(text("SELECT :at AS at").bindparams(at).columns(at=UTCDateTime()))
    assert value == datetime(2030, 3, 31, 1, 30, tzinfo=UTC) and value.tzinfo is UTC
