"""The `dns` probe: resolve a name through the vantage's resolver, optionally expect an address.

A `dns` control target answers "can this site resolve names at all?"; with
`expect.addresses` it also catches a resolver serving a wrong (stale or hijacked) answer,
reported as `content_mismatch`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from exporter.config import DnsTarget
from exporter.probes import ProbeContext
from exporter.probes.net import resolve
from exporter.result import PhaseTimer, ProbeResult, Reason

_FAMILIES = {"any": socket.AF_UNSPEC, "ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}


async def probe(target: DnsTarget, ctx: ProbeContext) -> ProbeResult:
    started = ctx.clock.time()
    timer = PhaseTimer(now=ctx.clock.perf)
    reason: Reason | None = None
    detail = ""
    try:
        async with asyncio.timeout(target.timeout):
            addresses = await resolve(target.host, 0, family=_FAMILIES[target.family])
        timer.mark("resolve")
        got = {str(ipaddress.ip_address(a.split("%")[0])) for a in addresses}
        if target.expect_addresses and not got & set(target.expect_addresses):
            reason = Reason.CONTENT_MISMATCH
            detail = (
                f"{target.host} resolved to {', '.join(sorted(got))}, expected one of "
                f"{', '.join(target.expect_addresses)}"
            )
    except TimeoutError:
        reason, detail = Reason.DNS_ERROR, f"resolve: no answer for {target.host} in time"
    except OSError as exc:
        reason, detail = Reason.DNS_ERROR, f"resolve: {target.host}: {exc.strerror or exc}"
    return ProbeResult.measured(
        target.name, timer, started_at=started, reason=reason, detail=detail
    )
