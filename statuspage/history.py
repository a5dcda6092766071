"""Pure functions from Prometheus results to history: days, incidents, maintenance, gaps.

Nothing here does I/O; `statuspage.reading` runs the queries and hands the results over.
Times are unix seconds or aware datetimes; calendar days are IST (UTC+05:30, no DST).

Definitions (the report and the page share them):

- A **minute** of a service is *covered* when its `service:parichay_up:min` series has a
  sample in it, *down* when any sample in it is 0, *in maintenance* when
  `parichay_maintenance_active` is 1 in it. Uncovered minutes are **gaps**: never up.
- **Availability** of a day = (eligible - down) / eligible, where eligible = covered minutes
  outside maintenance and down counts only minutes outside maintenance. A day with no
  eligible minute has availability `None` (unknown), never 100 %.
- An **episode** is a run of samples of one series with no hole longer than `max_gap`; it
  starts at its first sample and ends one sample interval after its last.
- An **incident** is one or more overlapping firing episodes of page alerts with the same
  alert name and scope (e.g. `ParichayDown` for two SSO targets, or a partial-reachability
  alert for two sites); its start is the first sample of the alert (pending or firing:
  when the condition was first seen), `paged_at` its first firing sample.
- Whether an incident paged anyone despite maintenance windows is `statuspage.paging`'s.
- A **day with missing data** is one with at least `GAP_DAY_MINUTES` uncovered minutes
  (and no downtime, which is drawn first): the page and the report draw it grey.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from statistics import median

from servicekit import phrasebook
from servicekit.clock import IST as IST  # re-exported: statuspage modules import it here

MINUTES_PER_DAY = 1440
# A hole this long between samples of one alert or window splits it in two. Prometheus
# evaluates every 15 s in production and backfilled history is at one minute.
DEFAULT_MAX_GAP_S = 150.0
# A day with this many minutes without data is drawn as missing data, as the report lists
# gaps of five minutes or more (`reading.read_gaps`); shorter holes are a delayed scrape.
GAP_DAY_MINUTES = 5

Points = Sequence[tuple[float, float]]


def ist(ts: float | datetime) -> datetime:
    """The instant as an aware IST datetime."""
    if isinstance(ts, datetime):
        return ts.astimezone(IST)
    return datetime.fromtimestamp(ts, IST)


def ist_day(ts: float | datetime) -> date:
    """The IST calendar day an instant falls on."""
    return ist(ts).date()


def day_start(day: date) -> datetime:
    """IST midnight at the start of `day`, as an aware datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=IST)


def day_end(day: date) -> datetime:
    """IST midnight at the end of `day` (the start of the next)."""
    return day_start(day) + timedelta(days=1)


def days_between(first: date, last: date) -> list[date]:
    """Every calendar day from first to last, both included."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def format_ist(ts: float | datetime, *, with_date: bool = True) -> str:
    """`25 Nov 09:42 IST` (or `09:42 IST`), floored to the minute."""
    when = ist(ts)
    return when.strftime("%d %b %H:%M IST" if with_date else "%H:%M IST")


def human_duration(seconds: float) -> str:
    """`4 h 00 min`, `12 min`, `0 min`: rounded to the nearest minute, for people (page and
    report). Config durations such as `2m` are `servicekit.durations.format_duration`'s."""
    return phrasebook.duration(seconds).en


def up_ratio(*, eligible: int, down: int) -> float | None:
    """Up minutes / eligible minutes (maintenance and gaps already left out); None for none."""
    if eligible == 0:
        return None
    return max(0.0, (eligible - down) / eligible)


@dataclass(frozen=True, slots=True)
class DayAvailability:
    """One service's figures for one IST calendar day (minutes)."""

    day: date
    minutes: int  # minutes of the day that have passed (1440 for a whole day)
    covered: int  # minutes with data
    down: int  # minutes down outside maintenance
    maintenance: int  # minutes in a maintenance window (with or without data)
    maintenance_covered: int  # minutes with data that fell in a maintenance window

    @property
    def gap(self) -> int:
        """Minutes without data: not counted as up nor as down."""
        return max(0, self.minutes - self.covered)

    @property
    def eligible(self) -> int:
        """Minutes that count for availability: with data and outside maintenance."""
        return max(0, self.covered - self.maintenance_covered)

    @property
    def availability(self) -> float | None:
        """Share of eligible minutes that were up; None when no minute is eligible."""
        return up_ratio(eligible=self.eligible, down=self.down)

    @property
    def level(self) -> str:
        """`up`, `degraded` (>= 99 %), `down`, `maintenance` or `nodata`, for the bar colour.

        Downtime is drawn first, then maintenance, then missing data (`GAP_DAY_MINUTES` or
        more without data): "up" means up for every minute of the day that has passed.
        """
        avail = self.availability
        if self.down == 0 and self.maintenance > 0:
            return "maintenance"
        if avail is None:
            return "nodata"
        if self.down == 0:
            return "nodata" if self.gap >= GAP_DAY_MINUTES else "up"
        return "degraded" if avail >= 0.99 else "down"


def daily_availability(
    *,
    days: Sequence[date],
    now: datetime,
    covered: Mapping[date, int],
    down: Mapping[date, int],
    maintenance: Mapping[date, int],
    maintenance_covered: Mapping[date, int],
) -> list[DayAvailability]:
    """Combine per-day minute counts of one service; days after `now` are dropped."""
    out = []
    for day in days:
        start = day_start(day)
        if start >= now:
            break
        elapsed = min(MINUTES_PER_DAY, int((now - start).total_seconds() // 60))
        out.append(
            DayAvailability(
                day=day,
                minutes=elapsed,
                covered=min(elapsed, covered.get(day, 0)),
                down=down.get(day, 0),
                maintenance=maintenance.get(day, 0),
                maintenance_covered=maintenance_covered.get(day, 0),
            )
        )
    return out


def per_day(points: Points) -> dict[date, int]:
    """Points of a daily range query (evaluated just after each IST midnight) by day."""
    out: dict[date, int] = {}
    for ts, value in points:
        # The point at the end of a day (00:00:30 IST the next day) belongs to that day.
        day = ist_day(ts - 60)
        if value == value:  # skip NaN
            out[day] = round(value)
    return out


@dataclass(frozen=True, slots=True)
class Episode:
    """A run of samples with no hole longer than the allowed gap."""

    start: float
    end: float
    last_sample: float
    values: tuple[float, ...] = ()


def sample_interval(points: Points, *, default: float = 60.0) -> float:
    """The typical spacing of a series' samples (median), for the end of its last episode."""
    if len(points) < 2:
        return default
    diffs = [b[0] - a[0] for a, b in pairwise(points) if b[0] > a[0]]
    return median(diffs) if diffs else default


def episodes(
    points: Points,
    *,
    max_gap: float = DEFAULT_MAX_GAP_S,
    step: float | None = None,
    keep: float | None = None,
) -> list[Episode]:
    """Split samples (optionally only those equal to `keep`) into episodes."""
    chosen = [(t, v) for t, v in points if keep is None or v == keep]
    if not chosen:
        return []
    interval = step if step is not None else sample_interval(points)
    out: list[Episode] = []
    first = chosen[0][0]
    last = first
    values = [chosen[0][1]]
    for t, v in chosen[1:]:
        if t - last > max_gap:
            out.append(Episode(first, last + interval, last, tuple(values)))
            first, values = t, []
        last = t
        values.append(v)
    out.append(Episode(first, last + interval, last, tuple(values)))
    return out


@dataclass(frozen=True, slots=True)
class Incident:
    """A page-alert incident: one alert name and scope over one stretch of time."""

    alertname: str
    scope: str
    severity: str
    start: float  # the alert's condition was first seen (pending or firing)
    end: float  # one evaluation after its last sample
    paged_at: float  # first firing sample: the page went out about then
    ongoing: bool
    targets: tuple[str, ...] = ()
    vantages: tuple[str, ...] = ()
    labels: tuple[Mapping[str, str], ...] = field(default=())

    @property
    def duration(self) -> float:
        return self.end - self.start


IGNORED_ALERTS = frozenset({"Watchdog"})


def incidents(
    alert_series: Iterable[tuple[Mapping[str, str], Points]],
    *,
    now: float,
    severity: str = "page",
    max_gap: float = DEFAULT_MAX_GAP_S,
) -> list[Incident]:
    """Incidents from raw `ALERTS` samples (pending and firing), newest first.

    `alert_series` are (labels, points) of `ALERTS{severity=...}`; an episode with no firing
    sample (a pending alert that never fired) is no incident. An episode whose last sample is
    within `max_gap` of `now` is ongoing.
    """
    # One alert = its labels without alertstate; pending and firing samples are merged.
    merged: dict[tuple[tuple[str, str], ...], dict[float, str]] = {}
    for labels, points in alert_series:
        if labels.get("severity") != severity or labels.get("alertname") in IGNORED_ALERTS:
            continue
        key = tuple(
            sorted((k, v) for k, v in labels.items() if k not in ("alertstate", "__name__"))
        )
        states = merged.setdefault(key, {})
        state = labels.get("alertstate", "firing")
        for t, _ in points:
            # A firing sample wins over a pending one at the same instant.
            if states.get(t) != "firing":
                states[t] = state
    raw: list[tuple[dict[str, str], Episode, float]] = []
    for key, states in merged.items():
        labels = dict(key)
        times = sorted(states)
        pts = [(t, 1.0 if states[t] == "firing" else 0.0) for t in times]
        for ep in episodes(pts, max_gap=max_gap):
            fired = [t for t in times if ep.start <= t <= ep.last_sample and states[t] == "firing"]
            if fired:
                raw.append((labels, ep, fired[0]))
    # Overlapping episodes of one alert name and scope are one incident.
    raw.sort(key=lambda item: item[1].start)
    groups: list[list[tuple[dict[str, str], Episode, float]]] = []
    for item in raw:
        labels, ep, _ = item
        for group in groups:
            g_labels = group[0][0]
            g_end = max(e.end for _, e, _ in group)
            if (
                g_labels.get("alertname") == labels.get("alertname")
                and g_labels.get("scope") == labels.get("scope")
                and ep.start <= g_end + max_gap
            ):
                group.append(item)
                break
        else:
            groups.append([item])
    out = []
    for group in groups:
        labels0 = group[0][0]
        last = max(ep.last_sample for _, ep, _ in group)
        out.append(
            Incident(
                alertname=labels0.get("alertname", ""),
                scope=labels0.get("scope", ""),
                severity=labels0.get("severity", ""),
                start=min(ep.start for _, ep, _ in group),
                end=max(ep.end for _, ep, _ in group),
                paged_at=min(p for _, _, p in group),
                ongoing=now - last <= max_gap,
                targets=tuple(sorted({lb["target"] for lb, _, _ in group if lb.get("target")})),
                vantages=tuple(sorted({lb["vantage"] for lb, _, _ in group if lb.get("vantage")})),
                labels=tuple(lb for lb, _, _ in group),
            )
        )
    out.sort(key=lambda i: i.start, reverse=True)
    return out


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of time for one service: a maintenance window or a gap in the data."""

    service: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def maintenance_windows(
    series: Iterable[tuple[Mapping[str, str], Points]],
    *,
    max_gap: float = DEFAULT_MAX_GAP_S,
) -> list[Window]:
    """Windows from raw samples of `parichay_maintenance_active` (value 1), oldest first."""
    out = []
    for labels, points in series:
        for ep in episodes(points, max_gap=max_gap, keep=1.0):
            out.append(Window(labels.get("service", ""), ep.start, ep.end))
    # Two scrapers (HA) give the same window twice: keep one.
    unique = {(w.service, round(w.start / 60), round(w.end / 60)): w for w in out}
    return sorted(unique.values(), key=lambda w: (w.start, w.service))


def gaps(
    covered_minutes: Points,
    *,
    start: float,
    end: float,
    step: float = 60.0,
    min_gap: float = 300.0,
    service: str = "",
) -> list[Window]:
    """Gaps from a per-minute coverage range query (absent or 0 = no data), oldest first.

    `covered_minutes` holds a point per minute that had data; every other minute between
    start and end is missing. Holes shorter than `min_gap` are ignored (a delayed scrape).
    """
    have = sorted(t for t, v in covered_minutes if v > 0)
    out = []
    cursor = start
    for t in [*have, end + step]:
        # Minute t (ending at t) has data, so data was missing from cursor to t - step.
        hole = (t - step) - cursor
        if hole >= min_gap:
            out.append(Window(service, cursor, t - step))
        cursor = max(cursor, t)
    return out


def current_since(
    points: Points, *, now: float, max_gap: float = DEFAULT_MAX_GAP_S
) -> float | None:
    """When a 0/1 series last changed to its present value; None if it never changed in range.

    `points` is a per-minute range query of the service's state ending at `now`.
    """
    if not points or now - points[-1][0] > max_gap:
        return None
    value = points[-1][1]
    since = None
    for t, v in reversed(points):
        if v != value:
            break
        since = t
    if since is None or since == points[0][0]:
        return None
    # The state was first seen in the minute ending at `since`.
    return since - 60


def to_utc(ts: float) -> datetime:
    """Unix seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)
