"""The shared clock: code under test sleeps on a fake clock that tests move by hand."""

from __future__ import annotations

import asyncio

from servicekit.clock import Clock, FakeClock, SystemClock


async def test_fake_clock_wakes_sleepers_in_deadline_order() -> None:
    """advance() wakes each sleeper when its deadline is reached, earliest first."""
    clock = FakeClock(start=100.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper("late", 20)), asyncio.create_task(sleeper("early", 5))]
    await asyncio.sleep(0)
    await clock.advance(10)
    assert woke == [("early", 105.0)]
    await clock.advance(10)
    assert woke == [("early", 105.0), ("late", 120.0)]
    await asyncio.gather(*tasks)


async def test_autoadvancing_fake_clock_returns_at_once() -> None:
    """With autoadvance, sleep() moves the time itself (for back-off loops)."""
    clock = FakeClock(start=0.0, autoadvance=True)
    await clock.sleep(30)
    clock.step(5)
    assert clock.now() == clock.monotonic() == 35.0


def test_both_clocks_satisfy_the_protocol() -> None:
    """Services take any Clock; the real one reads the system's time."""
    clocks: list[Clock] = [SystemClock(), FakeClock()]
    assert all(c.now() > 0 and c.monotonic() >= 0 for c in clocks)
