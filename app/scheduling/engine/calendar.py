"""Calendar rules on plain data: wall-clock hours in the practice's zone turned into UTC intervals for the days
asked, public holidays from the ``holidays`` package, and interval arithmetic. No database, no Flask."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holiday_calendars


@dataclass(frozen=True)
class WeeklyRule:
    """An interval of wall-clock time on a weekday (0 = Monday) or on one date, valid between two dates (either
    open). ``owner`` is the location (opening hours) or the therapist (working hours, breaks)."""

    owner: int
    start: time
    end: time
    weekday: int | None = None
    day: date | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    location_id: int | None = None
    ref_id: int | None = None

    def applies(self, on):
        """True when the rule holds on the local date ``on``."""
        if self.day is not None:
            return self.day == on
        if self.weekday != on.weekday():
            return False
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on <= self.valid_to)


def local_instant(on, at, zone):
    """The UTC instant of wall-clock ``at`` on ``on`` in ``zone``; a time that does not exist (spring forward)
    is read with the offset before the switch, i.e. moved forward by the gap, and a repeated time is its first
    occurrence."""
    return datetime.combine(on, at, zone).astimezone(UTC)


def exists_locally(naive, zone):
    """True when the naive local ``naive`` exists in ``zone`` (not inside a spring-forward gap)."""
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


def day_bounds(on, zone):
    """The UTC instants at which local day ``on`` starts and the next one starts (23 or 25 hours on switch days)."""
    return local_instant(on, time.min, zone), local_instant(on + timedelta(days=1), time.min, zone)


def local_days(start, end, zone):
    """The local dates that the UTC range ``[start, end)`` touches in ``zone``, in order."""
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def expand(rules, days, zone):
    """Every (start, end, rule) in UTC that ``rules`` yield on the local ``days``, sorted by start."""
    out = []
    for on in days:
        for rule in rules:
            if rule.applies(on):
                start, end = local_instant(on, rule.start, zone), local_instant(on, rule.end, zone)
                if end > start:
                    out.append((start, end, rule))
    out.sort(key=lambda item: item[0])
    return out


def merge(intervals):
    """Sorted, merged (start, end) pairs: touching or overlapping intervals become one."""
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def intersect(first, second):
    """The intersection of two lists of merged (start, end) pairs, merged."""
    out, i, j = [], 0, 0
    while i < len(first) and j < len(second):
        start, end = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if start < end:
            out.append((start, end))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return out


def covered(windows, start, end):
    """True when ``[start, end)`` lies inside one of the merged ``windows``."""
    return any(w_start <= start and end <= w_end for w_start, w_end in windows)


@lru_cache(maxsize=256)
def _year_holidays(country, region, year, language):
    """{date: name} of one year's public holidays (the package computes them in milliseconds; cached, since the
    rules of a year do not change while the process runs)."""
    try:
        return dict(holiday_calendars.country_holidays(country, subdiv=region or None, years=[year],
                                                       language=language).items())
    except (NotImplementedError, KeyError):
        return {}


def public_holidays(country, region, days, language="de"):
    """{local date: holiday name} for the ``days`` asked, from the ``holidays`` package for ``country`` and its
    subdivision ``region`` (Bundesland, Bundesland in Austria, Kanton); {} for an unknown country or region."""
    found = {}
    for year in sorted({on.year for on in days}):
        found.update(_year_holidays(country, region, year, language))
    wanted = set(days)
    return {on: name for on, name in found.items() if on in wanted}


def zone_of(name):
    """The ZoneInfo of an IANA zone name."""
    return ZoneInfo(name)
