"""Check-in statistics per provider and location (``access.stats``): active members, check-ins today and this
month, success rate, top refusal reasons, mean and 95th-percentile processing time, peak hour, re-entry share and
a 30-day trend.

The log is aggregated in the database: one grouped query counts the check-ins per provider, location and UTC
hour over the period (at most 24 × 31 rows per group, whatever the number of check-ins), served by the index
(practice_id, created_at); Python only turns those hours into the practice's days and hours of the day. Staff
overrides are rows of their own and are left out, so each scan counts once."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, case, cast, func, select

from app.access.models import GRANTING, Checkin, Membership
from app.platform.extensions import db
from app.tenancy.models import Location

TREND_DAYS = 30
TOP_REASONS = 3


@dataclass
class GroupStats:
    """The figures of one provider (None: unknown codes) at one location."""

    provider: str | None
    location: str
    members: int = 0
    today: int = 0
    month: int = 0
    total: int = 0
    granted: int = 0
    reentries: int = 0
    total_ms: int = 0
    p95_ms: int | None = None
    refusals: list = field(default_factory=list)
    by_hour: dict = field(default_factory=dict)
    by_day: dict = field(default_factory=dict)

    @property
    def success_rate(self):
        """Granted share of the period's scans (None without scans)."""
        return self.granted / self.total if self.total else None

    @property
    def reentry_share(self):
        """Re-entries among the granted scans (None without grants)."""
        return self.reentries / self.granted if self.granted else None

    @property
    def mean_ms(self):
        """Mean processing time in ms (None without scans)."""
        return round(self.total_ms / self.total) if self.total else None

    @property
    def peak_hour(self):
        """The hour of the day (practice time) with the most scans, or None."""
        return max(self.by_hour, key=self.by_hour.get) if self.by_hour else None

    def trend(self, days):
        """(day, count) for each of ``days``, zero where nothing happened."""
        return [(day, self.by_day.get(day, 0)) for day in days]


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


def period(practice, now):
    """(since, the practice's today, the first of its month, the trend's days) for ``now``."""
    zone = ZoneInfo(practice.timezone)
    today = now.astimezone(zone).date()
    first = today.replace(day=1)
    days = [today - timedelta(days=offset) for offset in range(TREND_DAYS - 1, -1, -1)]
    since = datetime.combine(min(first, days[0]), datetime.min.time(), zone).astimezone(UTC)
    return since, today, first, days


def access_stats(practice, now, *, location_id=None, provider=None):
    """A list of GroupStats for the practice (optionally one location or provider), plus the trend's days."""
    since, today, first, days = period(practice, now)
    zone = ZoneInfo(practice.timezone)
    dialect = db.engine.dialect.name
    scans = [Checkin.practice_id == practice.id, Checkin.created_at >= since, Checkin.override.is_(None)]
    if location_id:
        scans.append(Checkin.location_id == location_id)
    if provider:
        scans.append(Checkin.provider == provider)
    hour = _hour_bucket(dialect).label("hour")
    granted = func.sum(cast(Checkin.decision.in_(GRANTING), Integer))
    rows = db.session.execute(
        select(Checkin.provider, Location.name, hour, func.count(), granted,
               func.sum(case((Checkin.reentry_of_id.is_not(None), 1), else_=0)), func.sum(Checkin.processing_ms))
        .join(Location, Location.id == Checkin.location_id).where(*scans)
        .group_by(Checkin.provider, Location.name, hour)).all()
    groups = {}
    for name, location, bucket, count, grants, reentries, total_ms in rows:
        group = groups.setdefault((name, location), GroupStats(name, location))
        local = _as_utc(bucket).astimezone(zone)
        group.by_day[local.date()] = group.by_day.get(local.date(), 0) + count
        if local.date() >= first:
            group.month += count
            group.total += count
            group.granted += grants or 0
            group.reentries += reentries or 0
            group.total_ms += total_ms or 0
            group.by_hour[local.hour] = group.by_hour.get(local.hour, 0) + count
        if local.date() == today:
            group.today += count
    _add_refusals(groups, scans, since_month=datetime.combine(first, datetime.min.time(), zone))
    _add_p95(groups, scans, dialect, datetime.combine(first, datetime.min.time(), zone))
    members = dict(db.session.execute(select(Membership.provider, func.count()).where(
        Membership.practice_id == practice.id, Membership.unlinked_at.is_(None)).group_by(Membership.provider)).all())
    for group in groups.values():
        group.members = members.get(group.provider, 0)
    return sorted(groups.values(), key=lambda group: (group.location, group.provider or "")), days


def _add_refusals(groups, scans, since_month):
    """The most frequent refusals of the month per group."""
    rows = db.session.execute(
        select(Checkin.provider, Location.name, Checkin.decision, func.count().label("count"))
        .join(Location, Location.id == Checkin.location_id)
        .where(*scans, Checkin.created_at >= since_month, Checkin.decision.not_in(GRANTING))
        .group_by(Checkin.provider, Location.name, Checkin.decision)
        .order_by(func.count().desc())).all()
    for name, location, decision, count in rows:
        group = groups.get((name, location))
        if group is not None and len(group.refusals) < TOP_REASONS:
            group.refusals.append((decision, count))


def _add_p95(groups, scans, dialect, since_month):
    """The 95th percentile of the month's processing time per group: PostgreSQL computes it in one grouped query;
    SQLite, which has no percentile, reads the one row at that rank per group (a handful of groups)."""
    month = [*scans, Checkin.created_at >= since_month]
    if dialect == "postgresql":
        p95 = func.percentile_disc(0.95).within_group(Checkin.processing_ms)
        rows = db.session.execute(select(Checkin.provider, Location.name, p95)
                                  .join(Location, Location.id == Checkin.location_id).where(*month)
                                  .group_by(Checkin.provider, Location.name)).all()
        for name, location, value in rows:
            if (name, location) in groups:
                groups[(name, location)].p95_ms = value
        return
    for (name, location), group in groups.items():
        if not group.total:
            continue
        rank = max(int(group.total * 0.95 + 0.999999) - 1, 0)  # nearest-rank, as percentile_disc
        group.p95_ms = db.session.scalar(
            select(Checkin.processing_ms).join(Location, Location.id == Checkin.location_id)
            .where(*month, Checkin.provider.is_(name) if name is None else Checkin.provider == name,
                   Location.name == location)
            .order_by(Checkin.processing_ms).limit(1).offset(rank))
