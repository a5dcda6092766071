"""Probes: one module per target kind, all with the signature `probe(target, ctx)`.

`PROBES` maps a kind to its probe function; the config's `TARGET_KINDS` must list exactly
the same kinds (a test pins it). A probe returns a `ProbeResult` and never raises for a
target failure; `run_probe()` adds the safety net for bugs and a hard deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from exporter.config import Target
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


ProbeFn = Callable[[Any, ProbeContext], Awaitable[ProbeResult]]


def _registry() -> dict[str, ProbeFn]:
    from exporter.probes import dns, http, login, tcp

    return {"http": http.probe, "tcp": tcp.probe, "dns": dns.probe, "login": login.probe}


def pause_of(target: Target, ctx: ProbeContext) -> Suspension | None:
    """Why and until when `target` must not be probed (a suspended login), or None."""
    if target.kind != "login":
        return None
    from exporter.probes import login

    return login.suspension(ctx, target)


def paused_until(target: Target, ctx: ProbeContext) -> float | None:
    """Wall time until which `target` must not be probed (a suspended login), or None."""
    pause = pause_of(target, ctx)
    return None if pause is None else pause.until


def recheck_pause(target: Target, ctx: ProbeContext) -> bool:
    """After a reload: lift a pause only if the target's credentials changed."""
    if target.kind != "login":
        return False
    from exporter.probes import login

    return login.recheck_credentials(ctx, target)


def resume(target: Target, ctx: ProbeContext) -> bool:
    """An operator's explicit resume; True if a pause was lifted."""
    if target.kind != "login":
        return False
    from exporter.probes import login

    return login.lift_suspension(ctx, target)


PROBES: dict[str, ProbeFn] = {}


def probes() -> dict[str, ProbeFn]:
    if not PROBES:
        PROBES.update(_registry())
    return PROBES


def register_probe(kind: str, fn: ProbeFn) -> None:
    probes()[kind] = fn


async def run_probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    """Run the probe for `target.kind`."""
    fn = probes()[target.kind]
    return await fn(target, ctx)
