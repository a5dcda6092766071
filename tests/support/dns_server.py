"""A small authoritative DNS server on loopback (UDP and TCP, one port) for tests.

It answers A, AAAA and CNAME records it is given, and can be told to misbehave the ways
a real resolver does: SERVFAIL, NXDOMAIN, REFUSED, a truncated UDP answer (TC bit, the full
answer over TCP), or silence. Every query it sees is recorded with its transport, so a test
can check that a truncated answer was retried over TCP. Example::

    async with LoopbackDnsServer() as dns_server:
        dns_server.add("parichay.nic.in", "203.0.113.10", "2001:db8::10")
        dns_server.behaviour = Behaviour.SERVFAIL
        # a dns target with  server: "127.0.0.1:<port>"  now gets SERVFAIL
        yaml_target = f"{{name: r, role: control, kind: dns, host: parichay.nic.in, "
                      f"server: '{dns_server.where}'}}"

Names are matched case-insensitively, with or without the final dot. A name with no records
of the asked type but some of another is NOERROR with an empty answer (NODATA); an unknown
name is NXDOMAIN.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from tests.support.net import LoopbackService

TTL = 60


class Behaviour(StrEnum):
    ANSWER = "answer"  # from the records given
    SERVFAIL = "servfail"
    NXDOMAIN = "nxdomain"  # for every name, known or not
    REFUSED = "refused"
    TRUNCATE = "truncate"  # UDP: empty answer with TC set; TCP: the full answer
    SILENT = "silent"  # UDP: no reply; TCP: accepts, reads, never replies


@dataclass(frozen=True, slots=True)
class SeenQuery:
    name: str  # without the final dot, lower case
    rdtype: str  # "A", "AAAA", ...
    transport: str  # "udp" | "tcp"


class LoopbackDnsServer(LoopbackService):
    """UDP and TCP on one free port of `host` (127.0.0.1 unless told otherwise)."""

    def __init__(self, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.behaviour = Behaviour.ANSWER
        # Drop this many UDP queries before answering (a lost datagram); counts down.
        self.drop_udp = 0
        # Precede this many UDP answers with a forged one (wrong query id, address
        # 192.0.2.66), as an off-path attacker would; counts down.
        self.forge_udp = 0
        self.queries: list[SeenQuery] = []
        self._records: dict[tuple[dns.name.Name, dns.rdatatype.RdataType], list[str]] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def where(self) -> str:
        """The `server:` value for a dns target: `127.0.0.1:PORT` or `[::1]:PORT`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def add(self, name: str, *addresses: str) -> None:
        """Add A / AAAA records (by address family) for `name`."""
        for address in addresses:
            ip = ipaddress.ip_address(address)
            rdtype = dns.rdatatype.A if ip.version == 4 else dns.rdatatype.AAAA
            self._records.setdefault((_name(name), rdtype), []).append(str(ip))

    def add_cname(self, alias: str, canonical: str) -> None:
        """Make `alias` a CNAME of `canonical` (answered together with its addresses)."""
        self._records[(_name(alias), dns.rdatatype.CNAME)] = [_name(canonical).to_text()]

    def clear(self) -> None:
        """Forget every record and every query seen."""
        self._records.clear()
        self.queries.clear()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # The TCP port must equal the UDP one; another process may hold it, so retry.
        for _ in range(20):
            udp, _protocol = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(self.host, 0)
            )
            port = int(udp.get_extra_info("sockname")[1])
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port)
            except OSError:
                udp.close()
                continue
            self._udp, self.port = udp, port
            return
        raise RuntimeError("no free port for both UDP and TCP on " + self.host)

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            for writer in list(self._writers):
                writer.close()
            await self._tcp.wait_closed()

    # ----------------------------------------------------------------- answering

    def reply(self, wire: bytes, *, transport: str) -> bytes | None:
        """The answer to one query message, or None to stay silent."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        question = query.question[0]
        self.queries.append(
            SeenQuery(
                name=question.name.to_text(omit_final_dot=True).lower(),
                rdtype=dns.rdatatype.to_text(question.rdtype),
                transport=transport,
            )
        )
        if self.behaviour is Behaviour.SILENT:
            return None
        if transport == "udp" and self.drop_udp > 0:
            self.drop_udp -= 1
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if self.behaviour is Behaviour.SERVFAIL:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif self.behaviour is Behaviour.REFUSED:
            response.set_rcode(dns.rcode.REFUSED)
        elif self.behaviour is Behaviour.NXDOMAIN:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif self.behaviour is Behaviour.TRUNCATE and transport == "udp":
            response.flags |= dns.flags.TC
        else:
            self._answer(response, question.name, question.rdtype)
        return response.to_wire()

    def _answer(
        self, response: dns.message.Message, name: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> None:
        known = {n for n, _ in self._records}
        for _ in range(8):  # follow CNAMEs, as a recursive resolver would
            alias = self._records.get((name.canonicalize(), dns.rdatatype.CNAME))
            if alias is None or rdtype == dns.rdatatype.CNAME:
                break
            response.answer.append(
                dns.rrset.from_text_list(name, TTL, dns.rdataclass.IN, dns.rdatatype.CNAME, alias)
            )
            name = dns.name.from_text(alias[0])
        values = self._records.get((name.canonicalize(), rdtype))
        if values:
            response.answer.append(
                dns.rrset.from_text_list(name, TTL, dns.rdataclass.IN, rdtype, values)
            )
        elif name.canonicalize() not in known:
            response.set_rcode(dns.rcode.NXDOMAIN)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                wire = await reader.readexactly(length)
                answer = self.reply(wire, transport="tcp")
                if answer is None:
                    continue  # silent: keep the connection open, never answer
                writer.write(struct.pack("!H", len(answer)) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: LoopbackDnsServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's selector datagram transport does not subclass DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        answer = self._server.reply(data, transport="udp")
        if answer is None or self._transport is None:
            return
        if self._server.forge_udp > 0:
            self._server.forge_udp -= 1
            self._transport.sendto(_forged(answer), addr)
        self._transport.sendto(answer, addr)


def _forged(answer: bytes) -> bytes:
    """`answer` with another query id and every address replaced by 192.0.2.66."""
    message = dns.message.from_wire(answer)
    message.id = (message.id + 1) % 65536
    message.answer = [
        dns.rrset.from_text_list(rrset.name, TTL, dns.rdataclass.IN, rrset.rdtype, ["192.0.2.66"])
        if rrset.rdtype == dns.rdatatype.A
        else rrset
        for rrset in message.answer
    ]
    return message.to_wire()


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text).canonicalize()
