"""Probes: one module per target kind, all with the signature `probe(target, ctx)`.

`exporter.kinds.KINDS` pairs each kind with its probe module. A probe returns a
`ProbeResult` and never raises for a target failure; `run_probe()` adds the safety net for
bugs and a hard deadline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from exporter.config import Target
from exporter.kinds import kind_of
from exporter.result import ProbeResult
from servicekit.clock import Clock, SystemClock

if TYPE_CHECKING:
    from exporter.probes.login import Suspension

log = logging.getLogger("exporter.probes")


@dataclass(slots=True, kw_only=True)
class ProbeContext:
    """What a probe may use besides its target: the clock, and test seams."""

    clock: Clock = field(default_factory=SystemClock)
    # Unit tests inject e.g. httpx.MockTransport; None means real sockets.
    transport: httpx.AsyncBaseTransport | None = None
    # Per-target state that must survive between runs (login suspension, used OTPs).
    state: dict[str, Any] = field(default_factory=dict)


def pause_of(target: Target, ctx: ProbeContext) -> Suspension | None:
    """Why and until when `target` must not be probed (a suspended login), or None."""
    kind = kind_of(target)
    if not kind.can_pause:
        return None
    pause: Suspension | None = kind.probe_module().suspension(ctx, target)
    return pause


def paused_until(target: Target, ctx: ProbeContext) -> float | None:
    """Wall time until which `target` must not be probed (a suspended login), or None."""
    pause = pause_of(target, ctx)
    return None if pause is None else pause.until


def recheck_pause(target: Target, ctx: ProbeContext) -> bool:
    """After a reload: lift a pause only if the target's credentials changed."""
    kind = kind_of(target)
    return kind.can_pause and bool(kind.probe_module().recheck_credentials(ctx, target))


def resume(target: Target, ctx: ProbeContext) -> bool:
    """An operator's explicit resume; True if a pause was lifted."""
    kind = kind_of(target)
    return kind.can_pause and bool(kind.probe_module().lift_suspension(ctx, target))


async def run_probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    """Run the probe for `target.kind`."""
    return await kind_of(target).probe(target, ctx)
