"""The geometry of the hub's small 24-hour charts (error rate and mean response time per hour), computed here so the
template only draws rectangles: server-rendered inline SVG, no JavaScript chart library, no inline styles (the
colours come from classes in static/css/app.css, which the CSP allows).

Each chart has axes a person can read: the value axis names its unit and range (0–100 % for the error rate,
0 ms to the slowest hour for the response time) and the time axis names the hours (HH:00 in the practice's zone).
The labels are HTML around the SVG, not SVG text, because the SVG stretches to its box and would distort text."""

from dataclasses import dataclass

# The drawing area in SVG user units; the SVG scales to its container.
WIDTH = 240
HEIGHT = 48
GAP = 1
# Hours without calls are drawn as a thin line so the time axis stays readable.
EMPTY_HEIGHT = 1
# The time axis names every TIME_TICK_HOURS-th hour (24 hours: four labels, under the first bar of each quarter;
# the template lays them out as four equal columns, so no inline style positions them).
TIME_TICK_HOURS = 6


@dataclass(frozen=True)
class Bar:
    """One hour as a rectangle: position and size in SVG units, plus the figures its tooltip names."""

    x: float
    y: float
    width: float
    height: float
    start: object
    calls: int
    failures: int
    mean_ms: float | None

    @property
    def empty(self):
        """True for an hour without calls."""
        return not self.calls

    @property
    def error_percent(self):
        """The hour's failed share in whole percent."""
        return round(100 * self.failures / self.calls) if self.calls else 0


@dataclass(frozen=True)
class Chart:
    """A provider's last 24 hours: bars for the error rate (0..100 %) and for the mean response time (scaled to
    the slowest hour), and the window's totals for the caption."""

    error_bars: tuple
    latency_bars: tuple
    calls: int
    failures: int
    mean_ms: float | None
    max_ms: float

    @property
    def error_percent(self):
        """The window's failed share in percent (one decimal), or None without calls."""
        return round(100 * self.failures / self.calls, 1) if self.calls else None

    @property
    def time_ticks(self):
        """The starts of the hours the time axis names (every TIME_TICK_HOURS-th bar, from the first)."""
        return tuple(bar.start for bar in self.error_bars[::TIME_TICK_HOURS])

    @property
    def latency_scale_ms(self):
        """The response time the full height of the latency chart stands for (the slowest hour), in whole ms."""
        return round(self.max_ms)

    @property
    def width(self):
        """The SVG's width in user units (for the viewBox)."""
        return WIDTH

    @property
    def height(self):
        """The SVG's height in user units (for the viewBox)."""
        return HEIGHT


def _bar(index, slot, bucket, fraction):
    """The rectangle of bucket ``index`` whose value is ``fraction`` (0..1) of the full height."""
    height = round(HEIGHT * fraction, 2) if bucket.calls else EMPTY_HEIGHT
    height = max(height, EMPTY_HEIGHT)
    return Bar(x=round(index * slot, 2), y=round(HEIGHT - height, 2), width=round(slot - GAP, 2), height=height,
               start=bucket.start, calls=bucket.calls, failures=bucket.failures, mean_ms=bucket.mean_ms)


def build(buckets):
    """The Chart of ``buckets`` (app.integrations.metrics.hourly, oldest first)."""
    buckets = list(buckets)
    slot = WIDTH / max(len(buckets), 1)
    calls = sum(bucket.calls for bucket in buckets)
    failures = sum(bucket.failures for bucket in buckets)
    timed = [(bucket.mean_ms, bucket.calls) for bucket in buckets if bucket.mean_ms is not None and bucket.calls]
    weight = sum(count for _mean, count in timed)
    mean_ms = sum(mean * count for mean, count in timed) / weight if weight else None
    max_ms = max((mean for mean, _count in timed), default=0.0)
    error_bars = tuple(_bar(index, slot, bucket, bucket.error_rate) for index, bucket in enumerate(buckets))
    latency_bars = tuple(
        _bar(index, slot, bucket, (bucket.mean_ms or 0) / max_ms if max_ms else 0)
        for index, bucket in enumerate(buckets))
    return Chart(error_bars=error_bars, latency_bars=latency_bars, calls=calls, failures=failures,
                 mean_ms=mean_ms, max_ms=max_ms)
