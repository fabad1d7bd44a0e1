"""Migrations: an empty database upgraded to head matches the models exactly, and keeps the audit triggers."""

import re
import shutil

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from app import create_app
from app.platform.database import autogenerate_filter
from app.platform.extensions import db
from config import BASE_DIR, TestConfig


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


def test_the_history_is_one_line_with_one_head():
    """Every revision follows exactly one other: two branches that each added a migration show up here as two heads
    (merge them with `flask db merge heads`), and no id is taken twice."""
    config = Config(str(BASE_DIR / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(BASE_DIR / "migrations"))
    script = ScriptDirectory.from_config(config)
    revisions = list(script.walk_revisions())
    assert len(script.get_heads()) == 1
    assert len({revision.revision for revision in revisions}) == len(revisions) == len(list(script.get_bases())) \
        + sum(1 for revision in revisions if revision.down_revision is not None)


def test_a_new_revision_gets_a_generated_id_and_a_readable_file_name(tmp_path):
    """`flask db revision` names the file by date and message and lets Alembic generate the id."""
    shutil.copytree(BASE_DIR / "migrations", tmp_path / "migrations")
    config = Config(str(tmp_path / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(tmp_path / "migrations"))
    script = command.revision(config, message="add the rooms table", head="head")
    name = script.path.rsplit("/", 1)[-1]
    assert name.endswith("_add_the_rooms_table.py") and name[:8].isdigit()
    assert re.fullmatch(r"[0-9a-f]{12}", script.revision)
