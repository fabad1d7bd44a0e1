"""The daily roll-up of the check-in log: every inserted scan is counted in its own transaction (per decision with
its time, per hour and in the latency histogram, on the practice's day), overrides are not, concurrent desks lose
no count, and a rebuild from the log (``flask access rollup``) gives the same counters."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.access.models import Checkin, CheckinDay
from app.access.rollup import latency_key, rebuild
from app.access.stats import _p95
from app.platform.extensions import db as _db
from app.tenancy.models import Location
from config import TestConfig
from tests.helpers import at_once

NOW = datetime(2026, 12, 15, 22, 30, tzinfo=UTC)  # 23:30 in Berlin


@pytest.fixture
def app_overrides(tmp_path):
    """Threads need their own connections to one database: a file on SQLite (PostgreSQL when configured)."""
    if TestConfig.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
        return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/rollup.sqlite3"}
    return {}


def scan(location, when, decision="allow", ms=100, provider="fitpass", override=None):
    return Checkin(practice_id=location.practice_id, location_id=location.id, provider=provider,
                   code_kind=provider or "unknown", external_id="FP-X", decision=decision,
                   granted=decision.startswith("allow"), processing_ms=ms, created_at=when, override=override)


def counters(db):
    rows = db.session.execute(select(CheckinDay.location_id, CheckinDay.provider, CheckinDay.day, CheckinDay.metric,
                                     CheckinDay.key, CheckinDay.count, CheckinDay.total_ms)).all()
    return sorted(tuple(row) for row in rows)


def test_each_scan_is_counted_on_the_practices_day_and_hour(db, location):
    db.session.add_all([scan(location, NOW, ms=120), scan(location, NOW + timedelta(minutes=5), "deny_expired", 40),
                        scan(location, NOW, provider=None, decision="deny_unknown_code", ms=3),
                        scan(location, NOW, "error_timeout", 1000, override="grant")])  # the override: not counted
    db.session.commit()
    day = date(2026, 12, 15)  # Berlin's day, although UTC's is the same here; the hour is Berlin's: 23
    assert counters(db) == sorted([
        (location.id, "", day, "decision", "deny_unknown_code", 1, 3),
        (location.id, "", day, "hour", "23", 1, 0),
        (location.id, "", day, "latency", "5", 1, 0),
        (location.id, "fitpass", day, "decision", "allow", 1, 120),
        (location.id, "fitpass", day, "decision", "deny_expired", 1, 40),
        (location.id, "fitpass", day, "hour", "23", 2, 0),
        (location.id, "fitpass", day, "latency", "150", 1, 0),
        (location.id, "fitpass", day, "latency", "50", 1, 0),
    ])


def test_midnight_in_berlin_starts_a_new_day(db, location):
    db.session.add(scan(location, NOW + timedelta(hours=1)))  # 23:30 UTC = 00:30 on the 16th in Berlin
    db.session.commit()
    assert {(row[2], row[4]) for row in counters(db) if row[3] != "latency"} == {
        (date(2026, 12, 16), "allow"), (date(2026, 12, 16), "00")}


def test_rebuild_gives_the_same_counters(db, practice, location, make_location):
    other = make_location("Studio Nord")
    for index in range(60):
        when = NOW - timedelta(hours=index * 7, minutes=index)
        decision = ("allow", "allow_reentry", "deny_expired", "error_timeout")[index % 4]
        db.session.add(scan(location if index % 3 else other, when, decision, ms=index * 37 % 4000,
                            provider=None if index % 11 == 0 else "fitpass"))
    db.session.commit()
    incremental = counters(db)
    assert sum(row[5] for row in incremental if row[3] == "decision") == 60
    assert rebuild(db.session.connection(), practice.id) == 60
    db.session.commit()
    assert counters(db) == incremental


def test_rebuild_command(app, db, practice, location):
    db.session.add(scan(location, NOW))
    db.session.commit()
    db.session.execute(CheckinDay.__table__.delete())
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["access", "rollup"])
    assert result.exit_code == 0 and "1 check-ins" in result.output
    assert sum(row[5] for row in counters(db) if row[3] == "decision") == 1


def test_concurrent_scans_lose_no_count(app, db, location):
    location_id = location.id

    def insert():
        where = _db.session.get(Location, location_id)
        for _ in range(5):
            _db.session.add(scan(where, NOW, ms=80))
            _db.session.commit()
        return True

    at_once(app, 4, insert)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Checkin)) == 20
    assert db.session.scalar(select(CheckinDay.count).where(CheckinDay.metric == "decision")) == 20
    assert db.session.scalar(select(CheckinDay.total_ms).where(CheckinDay.metric == "decision")) == 1600


def test_latency_histogram_and_p95():
    assert [latency_key(ms) for ms in (0, 5, 6, 350, 351, 30000, 30001)] == ["5", "5", "10", "350", "400", "30000",
                                                                             "inf"]
    assert _p95([(100, 94), (300, 5), (1000, 1)]) == 300
    assert _p95([(100, 95), (300, 5)]) == 100
    assert _p95([]) is None
