"""Network plumbing shared by the probes: timed DNS, timed connections, TLS.

Phase boundaries are stamped where the event happens, not when our task resumes after an
await (that would add the event loop's own latency, milliseconds under load):

- *resolve*: an IP literal is used as is (no getaddrinfo, no thread hop); a name goes
  through the system resolver, a blocking call that asyncio runs in a thread.
- *connect*: a non-blocking `connect()`; stamped at once when loopback connects
  synchronously, else in the writer callback the loop runs when the kernel reports it done.
- *tls*: when `loop.start_tls()` completes the handshake.
- *processing* ends at the first response byte and *transfer* at the last: stamped in the
  protocol's `data_received()`, run in the loop iteration the socket became readable.
  The HTTP client's parser events (later, after h11 parsed the bytes) only say *which*
  stamp closes the phase.

Every connection a probe opens comes from `open_timed()`; the HTTP client on top of it is
`exporter/probes/client.py`.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import ipaddress
import os
import socket
import ssl
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from exporter.config import TLSConfig
from exporter.result import PhaseTimer


class DNSTimeoutError(OSError):
    """The resolver did not answer in time."""


@functools.lru_cache(maxsize=4096)
def ip_literal(host: str) -> bool:
    """True for '127.0.0.1', '::1' and the like: nothing to resolve."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def resolve(host: str, port: int, *, family: int = socket.AF_UNSPEC) -> list[str]:
    """Resolve `host` to unique addresses in resolver order; raises socket.gaierror.

    An IP literal comes back as is, with no resolver round trip (and no thread hop)."""
    if ip_literal(host):
        return [host.strip("[]")]
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for info in infos:
        seen.setdefault(str(info[4][0]), None)
    return list(seen)


def cert_not_after(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> float | None:
    """Leaf certificate expiry (epoch seconds), also when verification was skipped."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    try:
        return der_not_after(der)
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def _der(data: bytes, pos: int) -> tuple[int, int, int]:
    """The DER element at `pos`: (tag, where its content starts, where it ends)."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


@functools.lru_cache(maxsize=1024)  # targets present the same certificate probe after probe
def der_not_after(der: bytes) -> float:
    """`notAfter` of a DER certificate (RFC 5280 4.1), in epoch seconds.

    Read by hand: the `cryptography` package would add 6 MiB to the running exporter for
    this one field."""
    _, tbs, _ = _der(der, 0)  # Certificate ::= SEQUENCE { tbsCertificate, ... }
    _, pos, _ = _der(der, tbs)  # into tbsCertificate
    tag, _, end = _der(der, pos)
    if tag == 0xA0:  # [0] EXPLICIT version
        pos = end
    for _ in range(3):  # serialNumber, signature, issuer
        _, _, pos = _der(der, pos)
    _, validity, _ = _der(der, pos)  # Validity ::= SEQUENCE { notBefore, notAfter }
    _, _, pos = _der(der, validity)
    tag, start, end = _der(der, pos)
    text = der[start:end].decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ: 50-99 are 1950-1999
        year, rest = int(text[:2]), text[2:]
        year += 1900 if year >= 50 else 2000
    elif tag == 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        year, rest = int(text[:4]), text[4:]
    else:
        raise ValueError(f"not a time (tag {tag:#x})")
    if len(rest) != 11 or rest[-1] != "Z":
        raise ValueError(f"unexpected time format {text!r}")
    month, day, hour, minute, second = (int(rest[i : i + 2]) for i in range(0, 10, 2))
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def make_ssl_context(tls: TLSConfig | None) -> ssl.SSLContext:
    """A verifying context (or an explicitly insecure one), shared between probes.

    Loading a CA bundle costs tens of milliseconds of CPU, so contexts are cached; the CA
    file's modification time is part of the key, so a rotated CA takes effect at once.
    """
    tls = tls or TLSConfig()
    mtime = 0.0
    if tls.ca_file:
        try:
            mtime = os.stat(tls.ca_file).st_mtime
        except OSError:
            mtime = -1.0
    return _ssl_context(tls.ca_file, mtime, tls.insecure_skip_verify)


@functools.lru_cache(maxsize=64)
def _ssl_context(ca_file: str | None, mtime: float, insecure: bool) -> ssl.SSLContext:
    if insecure:
        # No trust store at all: OpenSSL still walks the chain against a loaded store when
        # told not to verify (to report the result), which costs a third of the handshake's
        # CPU (0.24 of 0.76 ms with the system CAs, measured). Same protocol defaults.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=ca_file)


class ProbeRecorder:
    """Collects what the transport sees during one probe run.

    `restart_on_connect`: start the probe's clock when the first connection begins (name
    resolution included), so building the request in Python is not charged to the target.
    """

    def __init__(self, timer: PhaseTimer, *, restart_on_connect: bool = False) -> None:
        self.timer = timer
        self.restart_on_connect = restart_on_connect
        self.cert_not_after: float | None = None
        self.connected_to: str | None = None
        # The connection of the request in flight (a redirect opens a new one).
        self.stream: TimedStream | None = None
        # Time stamp of the last byte of the latest complete response, None while a response
        # is being read (or when the body was not read to its end).
        self.done_at: float | None = None
        self._connects = 0

    def first_byte(self) -> None:
        """Response headers parsed: `processing` ends at the first byte's arrival."""
        proto = self.stream.proto if self.stream is not None else None
        at = proto.first_at if proto is not None else None
        self.timer.mark_at("processing", self.timer.now() if at is None else at)
        self.done_at = None

    def last_byte(self) -> None:
        """Response body complete: `transfer` ends at the last byte's arrival."""
        proto = self.stream.proto if self.stream is not None else None
        at = proto.last_at if proto is not None else None
        at = self.timer.now() if at is None else at
        self.timer.mark_at("transfer", at)
        self.done_at = at


class _Protocol(asyncio.Protocol):
    """Buffers what arrives and stamps the arrival of the first and last byte."""

    def __init__(self, now: Callable[[], float], *, first_write: bytes | None = None) -> None:
        self._now = now
        # Sent the moment the connection is usable (see connection_made).
        self._first_write = first_write
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.transport: asyncio.Transport | None = None
        # When the connection became usable (over TLS: the handshake's completion).
        self.made_at: float | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._paused_reading = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made_at = self._now()
        self.transport = typing.cast(asyncio.Transport, transport)
        if self._first_write:
            # The request goes out in the callback that completes the handshake, not after
            # our task resumes (on a busy loop that wait would count as the server's time).
            self.transport.write(self._first_write)
            self._first_write = None

    def data_received(self, data: bytes) -> None:
        t = self._now()
        if self.first_at is None:
            self.first_at = t
        self.last_at = t
        self.buffer += data
        if len(self.buffer) > _READ_HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self._paused_reading = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self._drain = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait_readable(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def take(self, max_bytes: int) -> bytes:
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self._paused_reading and len(self.buffer) < _READ_HIGH_WATER // 2:
            assert self.transport is not None
            self.transport.resume_reading()
            self._paused_reading = False
        return data


_READ_HIGH_WATER = 256 * 1024


class TimedStream:
    """One timed connection: the asyncio transport and the protocol that stamps arrivals."""

    def __init__(self, transport: asyncio.Transport, proto: _Protocol) -> None:
        self.transport = transport
        self.proto = proto

    @property
    def idle(self) -> bool:
        """Open, with nothing unread and no EOF waiting: it can carry another request."""
        p = self.proto
        return not p.buffer and not p.eof and not self.transport.is_closing()

    def write(self, data: bytes) -> None:
        """Send a new request: its answer's first byte is the next to arrive."""
        self.proto.first_at = self.proto.last_at = None
        self.transport.write(data)

    async def drain(self) -> None:
        """Wait while the kernel's send buffer is full (never, for a probe's request)."""
        if self.proto._drain is not None:
            await self.proto._drain

    async def aclose(self) -> None:
        if self.transport.get_extra_info("ssl_object") is not None:
            # asyncio's graceful TLS close waits up to 30 s for the server's close_notify,
            # holding a 256 KiB buffer per connection meanwhile (tens of MiB at 100 probes/s).
            # The response is complete; like blackbox, we do not wait for the peer.
            self.transport.abort()
        else:
            self.transport.close()


async def _connect(
    sock: socket.socket, address: tuple[Any, ...], now: Callable[[], float]
) -> float:
    """Non-blocking connect; returns the time the kernel reported it done."""
    err = sock.connect_ex(address)
    if err == 0:
        return now()
    if err not in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
        raise OSError(err, os.strerror(err))
    # Linux answers EINPROGRESS even when the handshake completed inside the call (loopback,
    # a peer on the same host): then the socket already has a peer and that moment is the
    # connect time, not the loop iteration that would report it writable.
    try:
        sock.getpeername()
    except OSError:
        pass
    else:
        return now()
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[tuple[float, int]] = loop.create_future()
    fd = sock.fileno()

    def writable() -> None:
        # Stamped here, in the callback the selector's answer triggers directly.
        t = now()
        loop.remove_writer(fd)
        if not fut.done():
            fut.set_result((t, sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)))

    loop.add_writer(fd, writable)
    try:
        t, err = await fut
    finally:
        loop.remove_writer(fd)
    if err:
        raise OSError(err, os.strerror(err))
    return t


def _same(proto: _Protocol) -> _Protocol:
    return proto


async def open_timed(
    rec: ProbeRecorder,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    timeout: float | None = None,
    local_address: str | None = None,
    socket_options: typing.Iterable[Any] = (),
    first_write: bytes | None = None,
) -> TimedStream:
    """Resolve, connect and (with `ssl_context`) shake hands, stamping each boundary;
    `first_write` (a request) is sent as soon as the connection is usable.

    Raises what went wrong as is: `socket.gaierror` or `DNSTimeoutError` (name),
    `OSError` (connect), `ssl.SSLError` (handshake), `TimeoutError` (connect or handshake
    beyond `timeout`; None leaves the deadline to the caller).
    """
    timer = rec.timer
    if rec.restart_on_connect and rec._connects == 0:
        timer.restart()
    rec._connects += 1
    try:
        async with asyncio.timeout(timeout):
            addresses = await resolve(host, port)
    except TimeoutError as exc:
        raise DNSTimeoutError(f"DNS lookup of {host} timed out") from exc
    timer.mark("resolve")
    loop = asyncio.get_running_loop()
    last: OSError | None = None
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for opt in socket_options:
                sock.setsockopt(*opt)
            if local_address:
                sock.bind((local_address, 0))
            async with asyncio.timeout(timeout):
                connected_at = await _connect(sock, (address, port), timer.now)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        except BaseException:
            sock.close()
            raise
        timer.mark_at("connect", connected_at)
        rec.connected_to = address
        proto = _Protocol(timer.now, first_write=first_write)
        if ssl_context is None:
            transport, _ = await loop.create_connection(functools.partial(_same, proto), sock=sock)
        else:
            # The handshake runs in the loop's TLS layer, which calls connection_made() the
            # moment it completes: that call stamps `tls` (see _Protocol.made_at).
            timer.expect_tls(True)
            async with asyncio.timeout(timeout):
                transport, _ = await loop.create_connection(
                    functools.partial(_same, proto),
                    sock=sock,
                    ssl=ssl_context,
                    server_hostname=server_hostname or host,
                )
            timer.mark_at("tls", proto.made_at if proto.made_at is not None else timer.now())
            rec.cert_not_after = cert_not_after(transport.get_extra_info("ssl_object"))
        stream = TimedStream(transport, proto)
        rec.stream = stream
        return stream
    assert last is not None
    raise last
