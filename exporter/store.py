"""The latest result per target, plus per-target counters and latency histograms.

The scheduler writes here after each probe; the collector and the status page only read.
`set_targets()` is called on start and on every successful reload: state is kept for
targets whose name survives, dropped for removed ones, so a removed target disappears from
/metrics with no other bookkeeping. Everything runs on one event loop, so no locks.
Every write stamps the target's state with a new `version` (unique in the store), so a
reader can cache what it derived from a state and redo only what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exporter.config import Target
from exporter.result import SUCCESS, ProbeResult, Reason

if TYPE_CHECKING:
    from exporter.account import Suspension

# Web latency from a few milliseconds (a cached page on the LAN) to 30 s (a login).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0)
RESULTS = (SUCCESS, *(str(r) for r in Reason))


@dataclass(slots=True)
class TargetState:
    target: Target
    latest: ProbeResult | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESULTS, 0))
    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    latency_sum: float = 0.0
    latency_count: int = 0
    # Wall time at which the current up/down state began (for "down since 09:42").
    since: float | None = None
    # Why and until when logins are paused (None: not paused), as last published by the
    # scheduler or the app from `exporter.account` (which owns the pause) for /metrics and
    # the status page.
    suspension: Suspension | None = None
    # Set by the store on every write; never equal for two different contents.
    version: int = 0

    @property
    def suspended(self) -> bool:
        return self.suspension is not None


class Store:
    def __init__(self, *, vantage: str) -> None:
        self.vantage = vantage
        self.reload_ok = True
        self._states: dict[str, TargetState] = {}
        # Store-wide, so a state created by a reload never repeats a removed one's version.
        self._version = 0

    def _touch(self, st: TargetState) -> None:
        self._version += 1
        st.version = self._version

    def set_targets(self, targets: tuple[Target, ...], *, vantage: str | None = None) -> None:
        if vantage is not None:
            self.vantage = vantage
        old = self._states
        self._states = {}
        for t in targets:
            prev = old.get(t.name)
            if prev is not None and prev.target.kind == t.kind and prev.target.role == t.role:
                # The suspension is kept: only changed credentials or an explicit resume
                # lift it (the caller re-checks and calls set_suspension).
                prev.target = t
                self._states[t.name] = prev
            else:
                prev = self._states[t.name] = TargetState(target=t)
            self._touch(prev)

    def states(self) -> list[TargetState]:
        return list(self._states.values())

    def get(self, name: str) -> TargetState | None:
        return self._states.get(name)

    def record(self, result: ProbeResult) -> None:
        st = self._states.get(result.target)
        if st is None:  # the target was removed by a reload while its probe ran
            return
        if st.latest is None or st.latest.success != result.success:
            st.since = result.started_at
        st.latest = result
        st.counts[result.result_label] += 1
        st.latency_sum += result.duration
        st.latency_count += 1
        for i, bound in enumerate(LATENCY_BUCKETS):
            if result.duration <= bound:
                st.buckets[i] += 1
        self._touch(st)

    def set_suspension(self, name: str, suspension: Suspension | None) -> None:
        st = self._states.get(name)
        # The scheduler re-reads the pause around every probe: only a change is a write.
        if st is not None and st.suspension != suspension:
            st.suspension = suspension
            self._touch(st)
