"""The migration that adds the daily roll-up counts the check-ins already logged, by itself (no app code): per
decision with its processing time, per hour and per latency bucket, on the practice's calendar day, overrides left
out; on SQLite and on PostgreSQL."""

from datetime import UTC, date, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import insert, select, text

from app import create_app
from app.access.models import Checkin, CheckinDay
from app.platform.extensions import db
from config import TestConfig

BEFORE = "a19tokens001"
ROLLUP = "a19arrive001"


@pytest.fixture
def app_before(tmp_path):
    """An app whose database is migrated up to the revision before the roll-up (temp-file SQLite, or
    TEST_DATABASE_URL)."""
    overrides = {}
    if TestConfig.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
        overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/rollup.sqlite3"
    app = create_app(TestConfig, **overrides)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade(revision=BEFORE)
        yield app
        db.session.remove()
        db.drop_all()  # not a downgrade: SQLite's batch downgrades cannot re-create tables that rows refer to
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE alembic_version"))


def _scan(practice_id, location_id, when, decision="allow", ms=100, provider="fitpass", override=None):
    """A check-in row as the log of revision BEFORE holds it (Core insert: no roll-up hook runs)."""
    return {"practice_id": practice_id, "location_id": location_id, "provider": provider,
            "code_kind": provider or "unknown", "external_id": "FP-X", "decision": decision,
            "granted": decision.startswith("allow"), "awaiting_confirmation": False, "processing_ms": ms,
            "override": override, "created_at": when}


def test_the_checkins_logged_before_are_counted(app_before):
    practice_id = db.session.execute(text(
        "INSERT INTO practices (name, slug, timezone, country, settings, created_at) "
        "VALUES ('Roll', 'roll', 'Europe/Berlin', 'DE', '{}', CURRENT_TIMESTAMP) RETURNING id")).scalar_one()
    location_id = db.session.execute(text(
        "INSERT INTO locations (practice_id, name, address) VALUES (:p, 'Studio', '') RETURNING id"),
        {"p": practice_id}).scalar_one()
    late = datetime(2026, 12, 15, 22, 40, tzinfo=UTC)  # 23:40 in Berlin
    db.session.execute(insert(Checkin.__table__), [
        _scan(practice_id, location_id, datetime(2026, 12, 15, 22, 5, tzinfo=UTC), ms=120),
        _scan(practice_id, location_id, late, "deny_expired", 40),
        _scan(practice_id, location_id, late, "error_timeout", 1000, override="grant"),  # an override: not counted
        _scan(practice_id, location_id, datetime(2026, 12, 15, 23, 10, tzinfo=UTC), ms=35000),  # 00:10 on the 16th
        _scan(practice_id, location_id, late, "deny_unknown_code", 3, provider=None),
    ])
    db.session.commit()

    upgrade(revision=ROLLUP)

    counters = sorted(tuple(row) for row in db.session.execute(select(
        CheckinDay.location_id, CheckinDay.provider, CheckinDay.day, CheckinDay.metric, CheckinDay.key,
        CheckinDay.count, CheckinDay.total_ms)))
    day, next_day = date(2026, 12, 15), date(2026, 12, 16)
    assert counters == sorted([
        (location_id, "", day, "decision", "deny_unknown_code", 1, 3),
        (location_id, "", day, "hour", "23", 1, 0),
        (location_id, "", day, "latency", "5", 1, 0),
        (location_id, "fitpass", day, "decision", "allow", 1, 120),
        (location_id, "fitpass", day, "decision", "deny_expired", 1, 40),
        (location_id, "fitpass", day, "hour", "23", 2, 0),
        (location_id, "fitpass", day, "latency", "150", 1, 0),
        (location_id, "fitpass", day, "latency", "50", 1, 0),
        (location_id, "fitpass", next_day, "decision", "allow", 1, 35000),
        (location_id, "fitpass", next_day, "hour", "00", 1, 0),
        (location_id, "fitpass", next_day, "latency", "inf", 1, 0),
    ])
