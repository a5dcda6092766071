"""The clock every timed component takes as an argument, so tests need not sleep.

`Clock` is the real one. `FakeClock` (for tests) advances only when told to, and its
`sleep()` returns as soon as the fake time reaches the deadline.
"""

from __future__ import annotations

import asyncio
import time


class Clock:
    """Wall time for timestamps, a monotonic clock for durations and schedules."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def perf(self) -> float:
        return time.perf_counter()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock(Clock):
    """Deterministic time: `advance()` moves it and wakes the sleepers that are due."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    def perf(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
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
