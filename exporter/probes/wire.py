"""The http probe's HTTP/1.1 client: h11 over `open_timed` connections, nothing else.

Why not httpx here: the probe sends one request (plus the redirects its target allows) on
a fresh connection, with no cookies, auth flows or pooling. httpx's client and httpcore's
pool wrap that in models, locks and async trace callbacks that cost more CPU than the
probe's own socket work: about 1 ms per probe in `bench/profile_scheduler.py`, where the
socket work is 0.25 ms. h11, the HTTP/1.1 state machine httpcore itself uses, does the
parsing; `open_timed` stamps the phases at the socket. The login probe, which needs a
cookie jar between its steps, keeps an httpx client over the same connections.

Failures come out as the exceptions `classify_exception` reads: `httpx.ConnectError` for a
refused or unreachable address, `httpx.RemoteProtocolError` for a malformed or cut-off
answer, `httpx.ReadError` for a reset, and the resolver's, ssl's and TimeoutError as is.
"""

from __future__ import annotations

import codecs
import re
import socket
import ssl
import zlib
from dataclasses import dataclass

import h11
import httpx

from exporter.probes.net import DNSTimeoutError, ProbeRecorder, _TimedStream, open_timed

# Read at most this much from the connection's buffer per h11 step.
_CHUNK = 65536
_CHARSET = re.compile(rb"charset\s*=\s*\"?([A-Za-z0-9_.:-]+)", re.IGNORECASE)


@dataclass(slots=True)
class Answer:
    """A response as the http probe's checks need it."""

    status: int
    headers: list[tuple[bytes, bytes]]  # names lower-cased (h11 does that)
    url: httpx.URL
    body: bytes  # decoded (Content-Encoding undone), at most the probe's limit
    complete: bool  # the whole body was read

    def header(self, name: str) -> str | None:
        want = name.lower().encode()
        for k, v in self.headers:
            if k == want:
                return v.decode("latin-1")
        return None

    @property
    def is_redirect(self) -> bool:
        return self.status in (301, 302, 303, 307, 308) and self.header("location") is not None

    @property
    def encoding(self) -> str:
        """The charset the Content-Type names if Python knows it, else UTF-8."""
        ctype = self.header("content-type")
        if ctype:
            m = _CHARSET.search(ctype.encode("latin-1"))
            if m:
                try:
                    return codecs.lookup(m.group(1).decode("ascii")).name
                except LookupError:
                    pass
        return "utf-8"

    def text(self) -> str:
        return self.body.decode(self.encoding, errors="replace")


class _Decoder:
    """Undoes gzip or deflate (what the probe asks for), never beyond `limit` bytes."""

    def __init__(self, encoding: str | None, limit: int) -> None:
        self.limit = limit
        enc = (encoding or "").strip().lower()
        self._z: zlib._Decompress | None = None
        self._deflate = enc == "deflate"
        if enc in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self._deflate:
            self._z = zlib.decompressobj()
        self.out = bytearray()

    @property
    def full(self) -> bool:
        return len(self.out) >= self.limit

    def feed(self, data: bytes) -> None:
        room = self.limit - len(self.out)
        if room <= 0:
            return
        if self._z is None:
            self.out += data[:room]
            return
        try:
            try:
                self.out += self._z.decompress(data, room)
            except zlib.error:
                if not (self._deflate and not self.out):
                    raise
                # "deflate" sent raw, without the zlib header (as some servers do): as httpx.
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                self._deflate = False
                self.out += self._z.decompress(data, room)
        except zlib.error as exc:
            raise httpx.DecodingError(f"the body does not decode ({exc})") from exc


class Client:
    """One probe's connection(s): a request at a time; the connection is kept for a
    redirect to the same origin when the server allows it, as a browser would."""

    def __init__(
        self,
        rec: ProbeRecorder,
        *,
        ssl_context: ssl.SSLContext,
        server_name: str | None = None,
    ) -> None:
        self._rec = rec
        self._ssl = ssl_context
        self._server_name = server_name
        self._stream: _TimedStream | None = None
        self._h11: h11.Connection | None = None
        self._origin: tuple[bytes, bytes, int | None] | None = None

    async def send(
        self,
        method: str,
        url: httpx.URL,
        headers: list[tuple[str, str]],
        *,
        max_body: int,
        keep_body: bool = True,
    ) -> Answer:
        """Send one request and read its answer; the body is kept only if `keep_body`
        (it is read to its end, or to `max_body` bytes, either way: that is the transfer)."""
        rec = self._rec
        wire_headers = [("Host", url.netloc.decode("ascii")), *headers]
        if method == "POST":
            wire_headers.append(("Content-Length", "0"))
        reuse = self._reusable(url)
        conn = self._h11 if reuse and self._h11 is not None else h11.Connection(h11.CLIENT)
        try:
            data = conn.send(h11.Request(method=method, target=url.raw_path, headers=wire_headers))
            data = (data or b"") + (conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        # A new request: its answer's first byte is the next to arrive.
        rec.done_at = None
        if reuse and self._stream is not None:
            stream = self._stream
            stream.proto.first_at = stream.proto.last_at = None
            stream.transport.write(data)
        else:
            # A new connection writes the request itself, the moment it is ready.
            stream = await self._open(url, first_write=data)
            self._h11 = conn
        head = await self._next(conn, stream)
        while isinstance(head, h11.InformationalResponse):  # 1xx: the real answer follows
            head = await self._next(conn, stream)
        if not isinstance(head, h11.Response):
            raise httpx.RemoteProtocolError(f"unexpected {type(head).__name__} from the server")
        rec.first_byte()
        answer = Answer(
            status=head.status_code, headers=list(head.headers), url=url, body=b"", complete=False
        )
        decoder = _Decoder(answer.header("content-encoding"), max_body) if keep_body else None
        read = 0
        while True:
            event = await self._next(conn, stream)
            if isinstance(event, h11.Data):
                if decoder is not None:
                    decoder.feed(bytes(event.data))
                    if decoder.full:
                        break
                else:
                    read += len(event.data)
                    if read >= max_body:
                        break
            elif isinstance(event, h11.EndOfMessage):
                answer.complete = True
                rec.last_byte()
                break
            else:
                raise httpx.RemoteProtocolError(
                    f"unexpected {type(event).__name__} in the response body"
                )
        if decoder is not None:
            answer.body = bytes(decoder.out)
        if answer.complete and conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:
            await self.aclose()
        return answer

    def _reusable(self, url: httpx.URL) -> bool:
        """The open connection can carry a request to `url` (same origin, idle, no stray
        bytes or EOF waiting)."""
        return (
            self._h11 is not None
            and self._stream is not None
            and self._origin == (url.raw_scheme, url.raw_host, url.port)
            and self._h11.our_state is h11.IDLE
            and not self._stream.get_extra_info("is_readable")
            and not self._stream.transport.is_closing()
        )

    async def _open(self, url: httpx.URL, *, first_write: bytes) -> _TimedStream:
        await self.aclose()
        https = url.scheme == "https"
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"cannot probe a {url.scheme}: URL")
        host = url.host
        try:
            stream = await open_timed(
                self._rec,
                host,
                url.port or (443 if https else 80),
                ssl_context=self._ssl if https else None,
                server_hostname=(self._server_name or host) if https else None,
                first_write=first_write,
            )
        except socket.gaierror as exc:
            raise httpx.ConnectError(f"DNS lookup of {host} failed: {exc}") from exc
        except (DNSTimeoutError, TimeoutError):
            raise
        except OSError as exc:  # refused, unreachable, or the TLS handshake failed
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        self._stream = stream
        self._origin = (url.raw_scheme, url.raw_host, url.port)
        return stream

    async def _next(self, conn: h11.Connection, stream: _TimedStream) -> object:
        proto = stream.proto
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event
            if not proto.buffer and not proto.eof:
                await proto.wait_readable()
            if proto.buffer:
                conn.receive_data(proto.take(_CHUNK))
            elif proto.error is not None:
                err = proto.error
                raise httpx.ReadError(str(err) or type(err).__name__) from err
            else:
                conn.receive_data(b"")  # EOF: h11 decides whether the answer was complete

    async def aclose(self) -> None:
        if self._stream is not None:
            await self._stream.aclose()
        self._stream = self._h11 = self._origin = None
