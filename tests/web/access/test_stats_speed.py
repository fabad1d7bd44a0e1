"""The statistics page costs the same statements with a handful or many logged check-ins (issue 19's speed
budget: it reads the daily roll-up, never the log), and the roll-up's figures equal what the log holds. Counts
statements, never timings (bench/access.py times it)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from app.access.models import Checkin
from app.access.rollup import rebuild
from app.access.stats import access_stats
from app.platform.database import utcnow


def seed(db, location, count, start=0):
    """``count`` logged scans spread over the last 40 days, inserted in bulk (no ORM hook), then rolled up."""
    now = utcnow()
    decisions = ("allow", "allow_reentry", "deny_expired", "deny_limit_reached", "error_timeout")
    rows = [{"practice_id": location.practice_id, "location_id": location.id,
             "provider": None if index % 17 == 0 else "fitpass", "code_kind": "fitpass",
             "external_id": f"FP-S{index:05d}", "decision": decisions[index % 5],
             "granted": decisions[index % 5].startswith("allow"), "awaiting_confirmation": False,
             "processing_ms": (index * 53) % 900, "created_at": now - timedelta(minutes=1 + index * 97 % (40 * 1440))}
            for index in range(start, start + count)]
    db.session.execute(insert(Checkin.__table__), rows)
    db.session.commit()
    rebuild(db.session.connection(), location.practice_id)
    db.session.commit()


def page_statements(client, sql_statements):
    with sql_statements() as sent:
        response = client.get("/access/stats")
    assert response.status_code == 200
    assert not [statement for statement in sent if "FROM access_checkins" in statement]  # the roll-up only
    return len(sent), response.get_data(as_text=True)


def test_stats_page_costs_the_same_with_more_checkins(client, auth, db, location, make_location, enable,
                                                      sql_statements):
    auth.login("admin")
    enable(location)
    seed(db, location, 20)
    client.get("/access/stats")  # warm caches (settings, translations) so both counts compare like for like
    few, _body = page_statements(client, sql_statements)
    seed(db, location, 2000, start=20)
    seed(db, make_location("Studio Nord"), 500, start=5000)
    many, body = page_statements(client, sql_statements)
    assert many == few
    assert "Studio Nord" in body and 'id="stats-1"' in body


def test_roll_up_figures_equal_the_log(db, practice, location):
    seed(db, location, 1500)
    now = utcnow()
    groups, days = access_stats(practice, now)
    month_start = days[-1].replace(day=1)
    rows = db.session.scalars(select(Checkin)).all()
    zone = ZoneInfo(practice.timezone)
    fitpass = next(group for group in groups if group.provider == "fitpass")
    mine = [row for row in rows if row.provider == "fitpass"]
    local_days = [row.created_at.astimezone(zone).date() for row in mine]
    month = [row for row, day in zip(mine, local_days, strict=True) if day >= month_start]
    assert fitpass.month == len(month)
    assert fitpass.today == sum(1 for day in local_days if day == now.astimezone(zone).date())
    assert fitpass.granted == sum(1 for row in month if row.decision.startswith("allow"))
    assert fitpass.total_ms == sum(row.processing_ms for row in month)
    assert sum(count for _day, count in fitpass.trend(days)) == sum(1 for day in local_days if day >= days[0])
