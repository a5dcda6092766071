"""Scheduler: own interval per target, no overlap, isolation, reconcile, deadline; fake clock."""

from __future__ import annotations

import asyncio
import random

import pytest

from exporter.config import Target, load_config_text
from exporter.probes import ProbeContext
from exporter.result import PHASES, ProbeResult, Reason
from exporter.scheduler import Scheduler
from exporter.store import Store
from servicekit.clock import FakeClock


def _targets(*lines: str) -> tuple[Target, ...]:
    body = "\n".join(f"  - {line}" for line in lines)
    return load_config_text(f"vantage: v\ntargets:\n{body}\n").targets


class Runner:
    """A fake probe: records calls, can block per target, never touches the network."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: dict[str, list[float]] = {}
        self.running: dict[str, int] = {}
        self.max_running: dict[str, int] = {}
        self.block: dict[str, asyncio.Event] = {}

    async def __call__(self, target: Target, ctx: ProbeContext) -> ProbeResult:
        self.calls.setdefault(target.name, []).append(self.clock.monotonic())
        self.running[target.name] = self.running.get(target.name, 0) + 1
        self.max_running[target.name] = max(
            self.max_running.get(target.name, 0), self.running[target.name]
        )
        try:
            if target.name in self.block:
                await self.block[target.name].wait()
            return ProbeResult(
                target=target.name,
                success=True,
                reason=None,
                duration=0.01,
                started_at=self.clock.now(),
                phases=dict.fromkeys(PHASES, 0.0),
            )
        finally:
            self.running[target.name] -= 1


async def _start(
    targets: tuple[Target, ...], clock: FakeClock, runner: Runner, max_concurrency: int = 4
) -> tuple[Scheduler, Store, asyncio.Task[None]]:
    store = Store(vantage="v")
    store.set_targets(targets)
    sched = Scheduler(
        store=store,
        ctx=ProbeContext(clock=clock),
        max_concurrency=max_concurrency,
        jitter=0.0,
        rng=random.Random(1),
        runner=runner,
    )
    task = asyncio.create_task(sched.run(targets))
    await sched.started()
    return sched, store, task


async def _step(clock: FakeClock, seconds: int) -> None:
    """Let `seconds` pass one second at a time, so the probes due in between all run."""
    for _ in range(seconds):
        await clock.advance(1)


async def _stop(sched: Scheduler, task: asyncio.Task[None]) -> None:
    sched.stop()
    await asyncio.wait_for(task, 5)


async def test_each_target_runs_on_its_own_interval() -> None:
    """A 10 s target runs three times as often as a 30 s one over the same minute."""
    clock, targets = (
        FakeClock(),
        _targets(
            "{name: fast, role: sso, kind: dns, host: a.example, interval: 10s, timeout: 5s}",
            "{name: slow, role: sso, kind: dns, host: b.example, interval: 30s, timeout: 5s}",
        ),
    )
    runner = Runner(clock)
    sched, store, task = await _start(targets, clock, runner)
    await _step(clock, 60)
    await _stop(sched, task)
    assert len(runner.calls["fast"]) == 6
    assert len(runner.calls["slow"]) == 2
    gaps = [b - a for a, b in zip(runner.calls["fast"], runner.calls["fast"][1:], strict=False)]
    assert all(g == pytest.approx(10, abs=1.01) for g in gaps)
    assert store.get("fast") is not None and store.get("fast").counts["success"] == 6  # type: ignore[union-attr]


async def test_a_hanging_target_never_delays_the_others_nor_overlaps_itself() -> None:
    """While one probe hangs, the other target keeps its schedule and the hung one waits."""
    clock, targets = (
        FakeClock(),
        _targets(
            "{name: hung, role: sso, kind: dns, host: a.example, interval: 5s, timeout: 4s}",
            "{name: fine, role: app, kind: dns, host: b.example, interval: 5s, timeout: 4s}",
        ),
    )
    runner = Runner(clock)
    runner.block["hung"] = asyncio.Event()
    sched, _, task = await _start(targets, clock, runner, max_concurrency=2)
    await _step(clock, 30)
    assert len(runner.calls["hung"]) == 1
    assert runner.max_running["hung"] == 1
    assert len(runner.calls["fine"]) >= 5
    runner.block["hung"].set()
    await _stop(sched, task)


async def test_reconcile_keeps_unchanged_targets_and_stops_removed_ones() -> None:
    """A reload restarts only what changed; a removed target is never probed again."""
    clock = FakeClock()
    a = "{name: a, role: sso, kind: dns, host: a.example, interval: 10s, timeout: 5s}"
    b = "{name: b, role: sso, kind: dns, host: b.example, interval: 10s, timeout: 5s}"
    targets = _targets(a, b)
    runner = Runner(clock)
    sched, store, task = await _start(targets, clock, runner)
    await _step(clock, 12)
    new = _targets(
        a, "{name: c, role: app, kind: dns, host: c.example, interval: 10s, timeout: 5s}"
    )
    store.set_targets(new)
    sched.reconcile(new)
    before_b = len(runner.calls["b"])
    await _step(clock, 25)
    await _stop(sched, task)
    assert len(runner.calls["b"]) == before_b
    assert len(runner.calls["c"]) >= 2
    assert len(runner.calls["a"]) >= 3
    assert store.get("b") is None


async def test_a_probe_past_its_hard_deadline_is_recorded_as_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The scheduler's safety net turns a probe stuck past timeout+grace into `timeout`."""
    targets = _targets(
        "{name: stuck, role: sso, kind: dns, host: a.example, interval: 2s, timeout: 100ms}"
    )

    async def never(target: Target, ctx: ProbeContext) -> ProbeResult:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    store = Store(vantage="v")
    store.set_targets(targets)
    sched = Scheduler(store=store, ctx=ProbeContext(), max_concurrency=1, runner=never)
    monkeypatch.setattr("exporter.probes._HARD_DEADLINE_GRACE", 0.05)
    task = asyncio.create_task(sched.run(targets))
    for _ in range(100):
        await asyncio.sleep(0.02)
        st = store.get("stuck")
        if st is not None and st.latest is not None:
            break
    await _stop(sched, task)
    st = store.get("stuck")
    assert st is not None and st.latest is not None
    assert st.latest.reason is Reason.TIMEOUT
