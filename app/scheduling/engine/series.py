"""Treatment series on plain data: the dates of N units at a frequency per week, and the warnings a prescription
(Heilmittelverordnung) asks for: a first unit after the latest start, units after the validity, gaps longer than
allowed, more units in a week than prescribed. The rules' numbers are the practice's to confirm (settings)."""

from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _

MAX_UNITS = 60
MAX_PER_WEEK = 5


@dataclass(frozen=True)
class SeriesRules:
    """How a prescription is read: days from its date until the latest first unit, and the longest allowed gap
    between two units. Defaults follow the usual Heilmittel-Richtlinie reading (28 and 14 days); the practice
    confirms them in its settings (``series`` in the practice settings)."""

    days_until_first_unit: int = 28
    max_gap_days: int = 14

    @classmethod
    def from_settings(cls, settings):
        """The rules from a practice's settings dict (``{"series": {...}}``), defaults where absent."""
        values = (settings or {}).get("series") or {}
        return cls(int(values.get("days_until_first_unit", cls.days_until_first_unit)),
                   int(values.get("max_gap_days", cls.max_gap_days)))


def unit_dates(first, units, per_week):
    """The dates of ``units`` units from ``first``, ``per_week`` a week spread over the week (2 a week: days 0
    and 4 of each week from the first)."""
    offsets = sorted({round(index * 7 / per_week) for index in range(per_week)})
    dates, week = [], 0
    while len(dates) < units:
        dates.extend(first + timedelta(days=week * 7 + offset) for offset in offsets)
        week += 1
    return dates[:units]


def warnings_for(dates, per_week, latest_start, valid_until, rules):
    """One list of sentences per unit date: what breaks the prescription's frequency or validity."""
    found = []
    for index, on in enumerate(dates):
        notes = []
        if index == 0 and latest_start is not None and on > latest_start:
            notes.append(_("The first unit lies after the latest start date (%(date)s).",
                           date=latest_start.strftime("%d.%m.%Y")))
        if valid_until is not None and on > valid_until:
            notes.append(_("This unit lies after the prescription's validity (%(date)s).",
                           date=valid_until.strftime("%d.%m.%Y")))
        if index and (on - dates[index - 1]).days > rules.max_gap_days:
            notes.append(_("%(days)d days after the previous unit; at most %(max)d are allowed.",
                           days=(on - dates[index - 1]).days, max=rules.max_gap_days))
        week = on.isocalendar()[:2]
        if sum(1 for other in dates[:index + 1] if other.isocalendar()[:2] == week) > per_week:
            notes.append(_("More than %(count)d units in this week.", count=per_week))
        found.append(notes)
    return found
