"""The `tcp` probe: resolve, connect, and optionally complete a TLS handshake, each
boundary stamped at the socket (`open_timed`, as for the http probe)."""

from __future__ import annotations

import asyncio

from exporter.config import TcpTarget
from exporter.probes import ProbeContext
from exporter.probes.classify import classify_exception, describe_exception
from exporter.probes.tls import make_ssl_context
from exporter.probes.transport import ProbeRecorder, open_timed
from exporter.result import PhaseTimer, ProbeResult, Reason


async def probe(target: TcpTarget, ctx: ProbeContext) -> ProbeResult:
    started = ctx.clock.now()
    use_tls = target.tls is not None and target.tls.enabled
    timer = PhaseTimer(now=ctx.clock.monotonic, tls=use_tls)
    rec = ProbeRecorder(timer)
    reason: Reason | None = None
    detail = ""
    stream = None
    try:
        async with asyncio.timeout(target.timeout):
            tls = target.tls if use_tls else None
            stream = await open_timed(
                rec,
                target.host,
                target.port,
                ssl_context=None if tls is None else make_ssl_context(tls),
                server_hostname=None if tls is None else (tls.server_name or target.host),
            )
            if rec.cert_not_after is not None and rec.cert_not_after < started:
                reason, detail = Reason.CERT_EXPIRED, "the server's certificate has expired"
    except (TimeoutError, OSError) as exc:
        reason = classify_exception(exc, pending_phase=timer.pending)
        detail = f"{timer.pending}: {describe_exception(exc)}"
    finally:
        if stream is not None:
            await stream.aclose()
    return ProbeResult.measured(
        target.name,
        timer,
        started_at=started,
        reason=reason,
        detail=detail,
        cert_not_after=rec.cert_not_after,
    )
