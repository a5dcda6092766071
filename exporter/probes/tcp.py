"""The `tcp` probe: resolve, connect, and optionally complete a TLS handshake."""

from __future__ import annotations

import asyncio
import ssl

from exporter.config import TcpTarget
from exporter.probes import ProbeContext
from exporter.probes.classify import classify_exception, describe_exception
from exporter.probes.net import cert_not_after, make_ssl_context, resolve
from exporter.result import PhaseTimer, ProbeResult, Reason


async def probe(target: TcpTarget, ctx: ProbeContext) -> ProbeResult:
    started = ctx.clock.now()
    use_tls = target.tls is not None and target.tls.enabled
    timer = PhaseTimer(now=ctx.clock.monotonic, tls=use_tls)
    reason: Reason | None = None
    detail = ""
    not_after: float | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(target.timeout):
            addresses = await resolve(target.host, target.port)
            timer.mark("resolve")
            last: OSError | None = None
            for address in addresses:
                try:
                    _, writer = await asyncio.open_connection(address, target.port)
                    break
                except OSError as exc:
                    last = exc
            if writer is None:
                assert last is not None
                raise last
            timer.mark("connect")
            if use_tls and target.tls is not None:
                await writer.start_tls(
                    make_ssl_context(target.tls),
                    server_hostname=target.tls.server_name or target.host,
                )
                timer.mark("tls")
                ssl_obj = writer.get_extra_info("ssl_object")
                if isinstance(ssl_obj, ssl.SSLObject):
                    not_after = cert_not_after(ssl_obj)
                if not_after is not None and not_after < started:
                    reason, detail = Reason.CERT_EXPIRED, "the server's certificate has expired"
    except (TimeoutError, OSError) as exc:
        reason = classify_exception(exc, pending_phase=timer.pending)
        detail = f"{timer.pending}: {describe_exception(exc)}"
    finally:
        if writer is not None:
            writer.close()
            try:
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            except (OSError, TimeoutError, ssl.SSLError):
                pass
    return ProbeResult.measured(
        target.name, timer, started_at=started, reason=reason, detail=detail,
        cert_not_after=not_after,
    )
