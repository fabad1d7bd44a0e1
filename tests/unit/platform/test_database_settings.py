"""Per-connection database settings (app.platform.database): what every pooled connection is set up with."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, text

from app.platform.database import UTCDateTime, pool_options
from config import Config


def test_each_connection_gets_the_settings_of_its_database(db):
    """SQLite enforces foreign keys and waits for a busy writer; PostgreSQL connections keep its default plan
    cache (statements reuse their plans)."""
    with db.engine.connect() as connection:
        if db.engine.dialect.name == "postgresql":
            assert connection.execute(text("SHOW plan_cache_mode")).scalar() == "auto"
        else:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000


def test_a_patient_search_plans_for_its_words_in_its_own_transaction(db, make_user, sql_statements):
    """A generic plan would send a two-letter patient search through the whole trigram index, so on PostgreSQL the
    search's transaction (and only it) plans for the actual words; SQLite has no plan cache and is sent nothing."""
    from app.patients.service import search_patients

    user = make_user(role="admin")
    assert user.role == "admin"  # loaded now (it expired at its commit), so the block below holds the search only
    with sql_statements() as sent:
        search_patients(user, "Mü")
    if db.engine.dialect.name == "postgresql":
        assert sent == ["SET LOCAL plan_cache_mode = force_custom_plan"]
        assert db.session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
        db.session.rollback()
        assert db.session.scalar(text("SHOW plan_cache_mode")) == "auto"
    else:
        assert sent == []


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite://", {}),
    ("sqlite:///:memory:", {}),
    ("sqlite:////tmp/praxis.sqlite3", {"pool_size": 16, "max_overflow": 8}),
    ("postgresql+psycopg://praxis@db/praxis", {"pool_size": 16, "max_overflow": 8}),
])
def test_the_pool_holds_a_connection_per_worker_thread(url, expected):
    """Each process keeps DATABASE_POOL_SIZE connections (SQLAlchemy's 5 made a worker with more threads open
    and close a PostgreSQL connection per request beyond the fifth); an in-memory SQLite has no pool to size."""
    config = {"SQLALCHEMY_DATABASE_URI": url, "DATABASE_POOL_SIZE": Config.DATABASE_POOL_SIZE,
              "DATABASE_MAX_OVERFLOW": Config.DATABASE_MAX_OVERFLOW}
    assert pool_options(config) == expected


def test_timestamps_come_back_in_utc(db):
    """Every UTC column reads back as datetime.UTC, naive on SQLite or in psycopg's Etc/UTC zone on PostgreSQL
    alike (the same instant; datetime.UTC compares much faster)."""
    at = bindparam("at", datetime(2030, 3, 31, 1, 30, tzinfo=UTC), type_=UTCDateTime())
    value = db.session.scalar(text("SELECT :at AS at").bindparams(at).columns(at=UTCDateTime()))
    assert value == datetime(2030, 3, 31, 1, 30, tzinfo=UTC) and value.tzinfo is UTC
