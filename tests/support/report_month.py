"""A month of synthetic history for the report: the events issue 16 names, at known times,
plus those of issue 20: a central outage inside the maintenance window (nobody was paged)
and a central outage in the month before (the e-Office login fell with it), for the
comparison.

`last_month(now)` places them in the last calendar month (IST) before `now`, so the CLI
accepts the month as past; `month_scenario()` turns them into a backfill `Scenario`.

Run it to regenerate the README's sample page (a real Prometheus, the real CLI, Chromium)::

    .venv/bin/python -m tests.support.report_month docs/img
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from statuspage.history import IST
from statuspage.periods import Period, month_period
from tests.support.backfill import (
    Blip,
    Event,
    Gap,
    Maintenance,
    Outage,
    Scenario,
    create_blocks,
    history_prometheus,
)

H = timedelta(hours=1)
M = timedelta(minutes=1)
HARIDWAR = "district-haridwar"


@dataclass(frozen=True)
class Month:
    """The month under test and the times of its events (aware IST datetimes)."""

    period: Period
    outage: tuple[datetime, datetime]
    partial: tuple[datetime, datetime]
    blips: tuple[datetime, ...]
    maintenance: tuple[datetime, datetime]
    gap: tuple[datetime, datetime]
    # A central outage inside the maintenance window: its alert fired, silenced.
    in_maintenance: tuple[datetime, datetime]
    # A central outage five days before the month (in the comparison's data).
    before: tuple[datetime, datetime]

    @property
    def arg(self) -> str:
        return self.period.slug


def last_month(now: datetime) -> Month:
    today = now.astimezone(IST).date()
    first_this = date(today.year, today.month, 1)
    last = first_this - timedelta(days=1)
    period = month_period(f"{last.year:04d}-{last.month:02d}", today=today)
    first = period.first
    # The first Monday of the month (day 1 to 7); every event then falls in days 1..17.
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    mon = datetime(monday.year, monday.month, monday.day, tzinfo=IST)
    return Month(
        period=period,
        outage=(mon + 9 * H + 40 * M, mon + 13 * H + 40 * M),
        partial=(mon + timedelta(days=2, hours=15), mon + timedelta(days=2, hours=16)),
        blips=(mon + 17 * H, mon + timedelta(days=3, hours=11)),
        maintenance=(mon + timedelta(days=5, hours=20), mon + timedelta(days=5, hours=23)),
        gap=(mon + timedelta(days=8, hours=2), mon + timedelta(days=8, hours=4)),
        in_maintenance=(
            mon + timedelta(days=5, hours=20, minutes=30),
            mon + timedelta(days=5, hours=21, minutes=30),
        ),
        before=(
            period.start - timedelta(days=5) + 10 * H,
            period.start - timedelta(days=5) + 10 * H + 30 * M,
        ),
    )


def month_scenario(month: Month, now: datetime, *, objective: float | None = None) -> Scenario:
    events: tuple[Event, ...] = (
        Outage(start=month.outage[0], end=month.outage[1], scope="central"),
        Outage(
            start=month.partial[0],
            end=month.partial[1],
            scope="path",
            vantages=(HARIDWAR,),
            reason="connect_timeout",
        ),
        *(Blip(start=b) for b in month.blips),
        Maintenance(start=month.maintenance[0], end=month.maintenance[1], service="parichay"),
        Outage(start=month.in_maintenance[0], end=month.in_maintenance[1], scope="central"),
        Outage(start=month.before[0], end=month.before[1], scope="central"),
        Gap(start=month.gap[0], end=month.gap[1]),
    )
    # Oldest first: the backfill writes each alert series' samples in the order of the
    # events, and promtool drops samples older than the series' last one.
    events = tuple(sorted(events, key=lambda e: e.start))
    # Ten days of the month before, for the comparison, and a day after the month.
    start = month.period.start - timedelta(days=10)
    end = min(month.period.end + timedelta(days=1), now.replace(second=0, microsecond=0))
    return Scenario(start=start, end=end, events=events, objective=objective)


def minutes(span: tuple[datetime, datetime]) -> int:
    return round((span[1] - span[0]).total_seconds() / 60)


async def _sample(out: Path) -> None:
    now = datetime.now(UTC)
    month = last_month(now)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = create_blocks(month_scenario(month, now, objective=0.995), root / "tsdb")
        async with history_prometheus(data_dir=data, workdir=root) as prom:
            cli = [sys.executable, "-m", "statuspage.cli", "report", "--month", month.arg]
            cli += ["--format", "pdf", "--out", tmp, "--prometheus", prom.url]
            await asyncio.to_thread(subprocess.run, cli, check=True)
        pdf = root / f"parichay-report-{month.arg}.pdf"
        target = out / "report-sample"
        png = ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile"]
        await asyncio.to_thread(subprocess.run, [*png, str(pdf), str(target)], check=True)
    print(f"{target}.png")


if __name__ == "__main__":
    asyncio.run(_sample(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img")))
