"""Probes: one module per target kind, all with the signature `probe(target, ctx)`.

`exporter.kinds.KINDS` pairs each kind with its probe module. A probe returns a
`ProbeResult` and never raises for a target failure. `run_safely()` is the one way to run
a probe outside tests, for the scheduler and for `parichay-exporter probe` alike: it
refuses a target whose logins are paused (`exporter.account`), and adds a hard deadline
and a net for bugs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from exporter.account import Accounts, Suspension
from exporter.config import Target
from exporter.kinds import kind_of
from exporter.result import PHASES, ProbeResult, Reason
from servicekit.clock import Clock, SystemClock

log = logging.getLogger("exporter.probes")

# Grace beyond the target's own timeout before a probe is given up: probes enforce their
# timeout themselves; this only catches bugs.
_HARD_DEADLINE_GRACE = 5.0


@dataclass(slots=True, kw_only=True)
class ProbeContext:
    """What a probe may use besides its target: the clock, the account state of login
    targets (their pause, used OTPs, kept cookies), and test seams."""

    clock: Clock = field(default_factory=SystemClock)
    # Unit tests inject e.g. httpx.MockTransport; None means real sockets.
    transport: httpx.AsyncBaseTransport | None = None
    accounts: Accounts = field(init=False)

    def __post_init__(self) -> None:
        self.accounts = Accounts(self.clock)


async def run_probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    """Run the probe for `target.kind` (no safety net: see `run_safely`)."""
    return await kind_of(target).probe(target, ctx)


Runner = Callable[[Target, ProbeContext], Awaitable[ProbeResult]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What `run_safely` did: `result` is None when it refused (`refused`) or the probe
    crashed; `pause` is the target's pause after the run (or the one that refused it)."""

    result: ProbeResult | None
    pause: Suspension | None
    refused: bool = False


async def run_safely(
    target: Target, ctx: ProbeContext, *, runner: Runner | None = None, force: bool = False
) -> Outcome:
    """Run `target`'s probe unless its logins are paused (`force` runs it anyway: only
    `probe --ignore-suspension`), under a hard deadline, with bugs logged, not raised."""
    accounts = ctx.accounts
    await accounts.load(target)  # once per target; file and scrypt in a thread
    await accounts.expire(target)  # a pause that ran out is dropped (and saved) once
    pause = accounts.pause(target)
    if pause is not None and not force:
        return Outcome(result=None, pause=pause, refused=True)
    result = await _guarded(target, ctx, runner or run_probe)
    return Outcome(result=result, pause=accounts.pause(target))


async def _guarded(target: Target, ctx: ProbeContext, runner: Runner) -> ProbeResult | None:
    started = ctx.clock.now()
    try:
        deadline = target.timeout + target.extra_deadline + _HARD_DEADLINE_GRACE
        async with asyncio.timeout(deadline):
            return await runner(target, ctx)
    except TimeoutError:
        log.error("probe %s overran its deadline; recorded as timeout", target.name)
        return ProbeResult(
            target=target.name,
            success=False,
            reason=Reason.TIMEOUT,
            duration=target.timeout + _HARD_DEADLINE_GRACE,
            started_at=started,
            phases=dict.fromkeys(PHASES, 0.0),
            detail="the probe did not finish by its deadline",
        )
    except Exception:
        # A bug, not a target failure: log it and leave the last result to go stale, so
        # ProbesStale tells the operators the monitor itself is broken.
        log.exception("probe %s crashed (a bug in the exporter)", target.name)
        return None
