"""The audit log is append-only: the database rejects UPDATE and DELETE (and TRUNCATE on PostgreSQL)."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from app.platform.audit.service import record
from app.platform.security.actor import Actor


@pytest.fixture
def entry(db, practice):
    """One stored audit entry."""
    entry = record("login.success", Actor(practice_id=practice.id))
    db.session.commit()
    return entry


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"])
def test_update_and_delete_are_rejected_by_the_database(db, entry, statement):
    """Raw SQL cannot change or remove audit entries."""
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(text(statement))
    db.session.rollback()
    assert db.session.execute(text("SELECT action FROM audit_log")).scalars().all() == ["login.success"]


def test_orm_update_is_rejected(db, entry):
    """Changing an entry through the ORM fails the same way."""
    entry.action = "forged"
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.commit()
    db.session.rollback()


def test_wiping_the_table_is_rejected(db, entry):
    """Wiping the whole table fails too: TRUNCATE on PostgreSQL (which skips row triggers, hence a statement
    trigger), and on SQLite an unqualified DELETE (whose truncate optimisation triggers switch off)."""
    wipe = "TRUNCATE audit_log" if db.engine.dialect.name == "postgresql" else "DELETE FROM audit_log"
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(text(wipe))
    db.session.rollback()
    assert db.session.execute(text("SELECT count(*) FROM audit_log")).scalar() == 1


def test_inserts_still_work(db, entry, practice):
    """Appending is allowed."""
    record("logout", Actor(practice_id=practice.id))
    db.session.commit()
    assert db.session.execute(text("SELECT count(*) FROM audit_log")).scalar() == 2
