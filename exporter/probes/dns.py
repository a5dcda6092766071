"""The `dns` probe: resolve a name through the vantage's resolver or a named server.

Without `server` the name goes through the system resolver (`getaddrinfo`: /etc/hosts,
nsswitch, resolv.conf), the same path every other probe resolves by. With `server` the probe
asks that resolver directly (dnspython, UDP with a TCP retry when the answer is truncated,
or TCP only), so a site's own resolver and a public one are told apart: one target per
server. Whatever goes wrong in the exchange (no answer in time, SERVFAIL, REFUSED, NXDOMAIN,
no address records, a connection refused or cut) is `dns_error`, with the server and the
outcome in `detail`; an answer without any expected address is `content_mismatch`.

The exchange with a named server gives up a little before the target's timeout
(`query_lifetime()`), so a silent resolver is reported as `dns_error` by this probe, never as
the scheduler's `timeout`: the alert rules read `dns_error` of a site's resolver as that
site's fault.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from exporter.config import DnsServer, DnsTarget
from exporter.probes import ProbeContext
from exporter.probes.resolver import resolve
from exporter.result import PhaseTimer, ProbeResult, Reason

_FAMILIES = {"any": socket.AF_UNSPEC, "ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
_RDTYPES = {
    "any": (dns.rdatatype.A, dns.rdatatype.AAAA),
    "ipv4": (dns.rdatatype.A,),
    "ipv6": (dns.rdatatype.AAAA,),
}
# A lost datagram must not fail the probe while time is left, so an unanswered UDP query is
# sent again after this long, as stub resolvers do.
UDP_TRY_SECONDS = 2.0
# The EDNS buffer size of DNS Flag Day 2020: fits one unfragmented packet on any path.
EDNS_PAYLOAD = 1232
# Failure ranks, for the one failure a family=any probe reports: trouble with the server
# says more than NXDOMAIN, which says more than an empty answer for one record type.
_NO_RECORDS, _NXDOMAIN, _SERVER_TROUBLE = 1, 2, 3


def query_lifetime(timeout: float) -> float:
    """Time a named server gets to answer: the target's timeout less 20 %, at most 1 s."""
    return timeout - min(1.0, timeout * 0.2)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one query (one record type) to a named server came to."""

    addresses: tuple[str, ...] = ()
    error: str = ""
    rank: int = 0


async def probe(target: DnsTarget, ctx: ProbeContext) -> ProbeResult:
    started = ctx.clock.now()
    timer = PhaseTimer(now=ctx.clock.monotonic)
    reason: Reason | None = None
    detail = ""
    try:
        async with asyncio.timeout(target.timeout):
            if target.server is None:
                got = await _system_addresses(target)
            else:
                got, reason, detail = await _server_addresses(target, target.server)
        # The query is the whole probe: the address check below is not network time.
        timer.finish()
        if reason is None and target.expect_addresses and not got & set(target.expect_addresses):
            reason = Reason.CONTENT_MISMATCH
            via = f" by server {target.server}" if target.server else ""
            detail = (
                f"{target.host} resolved{via} to {', '.join(sorted(got))}, expected one of "
                f"{', '.join(target.expect_addresses)}"
            )
    except TimeoutError:
        reason, detail = Reason.DNS_ERROR, f"resolve: no answer for {target.host} in time"
    except OSError as exc:
        reason, detail = Reason.DNS_ERROR, f"resolve: {target.host}: {exc.strerror or exc}"
    return ProbeResult.measured(
        target.name, timer, started_at=started, reason=reason, detail=detail
    )


async def _system_addresses(target: DnsTarget) -> set[str]:
    """Addresses from the system resolver; raises OSError (socket.gaierror) on failure."""
    addresses = await resolve(target.host, 0, family=_FAMILIES[target.family])
    return {str(ipaddress.ip_address(a.split("%")[0])) for a in addresses}


async def _server_addresses(
    target: DnsTarget, server: DnsServer
) -> tuple[set[str], Reason | None, str]:
    """Ask `server` for each record type of the target's family, at once.

    Passes when any query yields an address (as getaddrinfo does for `any`); otherwise the
    highest-ranked failure is reported.
    """
    lifetime = query_lifetime(target.timeout)
    try:
        qname = dns.name.from_text(target.host)
    except dns.exception.DNSException as exc:
        return set(), Reason.DNS_ERROR, f"{target.host}: not a DNS name: {exc}"
    async with asyncio.TaskGroup() as tg:
        tasks = [
            tg.create_task(
                _ask(qname, rdtype, server=server, tcp=target.transport == "tcp", lifetime=lifetime)
            )
            for rdtype in _RDTYPES[target.family]
        ]
    outcomes = [t.result() for t in tasks]
    got = {a for o in outcomes for a in o.addresses}
    if got:
        return got, None, ""
    worst = max(outcomes, key=lambda o: o.rank)
    if worst.rank == _NO_RECORDS:
        types = " or ".join(dns.rdatatype.to_text(r) for r in _RDTYPES[target.family])
        error = f"no {types} records for {target.host}"
    else:
        error = worst.error
    return got, Reason.DNS_ERROR, f"server {server}: {error}"


async def _ask(
    qname: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
    *,
    server: DnsServer,
    tcp: bool,
    lifetime: float,
) -> _Outcome:
    """One query to `server`, retried over UDP until `lifetime`; never raises for the server."""
    what = f"{qname.to_text(omit_final_dot=True)} {dns.rdatatype.to_text(rdtype)}"
    query = dns.message.make_query(qname, rdtype, use_edns=0, payload=EDNS_PAYLOAD)
    used: list[str] = []
    try:
        response = await _exchange(query, server=server, tcp=tcp, lifetime=lifetime, used=used)
    except (dns.exception.Timeout, TimeoutError):
        over = " then ".join(used)
        return _Outcome(
            error=f"no answer within {lifetime:g}s for {what} ({over})", rank=_SERVER_TROUBLE
        )
    except EOFError:
        return _Outcome(
            error=f"connection closed before an answer for {what}", rank=_SERVER_TROUBLE
        )
    except OSError as exc:
        # asyncio words a refused connect as "Connect call failed (...)"; the errno is plainer.
        text = os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__
        return _Outcome(error=f"{text} for {what}", rank=_SERVER_TROUBLE)
    except dns.exception.DNSException as exc:
        # A malformed or mismatched reply over TCP (UDP ones are ignored, see _exchange).
        return _Outcome(error=f"bad reply for {what}: {exc}", rank=_SERVER_TROUBLE)
    rcode = response.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        return _Outcome(error=f"NXDOMAIN for {what}", rank=_NXDOMAIN)
    if rcode != dns.rcode.NOERROR:
        return _Outcome(error=f"{dns.rcode.to_text(rcode)} for {what}", rank=_SERVER_TROUBLE)
    try:
        answer = (
            response.resolve_chaining().answer
            if isinstance(response, dns.message.QueryMessage)
            else None
        )
    except dns.exception.DNSException as exc:  # a CNAME chain too long, or a loop
        return _Outcome(error=f"bad answer for {what}: {exc}", rank=_SERVER_TROUBLE)
    addresses = tuple(str(ipaddress.ip_address(rr.to_text())) for rr in answer or ())
    if not addresses:
        return _Outcome(error=f"no records for {what}", rank=_NO_RECORDS)
    return _Outcome(addresses=addresses)


async def _exchange(
    query: dns.message.Message,
    *,
    server: DnsServer,
    tcp: bool,
    lifetime: float,
    used: list[str],
) -> dns.message.Message:
    """The response to `query`; appends each transport tried to `used`.

    Raises dns.exception.Timeout when `lifetime` runs out, OSError or EOFError when a TCP
    connection is refused or cut, dns.exception.DNSException for a bad TCP reply.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + lifetime
    if tcp:
        used.append("tcp")
        return await dns.asyncquery.tcp(query, server.address, timeout=lifetime, port=server.port)
    used.append("udp")
    while True:
        try:
            return await dns.asyncquery.udp(
                query,
                server.address,
                timeout=min(UDP_TRY_SECONDS, deadline - loop.time()),
                port=server.port,
                # A forged or garbled datagram must not end the wait for the real answer
                # (CVE-2023-29483); replies from other addresses are dropped likewise.
                ignore_unexpected=True,
                ignore_errors=True,
                raise_on_truncation=True,
            )
        except dns.message.Truncated:
            # The answer does not fit a datagram: ask again over TCP, as resolvers do.
            used.append("tcp after a truncated answer")
            return await dns.asyncquery.tcp(
                query, server.address, timeout=deadline - loop.time(), port=server.port
            )
        except dns.exception.Timeout:
            if deadline - loop.time() <= 0:
                raise
