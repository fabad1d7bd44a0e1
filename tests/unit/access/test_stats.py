"""Check-in statistics: counts today and this month, success rate, refusals, processing times, peak hour,
re-entry share and the trend, per provider and location, in the practice's time zone."""

from datetime import UTC, datetime, timedelta

from app.access.memberships import link_membership
from app.access.models import Checkin
from app.access.stats import access_stats
from app.access.stats_view import stats_rows, trend_chart

NOW = datetime(2026, 12, 15, 11, 30, tzinfo=UTC)  # 12:30 in Berlin


def add(db, location, when, decision="allow", ms=100, provider="fitpass", reentry_of=None, override=None):
    row = Checkin(practice_id=location.practice_id, location_id=location.id, provider=provider,
                  code_kind="fitpass", external_id="FP-X", decision=decision,
                  granted=decision in ("allow", "allow_reentry") or override == "grant", processing_ms=ms,
                  created_at=when, reentry_of_id=reentry_of, override=override)
    db.session.add(row)
    db.session.commit()
    return row


def test_figures_per_provider_and_location(db, practice, location, make_location, desk):
    other = make_location("Studio Nord")
    link_membership(desk, practice.id, "fitpass", "FP-A", member_name="A")
    entry = add(db, location, NOW - timedelta(hours=1), ms=100)
    add(db, location, NOW - timedelta(minutes=30), "allow_reentry", ms=10, reentry_of=entry.id)
    add(db, location, NOW - timedelta(days=2), "deny_expired", ms=300)
    add(db, location, NOW - timedelta(days=3), "deny_expired", ms=200)
    add(db, location, NOW - timedelta(days=3), "error_timeout", ms=1000, override="grant")  # overrides don't count
    add(db, location, NOW - timedelta(days=20), ms=50)  # last month: trend only
    add(db, other, NOW - timedelta(hours=2), "deny_unknown_code", provider=None)
    groups, days = access_stats(practice, NOW)
    assert [(group.location, group.provider) for group in groups] == [("Studio Mitte", "fitpass"),
                                                                      ("Studio Nord", None)]
    mitte = groups[0]
    assert (mitte.members, mitte.today, mitte.month, mitte.granted) == (1, 2, 4, 2)
    assert mitte.success_rate == 0.5 and mitte.reentry_share == 0.5
    assert mitte.refusals == [("deny_expired", 2)]
    assert mitte.mean_ms == round((100 + 10 + 300 + 200) / 4) and mitte.p95_ms == 300
    assert mitte.peak_hour == 12  # three of the four scans fall between 12:00 and 13:00 Berlin time
    assert sum(count for _day, count in mitte.trend(days)) == 5 and len(days) == 30
    chart = trend_chart(mitte, days)
    assert len(chart["bars"]) == 30 and max(bar.height for bar in chart["bars"]) == chart["height"]


def test_csv_rows(db, practice, location):
    add(db, location, NOW - timedelta(hours=1))
    groups, _days = access_stats(practice, NOW)
    rows = stats_rows(groups, {}, lambda name: name.title())
    assert rows[1][:5] == ["Studio Mitte", "Fitpass", 0, 1, 1] and rows[1][5] == "100 %"
