"""The one clock protocol, so timed code takes time as an argument and tests need not sleep.

`now()` is wall time (seconds since the epoch) for timestamps and ages, `monotonic()` a
clock that never jumps for durations and schedules, `sleep()` the awaitable wait.
`SystemClock` is the real one; `FakeClock` (for tests) moves only when told to:
`advance()` wakes the sleepers that are due, in deadline order. `IST` is the one zone
people read times in (UTC+05:30, no DST).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta, timezone
from typing import Final, Protocol

IST: Final = timezone(timedelta(hours=5, minutes=30), "IST")


class Clock(Protocol):
    """Wall time, monotonic time and an awaitable sleep."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait for `seconds` (at once if not positive)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """Deterministic time for tests: `advance()` moves it and wakes the sleepers that are due.

    With `autoadvance=True`, `sleep()` instead moves the time itself and returns at once
    (for code that only needs the clock to have moved, like a retry back-off).
    """

    def __init__(self, start: float = 1_700_000_000.0, *, autoadvance: bool = False) -> None:
        self._now = start
        self._autoadvance = autoadvance
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if self._autoadvance:
            self._now += max(0.0, seconds)
            await asyncio.sleep(0)
            return
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + seconds, fut))
        await fut

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in deadline order, and let them run."""
        target = self._now + seconds
        while True:
            due = sorted(
                (s for s in self._sleepers if s[0] <= target and not s[1].done()),
                key=lambda s: s[0],
            )
            if not due:
                break
            deadline, fut = due[0]
            self._now = max(self._now, deadline)
            fut.set_result(None)
            self._sleepers = [s for s in self._sleepers if s[1] is not fut]
            for _ in range(5):
                await asyncio.sleep(0)
        self._now = target
        for _ in range(5):
            await asyncio.sleep(0)

    def step(self, seconds: float) -> None:
        """Move time forward without waking anyone (for code without sleepers)."""
        self._now += seconds
