"""The migration of issue 17's items 3 and 13 fills the sort key and the new search text of the patients that
already exist, matches the models for the columns and indexes it adds, and goes back down cleanly (temp-file
SQLite, or TEST_DATABASE_URL emptied)."""

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app import create_app
from app.patients.collation import name_sort_key
from app.patients.models import build_search_text
from app.platform.database import autogenerate_filter
from app.platform.extensions import db
from config import TestConfig

REVISION, PARENT = "a17dups00001", "fdaf35ee39fd"


@pytest.fixture
def parent_app(tmp_path):
    """An app whose database is migrated up to this revision's parent."""
    overrides = {}
    if TestConfig.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
        overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/migrated.sqlite3"
    app = create_app(TestConfig, **overrides)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade(revision=PARENT)
        yield app
        db.session.remove()
        with db.engine.begin() as connection:  # the base revision drops the tables, which their rows would block
            connection.execute(text("DELETE FROM patients"))
            connection.execute(text("DELETE FROM practices"))
        downgrade(revision="base")


def _insert_patients(connection):
    connection.execute(text("INSERT INTO practices (id, name, slug, timezone, settings, country, created_at) "
                            "VALUES (1, 'P', 'p', 'Europe/Berlin', '{}', 'DE', CURRENT_TIMESTAMP)"))
    for number, (first, last) in enumerate([("Jörg", "Krüger"), ("Eva", "König"), ("Åsa", "Schäfer")], 1):
        connection.execute(text(
            "INSERT INTO patients (id, practice_id, first_name, last_name, email, birth_date, source, search_text, "
            "created_at, updated_at) VALUES (:id, 1, :first, :last, :email, :born, 'manual', 'old', "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"id": number, "first": first, "last": last, "email": f"{first.lower()}@example.de",
             "born": date(1980, 1, number)})


def test_existing_patients_get_their_keys_and_the_schema_matches(parent_app):
    with db.engine.begin() as connection:
        _insert_patients(connection)
    upgrade(revision=REVISION)
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT first_name, last_name, email, birth_date, sort_name, search_text "
                                       "FROM patients ORDER BY sort_name")).all()
        assert [row.last_name for row in rows] == ["König", "Krüger", "Schäfer"]
        for row in rows:
            born = row.birth_date if isinstance(row.birth_date, date) else date.fromisoformat(row.birth_date)
            assert row.sort_name == name_sort_key(row.last_name, row.first_name)
            assert row.search_text == build_search_text(row.first_name, row.last_name, row.email, None, born, None)
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "include_object": autogenerate_filter(connection.dialect.name)})
        drift = [change for change in compare_metadata(context, db.metadata) if "patients" in repr(change)
                 and "patient_" not in repr(change)]
        assert drift == []
    downgrade(revision=PARENT)
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT search_text FROM patients WHERE id = 1")).scalar() == \
            "jörg krüger jörg@example.de 1980-01-01 01.01.1980"
