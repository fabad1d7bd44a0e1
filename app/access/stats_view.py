"""How the statistics are shown: the 30-day trend as the geometry of a server-rendered SVG bar chart (no script,
no inline style: the CSP allows neither) and the rows of the CSV export."""

from dataclasses import dataclass

from flask_babel import gettext as _

CHART_WIDTH = 300
CHART_HEIGHT = 60


@dataclass(frozen=True)
class TrendBar:
    """One day's bar: position and size in the SVG's coordinates, and what its tooltip says."""

    day: object
    count: int
    x: float
    y: float
    width: float
    height: float


def trend_chart(group, days):
    """The bars of ``group``'s check-ins per day over ``days``, scaled to the busiest day."""
    series = group.trend(days)
    highest = max((count for _day, count in series), default=0) or 1
    slot = CHART_WIDTH / max(len(series), 1)
    bars = []
    for index, (day, count) in enumerate(series):
        height = round(CHART_HEIGHT * count / highest, 2)
        bars.append(TrendBar(day, count, round(index * slot + 1, 2), round(CHART_HEIGHT - height, 2),
                             round(max(slot - 2, 1), 2), height))
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "bars": bars}


def _percent(value):
    """A share as a whole percent, or empty."""
    return "" if value is None else f"{round(value * 100)} %"


def stats_rows(groups, reasons, provider_label):
    """The CSV rows (header first) of the statistics: one row per provider and location."""
    header = [_("Location"), _("Provider"), _("Active members"), _("Check-ins today"), _("Check-ins this month"),
              _("Success rate"), _("Mean ms"), _("95th percentile ms"), _("Peak hour"), _("Re-entry share"),
              _("Top refusals")]
    rows = [header]
    for group in groups:
        refusals = ", ".join(f"{reasons.get(decision, decision)} ({count})" for decision, count in group.refusals)
        rows.append([group.location, provider_label(group.provider) if group.provider else _("unknown code"),
                     group.members, group.today, group.month, _percent(group.success_rate), group.mean_ms,
                     group.p95_ms, "" if group.peak_hour is None else f"{group.peak_hour:02d}:00",
                     _percent(group.reentry_share), refusals])
    return rows
