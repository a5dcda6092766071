"""When probes run: one task per target on its own interval, never on scrape.

A `Scheduler` owns one TaskGroup with one long-lived task per target. Each task sleeps
until its next slot (interval plus a little jitter so many exporters do not probe in
lock-step), skips the slot while the target's logins are paused (a pure read of
`exporter.account`), takes a place under the global semaphore, runs the probe through
`run_safely()` (the pause again, a hard deadline, a net for bugs; `parichay-exporter
probe` uses the same) and hands the result and the pause to the store. A target is never
probed twice at once, and a slow or hanging target only delays itself. `reconcile()`
applies a reloaded config by target name: unchanged targets keep their task and schedule,
changed ones restart, removed ones stop.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from exporter.config import Target
from exporter.probes import ProbeContext, Runner, run_probe, run_safely
from exporter.result import ProbeResult
from exporter.store import Store

log = logging.getLogger("exporter.scheduler")

# Scheduler lag (a probe's actual start minus its planned start): under a millisecond on a
# healthy exporter; tens of milliseconds mean the event loop or the CPU is overloaded.
LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Scheduler:
    def __init__(
        self,
        *,
        store: Store,
        ctx: ProbeContext,
        max_concurrency: int,
        jitter: float = 0.1,
        rng: random.Random | None = None,
        on_result: Callable[[Target, ProbeResult], None] | None = None,
        runner: Runner = run_probe,
    ) -> None:
        self._store = store
        self._ctx = ctx
        self._sem = asyncio.Semaphore(max_concurrency)
        self._jitter = jitter
        self._rng = rng or random.Random()
        self._on_result = on_result
        self._runner = runner
        self._tasks: dict[str, tuple[Target, asyncio.Task[None]]] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._stop = asyncio.Event()
        self._started = asyncio.Event()
        self.running_probes = 0
        # Cumulative lag histogram (counts of lags <= each bound), its sum and count.
        self.lag_buckets = [0] * len(LAG_BUCKETS)
        self.lag_sum = 0.0
        self.lag_count = 0

    async def run(self, targets: tuple[Target, ...]) -> None:
        """Probe `targets` until `stop()` is called or the task is cancelled."""
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            self.reconcile(targets)
            self._started.set()
            await self._stop.wait()
            for _, task in self._tasks.values():
                task.cancel()
        self._tasks.clear()
        self._tg = None

    async def started(self) -> None:
        await self._started.wait()

    def stop(self) -> None:
        self._stop.set()

    def reconcile(self, targets: tuple[Target, ...]) -> None:
        assert self._tg is not None, "reconcile() needs a running scheduler"
        wanted = {t.name: t for t in targets}
        for name, (old, task) in list(self._tasks.items()):
            if wanted.get(name) != old:
                task.cancel()
                del self._tasks[name]
        for name, target in wanted.items():
            if name not in self._tasks:
                task = self._tg.create_task(self._loop(target), name=f"probe:{name}")
                self._tasks[name] = (target, task)

    async def _loop(self, target: Target) -> None:
        clock = self._ctx.clock
        # Spread the first probes over a second so start-up is not a burst.
        next_at = clock.monotonic() + self._rng.uniform(0, min(target.interval, 1.0))
        while True:
            delay = next_at - clock.monotonic()
            if delay > 0:
                await clock.sleep(delay)
            result = None
            pause = self._ctx.accounts.pause(target)  # pure: no file, no scrypt
            self._store.set_suspension(target.name, pause)
            if pause is None:
                async with self._sem:
                    self._record_lag(clock.monotonic() - next_at)
                    self.running_probes += 1
                    try:
                        outcome = await run_safely(target, self._ctx, runner=self._runner)
                    finally:
                        self.running_probes -= 1
                self._store.set_suspension(target.name, outcome.pause)
                result = outcome.result
            if result is not None:
                self._store.record(result)
                if self._on_result is not None:
                    self._on_result(target, result)
            now = clock.monotonic()
            next_at += target.interval
            if next_at < now:  # we fell behind (a long probe): skip, never catch up in bursts
                next_at = now
            spread = target.interval * self._jitter
            next_at = max(now, next_at + self._rng.uniform(-spread, spread))

    def _record_lag(self, lag: float) -> None:
        lag = max(lag, 0.0)
        self.lag_sum += lag
        self.lag_count += 1
        for i, bound in enumerate(LAG_BUCKETS):
            if lag <= bound:
                self.lag_buckets[i] += 1
