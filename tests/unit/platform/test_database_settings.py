"""Per-connection database settings (app.platform.database): what every pooled connection is set up with."""

from sqlalchemy import text


def test_each_connection_gets_the_settings_of_its_database(db):
    """SQLite enforces foreign keys and waits for a busy writer; PostgreSQL plans each statement for its values
    (a generic plan would send a two-letter patient search through the whole trigram index)."""
    with db.engine.connect() as connection:
        if db.engine.dialect.name == "postgresql":
            assert connection.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
        else:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
