"""The timed transport: connections whose every phase boundary is stamped at the socket.

`open_timed()` resolves (`exporter/probes/resolver.py`), connects and, with an SSL context
(`exporter/probes/tls.py`), shakes hands; it returns a `TimedStream`, whose
`TimedProtocol` stamps the arrival of the first and last byte of each answer.
`ProbeRecorder` collects what one probe run's connections saw (phase marks, the server's
certificate expiry, the address connected to). The tcp probe uses `open_timed()` alone; the
HTTP client (`exporter/probes/client.py`) speaks HTTP/1.1 over it.

Phase boundaries are stamped where the event happens, not when our task resumes after an
await (that would add the event loop's own latency, milliseconds under load):

- *resolve*: when the resolver answers (at once for an IP literal).
- *connect*: a non-blocking `connect()`; stamped at once when loopback connects
  synchronously, else in the writer callback the loop runs when the kernel reports it done.
- *tls*: in `connection_made()`, which the loop's TLS layer calls the moment the handshake
  completes; the request (`first_write`) is written in that same callback.
- *processing* ends at the first response byte and *transfer* at the last: stamped in the
  protocol's `data_received()`, run in the loop iteration the socket became readable. The
  HTTP client's parser events (later, after h11 parsed the bytes) only say *which* stamp
  closes the phase.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import os
import socket
import ssl
import typing
from collections.abc import Callable
from typing import Any

from exporter.probes.resolver import resolve
from exporter.probes.tls import cert_not_after
from exporter.result import PhaseTimer


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
        # The connection of the request in flight (the HTTP client sets it per request).
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


class TimedProtocol(asyncio.Protocol):
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
        self.drain_waiter: asyncio.Future[None] | None = None
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
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)

    def pause_writing(self) -> None:
        self.drain_waiter = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)
        self.drain_waiter = None

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

    def __init__(self, transport: asyncio.Transport, proto: TimedProtocol) -> None:
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
        if self.proto.drain_waiter is not None:
            await self.proto.drain_waiter

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


def _same(proto: TimedProtocol) -> TimedProtocol:
    return proto


async def open_timed(
    rec: ProbeRecorder,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    first_write: bytes | None = None,
) -> TimedStream:
    """Resolve, connect and (with `ssl_context`) shake hands, stamping each boundary;
    `first_write` (a request) is sent as soon as the connection is usable.

    Raises what went wrong as is: `socket.gaierror` (name), `OSError` (connect),
    `ssl.SSLError` (handshake). The deadline is the caller's (`asyncio.timeout` around the
    probe): its pending phase then says which step hung.
    """
    timer = rec.timer
    if rec.restart_on_connect and rec._connects == 0:
        timer.restart()
    rec._connects += 1
    addresses = await resolve(host, port)
    timer.mark("resolve")
    loop = asyncio.get_running_loop()
    last: OSError | None = None
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
        proto = TimedProtocol(timer.now, first_write=first_write)
        if ssl_context is None:
            transport, _ = await loop.create_connection(functools.partial(_same, proto), sock=sock)
        else:
            # The handshake runs in the loop's TLS layer, which calls connection_made() the
            # moment it completes: that call stamps `tls` (see TimedProtocol.made_at).
            timer.expect_tls(True)
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
