"""The period a report covers: IST calendar days, a month or `--from`/`--to`, and its words.

`month_period("2024-09", today=...)` and `day_period(...)` turn the command line into a
`Period` or raise `ReportError` naming the option and the fix; `Period.previous()` is the
period the report compares itself with; `span()` words a stretch of time. Month names come
from `servicekit.phrasebook.MONTHS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from servicekit.phrasebook import MONTHS, Phrase
from statuspage.history import day_end, day_start, ist

_EN = tuple(m.en for m in MONTHS)
_HI = tuple(m.hi for m in MONTHS)


class ReportError(Exception):
    """Bad input or nothing to report: the message names the option and the fix."""


@dataclass(frozen=True, slots=True)
class Period:
    """IST calendar days first..last (both included); `month` is set for a whole month."""

    first: date
    last: date
    month: tuple[int, int] | None = None

    @property
    def start(self) -> datetime:
        return day_start(self.first)

    @property
    def end(self) -> datetime:
        return day_end(self.last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def slug(self) -> str:
        """For file names: `2024-09` or `2024-09-01_2024-09-15`."""
        if self.month:
            return f"{self.month[0]:04d}-{self.month[1]:02d}"
        return f"{self.first.isoformat()}_{self.last.isoformat()}"

    @property
    def label(self) -> Phrase:
        """`September 2024` / `सितंबर 2024`, or `1 Sep 2024 to 15 Sep 2024`."""
        if self.month:
            year, month = self.month
            return Phrase(f"{_EN[month - 1]} {year}", f"{_HI[month - 1]} {year}")
        return Phrase(
            f"{_day_en(self.first)} to {_day_en(self.last)}",
            f"{_day_hi(self.first)} से {_day_hi(self.last)} तक",
        )

    def previous(self) -> Period:
        """The period just before: the previous month, or as many days just before."""
        if self.month:
            year, month = self.month
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
            return month_period(f"{year:04d}-{month:02d}", today=None)
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))


def _day_en(day: date) -> str:
    return f"{day.day} {_EN[day.month - 1][:3]} {day.year}"


def _day_hi(day: date) -> str:
    return f"{day.day} {_HI[day.month - 1]} {day.year}"


def month_period(text: str, *, today: date | None) -> Period:
    """`2024-09` (or `last`: the month before today's) as a Period; future months are refused."""
    if text.strip() == "last" and today is not None:
        before = date(today.year, today.month, 1) - timedelta(days=1)
        text = f"{before.year:04d}-{before.month:02d}"
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise ReportError(f"--month: expected a month like 2024-09 or `last`, got {text!r}")
    year, month = int(match[1]), int(match[2])
    first = date(year, month, 1)
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    period = Period(first, nxt - timedelta(days=1), (year, month))
    if today is not None and first > today:
        raise ReportError(
            f"--month {text}: that month has not started yet (today is {today.isoformat()} "
            "IST); give a past or the current month"
        )
    return period


def day_period(first: str, last: str, *, today: date) -> Period:
    """`--from`/`--to` IST calendar days (both included) as a Period."""
    days = []
    for option, text in (("--from", first), ("--to", last)):
        try:
            days.append(date.fromisoformat(text.strip()))
        except ValueError:
            raise ReportError(f"{option}: expected a day like 2024-09-01, got {text!r}") from None
    begin, end = days
    if end < begin:
        raise ReportError(f"--to {end.isoformat()}: must not be before --from {begin}")
    if begin > today:
        raise ReportError(
            f"--from {begin.isoformat()}: that day has not started yet (today is "
            f"{today.isoformat()} IST); give a past day"
        )
    return Period(begin, end)


def span(start: float, end: float) -> Phrase:
    """`2 Sep 09:40-13:40 IST` (dates on both ends when it spans midnight)."""
    a, b = ist(start), ist(end)
    same = a.date() == b.date()
    en_b = b.strftime("%H:%M") if same else f"{b.day} {_EN[b.month - 1][:3]} {b:%H:%M}"
    hi_b = b.strftime("%H:%M") if same else f"{b.day} {_HI[b.month - 1]} {b:%H:%M}"
    return Phrase(
        f"{a.day} {_EN[a.month - 1][:3]} {a:%H:%M}-{en_b} IST",
        f"{a.day} {_HI[a.month - 1]} {a:%H:%M}-{hi_b} IST",
    )
