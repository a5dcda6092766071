"""The exporter's one HTTP client: HTTP/1.1 through h11 on `open_timed` connections.

Both HTTP probes send through `Client`: the http probe (one request and the redirects its
target allows) and the login probe (steps with form or JSON bodies and a cookie jar between
them). What it does, in one place: redirects with a limit and the usual method rules,
`Authorization` kept from other hosts, gzip and deflate undone up to a byte limit, the
charset from Content-Type, cookies (a stdlib `CookieJar`, when one is given), and one
keep-alive connection per origin for as long as the client lives (a probe run).

Why not httpx's client: its models, httpcore's pool, locks and async trace callbacks cost
more CPU than the probe's own socket work (about 1 ms per probe in
`bench/profile_scheduler.py`, where the socket work is 0.25 ms). h11, the HTTP/1.1 state
machine httpcore itself uses, does the parsing; `open_timed` stamps the phases at the socket,
and this client closes `processing` at the first and `transfer` at the last byte of every
answer (`ProbeRecorder`).

Failures come out as the exceptions `classify_exception` reads: `httpx.ConnectError` for a
name that does not resolve (its cause the `socket.gaierror`), a refused or unreachable
address or a failed handshake (the `ssl` error as its cause), `httpx.RemoteProtocolError`
for a malformed or cut-off answer, `httpx.ReadError` for a reset, `httpx.TooManyRedirects`,
`RedirectError` and `httpx.DecodingError`; the caller's deadline (TimeoutError) as is.
Unit tests may pass an `httpx.AsyncBaseTransport` (e.g. `httpx.MockTransport`) as `mock`:
requests then go to it instead of a socket, with the same headers, cookies and redirects
(its answers arrive already decoded).
"""

from __future__ import annotations

import codecs
import functools
import json
import re
import socket
import ssl
import urllib.request
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookiejar import Cookie, CookieJar
from typing import Any
from urllib.parse import urlencode

import h11
import httpx

from exporter.probes.transport import ProbeRecorder, TimedStream, open_timed

USER_AGENT = "parichay-exporter/0.1 (+ITDA monitoring)"
# What every request carries unless the caller overrides it (what httpx's client sent).
BASE_HEADERS = (("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate"), ("User-Agent", USER_AGENT))
# Read at most this much from the connection's buffer per h11 step.
_CHUNK = 65536
_CHARSET = re.compile(rb"charset\s*=\s*\"?([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_BODY_METHODS = ("POST", "PUT", "PATCH")

Headers = list[tuple[str, str]]


class RedirectError(httpx.HTTPError):
    """A redirect the client cannot follow: a Location that is not an http(s) URL."""


_Origin = tuple[bytes, bytes, int | None]


def with_headers(extra: Iterable[tuple[str, str]]) -> Headers:
    """`BASE_HEADERS` with `extra` added; a name in `extra` replaces the base's."""
    headers = list(BASE_HEADERS)
    for k, v in extra:
        headers = [(hk, hv) for hk, hv in headers if hk.lower() != k.lower()]
        headers.append((k, v))
    return headers


def form_body(fields: dict[str, Any]) -> tuple[bytes, str]:
    """An HTML form's POST body and its Content-Type."""
    return urlencode(fields, doseq=True).encode(), "application/x-www-form-urlencoded"


def json_body(value: Any) -> tuple[bytes, str]:
    """A JSON body (encoded as httpx does) and its Content-Type."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode(), "application/json"


def set_cookie(jar: CookieJar, name: str, value: str, *, domain: str = "", path: str = "/") -> None:
    """Put a cookie into `jar` as a server would have set it (as `httpx.Cookies.set` does)."""
    jar.set_cookie(
        Cookie(
            version=0,
            name=name,
            value=value,
            port=None,
            port_specified=False,
            domain=domain,
            domain_specified=bool(domain),
            domain_initial_dot=domain.startswith("."),
            path=path,
            path_specified=bool(path),
            secure=False,
            expires=None,
            discard=True,
            comment=None,
            comment_url=None,
            rest={"HttpOnly": ""},
            rfc2109=False,
        )
    )


@functools.lru_cache(maxsize=4096)
def parse_url(url: str) -> httpx.URL:
    """Parsing a URL costs more than a loopback probe's Python work; targets repeat them.
    (Not for URLs that may carry one-time tokens: they would stay in the cache.)"""
    return httpx.URL(url)


@dataclass(slots=True)
class Answer:
    """A response as the probes' checks need it."""

    status: int
    headers: list[tuple[bytes, bytes]]  # names lower-cased (h11 does that)
    url: httpx.URL
    body: bytes  # decoded (Content-Encoding undone), at most the caller's limit
    complete: bool  # the whole body was read

    def header(self, name: str) -> str | None:
        """The header's value (several are joined with ", "), or None."""
        want = name.lower().encode()
        values = [v.decode("latin-1") for k, v in self.headers if k == want]
        return ", ".join(values) if values else None

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
    """Undoes gzip or deflate (what the client asks for), never beyond `limit` bytes."""

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


def redirect_target(base: httpx.URL, location: str) -> httpx.URL:
    """Where a Location header points, or RedirectError if the client cannot go there."""
    try:
        url = base.join(location)
    except httpx.InvalidURL as exc:
        raise RedirectError(f"invalid Location header: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise RedirectError(f"redirected to a {url.scheme or 'relative'}: URL, not http(s)")
    return url


class _SetCookies:
    """The `response.info()` that `CookieJar.extract_cookies` reads."""

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self._headers = headers

    def info(self) -> _SetCookies:
        return self

    def get_all(self, name: str, default: Any = None) -> Any:
        want = name.lower().encode()
        found = [v.decode("latin-1") for k, v in self._headers if k == want]
        return found or default


@dataclass(slots=True)
class _Conn:
    stream: TimedStream
    h11: h11.Connection


class Client:
    """One probe run's connections (one per origin, kept alive while the server allows)
    and, with `cookies`, its cookie jar. A request at a time."""

    def __init__(
        self,
        rec: ProbeRecorder,
        *,
        ssl_context: ssl.SSLContext,
        server_name: str | None = None,
        cookies: CookieJar | None = None,
        mock: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._rec = rec
        self._ssl = ssl_context
        self._server_name = server_name
        self.cookies = cookies
        self._mock = mock
        self._conns: dict[_Origin, _Conn] = {}

    async def request(
        self,
        method: str,
        url: httpx.URL,
        headers: Headers,
        *,
        body: bytes | None = None,
        follow_redirects: bool = False,
        max_redirects: int = 5,
        max_body: int,
        keep_body: bool = True,
    ) -> Answer:
        """`send`, then follow redirects if asked (at most `max_redirects`), as httpx
        does: 303 (and 301/302 after a POST) turn into a body-less GET, `Authorization`
        is not sent to another host."""
        first_host = url.host
        for hop in range(max_redirects + 1):
            hop_headers = headers
            if url.host != first_host:
                hop_headers = [(k, v) for k, v in headers if k.lower() != "authorization"]
            resp = await self.send(
                method, url, hop_headers, body=body, max_body=max_body, keep_body=keep_body
            )
            location = resp.header("location")
            if not (follow_redirects and resp.is_redirect and location):
                return resp
            if hop == max_redirects:
                raise httpx.TooManyRedirects("Exceeded maximum allowed redirects.")
            url = redirect_target(resp.url, location)
            if (resp.status == 303 and method != "HEAD") or (
                resp.status in (301, 302) and method == "POST"
            ):
                method, body = "GET", None
                headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(
        self,
        method: str,
        url: httpx.URL,
        headers: Headers,
        *,
        body: bytes | None = None,
        max_body: int,
        keep_body: bool = True,
    ) -> Answer:
        """Send one request and read its answer; the body is kept only if `keep_body`
        (it is read to its end, or to `max_body` bytes, either way: that is the transfer)."""
        wire_headers = [("Host", url.netloc.decode("ascii")), *headers]
        if body is not None or method in _BODY_METHODS:
            wire_headers.append(("Content-Length", str(len(body or b""))))
        jar_request = None
        if self.cookies is not None:
            jar_request = urllib.request.Request(str(url), method=method)
            if not any(k.lower() == "cookie" for k, _ in headers):
                self.cookies.add_cookie_header(jar_request)
                cookie = jar_request.get_header("Cookie")
                if cookie:
                    wire_headers.append(("Cookie", cookie))
        if self._mock is not None:
            answer = await self._send_mock(method, url, wire_headers, body, max_body, keep_body)
        else:
            answer = await self._send(method, url, wire_headers, body, max_body, keep_body)
        if self.cookies is not None and jar_request is not None:
            self.cookies.extract_cookies(_SetCookies(answer.headers), jar_request)  # type: ignore[arg-type]
        return answer

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        wire_headers: Headers,
        body: bytes | None,
        max_body: int,
        keep_body: bool,
    ) -> Answer:
        rec = self._rec
        origin = (url.raw_scheme, url.raw_host, url.port)
        conn = self._conns.get(origin)
        reuse = conn is not None and _reusable(conn)
        h = conn.h11 if conn is not None and reuse else h11.Connection(h11.CLIENT)
        try:
            data = h.send(h11.Request(method=method, target=url.raw_path, headers=wire_headers))
            data = data or b""
            if body:
                data += h.send(h11.Data(data=body)) or b""
            data += h.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        # A new request: its answer's first byte is the next to arrive.
        rec.done_at = None
        if conn is not None and reuse:
            stream = conn.stream
            stream.write(data)
            await stream.drain()
        else:
            # A new connection writes the request itself, the moment it is ready.
            stream = await self._open(url, origin, first_write=data)
            conn = self._conns[origin] = _Conn(stream, h)
        rec.stream = stream
        head = await _next(h, stream)
        while isinstance(head, h11.InformationalResponse):  # 1xx: the real answer follows
            head = await _next(h, stream)
        if not isinstance(head, h11.Response):
            raise httpx.RemoteProtocolError(f"unexpected {type(head).__name__} from the server")
        rec.first_byte()
        answer = Answer(
            status=head.status_code, headers=list(head.headers), url=url, body=b"", complete=False
        )
        decoder = _Decoder(answer.header("content-encoding"), max_body) if keep_body else None
        read = 0
        while True:
            event = await _next(h, stream)
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
        if answer.complete and h.our_state is h11.DONE and h.their_state is h11.DONE:
            h.start_next_cycle()
        else:
            del self._conns[origin]
            await stream.aclose()
        return answer

    async def _send_mock(
        self,
        method: str,
        url: httpx.URL,
        wire_headers: Headers,
        body: bytes | None,
        max_body: int,
        keep_body: bool,
    ) -> Answer:
        assert self._mock is not None
        request = httpx.Request(method, url, headers=wire_headers, content=body)
        resp = await self._mock.handle_async_request(request)
        self._rec.first_byte()
        body = await resp.aread()  # decoded by httpx already (MockTransport reads it)
        self._rec.last_byte()
        headers = [(k.lower(), v) for k, v in resp.headers.raw]
        return Answer(
            status=resp.status_code,
            headers=headers,
            url=url,
            body=body[:max_body] if keep_body else b"",
            complete=True,
        )

    async def _open(self, url: httpx.URL, origin: _Origin, *, first_write: bytes) -> TimedStream:
        old = self._conns.pop(origin, None)
        if old is not None:
            await old.stream.aclose()
        https = url.scheme == "https"
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"cannot probe a {url.scheme}: URL")
        host = url.host
        try:
            return await open_timed(
                self._rec,
                host,
                url.port or (443 if https else 80),
                ssl_context=self._ssl if https else None,
                server_hostname=(self._server_name or host) if https else None,
                first_write=first_write,
            )
        except socket.gaierror as exc:
            raise httpx.ConnectError(f"DNS lookup of {host} failed: {exc}") from exc
        except TimeoutError:  # the caller's deadline (an OSError too): as is
            raise
        except OSError as exc:  # refused, unreachable, or the TLS handshake failed
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        conns, self._conns = self._conns, {}
        for conn in conns.values():
            await conn.stream.aclose()


def _reusable(conn: _Conn) -> bool:
    """The connection can carry another request (idle, no stray bytes or EOF waiting)."""
    return conn.h11.our_state is h11.IDLE and conn.stream.idle


async def _next(h: h11.Connection, stream: TimedStream) -> object:
    proto = stream.proto
    while True:
        try:
            event = h.next_event()
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc)) from exc
        if event is not h11.NEED_DATA:
            return event
        if not proto.buffer and not proto.eof:
            await proto.wait_readable()
        if proto.buffer:
            h.receive_data(proto.take(_CHUNK))
        elif proto.error is not None:
            err = proto.error
            raise httpx.ReadError(str(err) or type(err).__name__) from err
        else:
            h.receive_data(b"")  # EOF: h11 decides whether the answer was complete
