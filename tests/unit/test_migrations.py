"""Migrations: an empty database upgraded to head matches the models exactly, and keeps the audit triggers."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from app import create_app
from app.platform.database import autogenerate_filter
from app.platform.extensions import db
from config import TestConfig


@pytest.fixture
def migrated_app(tmp_path):
    """An app whose database is built by `flask db upgrade` (temp-file SQLite, or TEST_DATABASE_URL emptied)."""
    overrides = {}
    if TestConfig.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
        overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/migrated.sqlite3"
    app = create_app(TestConfig, **overrides)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()
        yield app
        db.session.remove()
        downgrade(revision="base")


def test_no_drift_between_migrations_and_models(migrated_app):
    """compare_metadata finds nothing: every model change has its migration."""
    with db.engine.connect() as connection:
        include_object = autogenerate_filter(connection.dialect.name)
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include_object})
        assert compare_metadata(context, db.metadata) == []


def test_migrating_leaves_the_app_logging(migrated_app):
    """Alembic's logging setup keeps the loggers that exist: the app still logs after migrating in-process (the
    cause of a test that failed only after test_migrations had run)."""
    logger = migrated_app.logger  # exists now, as in a running app
    upgrade()  # already at head: runs only Alembic's environment, with its logging setup
    assert not logger.disabled


def test_migrated_audit_log_is_append_only(migrated_app):
    """The migration creates the same triggers as create_all."""
    with db.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO audit_log (action, meta, created_at) VALUES ('x', '{}', CURRENT_TIMESTAMP)")
        )
    with pytest.raises(DatabaseError, match="append-only"), db.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log"))
