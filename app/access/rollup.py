"""The daily roll-up of the check-in log (``access_checkin_days``), so the statistics page reads a few hundred
counters instead of a million log rows (issue 19's speed budget).

Every check-in row inserted through the ORM bumps its counters in the same transaction as its insert (a mapper
``after_insert`` hook on the flush's connection): ``INSERT … ON CONFLICT DO UPDATE SET count = count +
excluded.count`` for its three counters, atomic on PostgreSQL and SQLite alike, so concurrent desks never lose a
count. The day and hour are
the practice's (its time zone). Staff overrides are rows of their own and are not counted, as in the statistics.

``rebuild`` recomputes the counters from the log (``flask access rollup``; the migration that added the table has a
backfill of its own that never changes with this module): grouped per UTC hour in the database, then turned into
the practice's days and hours here (exact for time zones whose offset is whole hours, as every zone a practice here
uses)."""

from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup
from sqlalchemy import Date, bindparam, case, delete, event, func, select, text

from app.access.models import Checkin, CheckinDay
from app.platform.extensions import db
from app.tenancy.models import Practice

DECISION = "decision"
HOUR = "hour"
LATENCY = "latency"
# Upper bounds (ms) of the processing-time histogram; the 95th percentile is read as the bound of its bucket.
LATENCY_BOUNDS = (5, 10, 20, 30, 50, 75, 100, 150, 200, 250, 300, 350, 400, 500, 750, 1000, 1500, 2000, 3000, 5000,
                  10000, 30000)
OVERFLOW = "inf"
CHUNK = 500

_table = CheckinDay.__table__
_KEY = ("practice_id", "location_id", "provider", "day", "metric", "key")


def latency_key(ms):
    """The histogram bucket of a processing time in ms."""
    for bound in LATENCY_BOUNDS:
        if ms <= bound:
            return str(bound)
    return OVERFLOW


def latency_bound(key):
    """A bucket's upper bound in ms (the last bound for the overflow bucket)."""
    return LATENCY_BOUNDS[-1] if key == OVERFLOW else int(key)


# Adds to the counters, as SQL that PostgreSQL and SQLite both run (plain text: SQLAlchemy never caches its dialects'
# ON CONFLICT constructs, and every check-in runs this).
_UPSERT = text(
    'INSERT INTO access_checkin_days (practice_id, location_id, provider, day, metric, "key", count, total_ms) '
    "VALUES (:practice_id, :location_id, :provider, :day, :metric, :key, :count, :total_ms) "
    'ON CONFLICT (practice_id, location_id, provider, day, metric, "key") DO UPDATE SET '
    "count = access_checkin_days.count + excluded.count, total_ms = access_checkin_days.total_ms + excluded.total_ms"
).bindparams(bindparam("day", type_=Date()))


def _upsert(connection, rows):
    """Add ``rows`` (dicts of the key columns, ``count`` and ``total_ms``) to the counters, atomically per row."""
    connection.execute(_UPSERT, rows)


def _counters(scope, local, decision, ms, count=1):
    """The three counter rows of ``count`` scans with one decision at the local time ``local``."""
    base = {**scope, "day": local.date()}
    return [{**base, "metric": DECISION, "key": decision, "count": count, "total_ms": ms},
            {**base, "metric": HOUR, "key": f"{local.hour:02d}", "count": count, "total_ms": 0}]


@event.listens_for(Checkin, "after_insert")
def _count_checkin(_mapper, connection, row):
    """Count a freshly inserted scan in the roll-up, in the transaction of its insert (overrides are skipped)."""
    if row.override is not None:
        return
    zone = connection.scalar(select(Practice.timezone).where(Practice.id == row.practice_id))
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    local = created.astimezone(ZoneInfo(zone))
    scope = {"practice_id": row.practice_id, "location_id": row.location_id, "provider": row.provider or ""}
    ms = row.processing_ms or 0
    rows = _counters(scope, local, row.decision, ms)
    rows.append({**scope, "day": local.date(), "metric": LATENCY, "key": latency_key(ms), "count": 1,
                 "total_ms": 0})
    _upsert(connection, rows)


def _hour_bucket(dialect):
    """The SQL expression of a check-in's UTC hour, for grouping."""
    if dialect == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", Checkin.created_at))
    return func.strftime("%Y-%m-%d %H:00:00", Checkin.created_at)


def _as_utc(value):
    """A grouped hour (a datetime on PostgreSQL, text on SQLite) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


def _latency_case():
    """The SQL expression of a check-in's histogram bucket."""
    return case(*((Checkin.processing_ms <= bound, str(bound)) for bound in LATENCY_BOUNDS), else_=OVERFLOW)


def rebuild(connection, practice_id=None):
    """Recompute the roll-up of one practice (or all) from the log on ``connection`` (the caller commits).
    Returns how many scans were counted."""
    practices = select(Practice.id, Practice.timezone)
    if practice_id is not None:
        practices = practices.where(Practice.id == practice_id)
    counted = 0
    for pid, zone_name in connection.execute(practices).all():
        connection.execute(delete(_table).where(_table.c.practice_id == pid))
        counted += _rebuild_practice(connection, pid, ZoneInfo(zone_name))
    return counted


def _rebuild_practice(connection, practice_id, zone):
    """Recompute one practice's counters (two grouped queries over the log, then chunked upserts)."""
    hour = _hour_bucket(connection.dialect.name).label("hour")
    scans = (Checkin.practice_id == practice_id, Checkin.override.is_(None))
    totals = defaultdict(lambda: [0, 0])
    by_decision = connection.execute(
        select(Checkin.location_id, Checkin.provider, hour, Checkin.decision, func.count(),
               func.sum(Checkin.processing_ms))
        .where(*scans).group_by(Checkin.location_id, Checkin.provider, hour, Checkin.decision)).all()
    counted = 0
    for location_id, provider, bucket, decision, count, total_ms in by_decision:
        scope = {"practice_id": practice_id, "location_id": location_id, "provider": provider or ""}
        for row in _counters(scope, _as_utc(bucket).astimezone(zone), decision, total_ms or 0, count):
            _add(totals, row)
        counted += count
    latency = _latency_case().label("latency")
    by_latency = connection.execute(
        select(Checkin.location_id, Checkin.provider, hour, latency, func.count())
        .where(*scans).group_by(Checkin.location_id, Checkin.provider, hour, latency)).all()
    for location_id, provider, bucket, key, count in by_latency:
        _add(totals, {"practice_id": practice_id, "location_id": location_id, "provider": provider or "",
                      "day": _as_utc(bucket).astimezone(zone).date(), "metric": LATENCY, "key": key,
                      "count": count, "total_ms": 0})
    rows = [{**dict(zip(_KEY, key, strict=True)), "count": count, "total_ms": total_ms}
            for key, (count, total_ms) in totals.items()]
    for start in range(0, len(rows), CHUNK):
        _upsert(connection, rows[start:start + CHUNK])
    return counted


def _add(totals, row):
    """Sum ``row`` into ``totals`` by its key (several UTC hours fall on one local day and hour)."""
    total = totals[tuple(row[name] for name in _KEY)]
    total[0] += row["count"]
    total[1] += row["total_ms"]


access_cli = AppGroup("access", help="Access check-ins: maintenance of the statistics' roll-up.")


@access_cli.command("rollup")
@click.option("--practice", "practice_id", type=int, default=None, help="Only this practice's id (default: all).")
def rollup_command(practice_id):
    """Rebuild the daily roll-up of the check-in statistics from the log."""
    counted = rebuild(db.session.connection(), practice_id)
    db.session.commit()
    click.echo(f"Roll-up rebuilt from {counted} check-ins.")
