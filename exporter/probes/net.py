"""Network plumbing shared by the probes: timed DNS, a phase-recording httpx transport, TLS.

httpx resolves and connects in one step; to time `resolve`, `connect` and `tls` apart we
give httpcore a network backend that resolves first (recording the phase), then connects
to the address, then wraps the stream so `start_tls` is timed and the leaf certificate is
captured. Every HTTP client the exporter uses comes from `make_client()`, so the policy is
set once: TLS verification on unless the target says otherwise, explicit timeouts, no environment
proxies, bounded redirects.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import ssl
import typing
from datetime import UTC
from typing import Any

import httpcore
import httpx
from cryptography import x509

from exporter.config import TLSConfig
from exporter.result import PhaseTimer


class DNSTimeoutError(OSError):
    """The resolver did not answer in time."""


async def resolve(host: str, port: int, *, family: int = socket.AF_UNSPEC) -> list[str]:
    """Resolve `host` to unique addresses in resolver order; raises socket.gaierror."""
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
    cert = x509.load_der_x509_certificate(der)
    return cert.not_valid_after_utc.astimezone(UTC).timestamp()


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
    ctx = ssl.create_default_context(cafile=ca_file)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ProbeRecorder:
    """Collects what the transport sees during one probe run."""

    def __init__(self, timer: PhaseTimer) -> None:
        self.timer = timer
        self.cert_not_after: float | None = None
        self.connected_to: str | None = None


class _TimedStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream, rec: ProbeRecorder) -> None:
        self._inner = inner
        self._rec = rec

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self._rec.timer.expect_tls(True)
        stream = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        self._rec.timer.mark("tls")
        self._rec.cert_not_after = cert_not_after(stream.get_extra_info("ssl_object"))
        return _TimedStream(stream, self._rec)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _TimedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, rec: ProbeRecorder) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._rec = rec

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectError(f"DNS lookup of {host} timed out") from DNSTimeoutError(
                str(exc)
            )
        except OSError as exc:
            raise httpcore.ConnectError(f"DNS lookup of {host} failed: {exc}") from exc
        self._rec.timer.mark("resolve")
        last: Exception | None = None
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectTimeout:
                raise
            except httpcore.ConnectError as exc:
                last = exc
                continue
            self._rec.timer.mark("connect")
            self._rec.connected_to = address
            return _TimedStream(stream, self._rec)
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - unix sockets are not probed
        raise httpcore.ConnectError("unix sockets are not supported")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _TimedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (its error mapping included) over the timed backend."""

    def __init__(self, *, ssl_context: ssl.SSLContext, rec: ProbeRecorder) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx does not take a network backend, so the pool is rebuilt with ours; the
        # phase-timing tests fail loudly should httpx rename this attribute.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=4,
            max_keepalive_connections=4,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            network_backend=_TimedBackend(rec),
        )


def make_client(
    *,
    timeout: float,
    tls: TLSConfig | None,
    recorder: ProbeRecorder | None = None,
    follow_redirects: bool = False,
    max_redirects: int = 5,
    transport: httpx.AsyncBaseTransport | None = None,
    cookies: httpx.Cookies | None = None,
) -> httpx.AsyncClient:
    """The one place HTTP clients are made.

    Pass `recorder` to time phases; pass `transport` (e.g. httpx.MockTransport) in unit tests.
    """
    ctx = make_ssl_context(tls)
    if transport is None:
        transport = _TimedTransport(ssl_context=ctx, rec=recorder or ProbeRecorder(PhaseTimer()))
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        trust_env=False,
        cookies=cookies,
        headers={"User-Agent": "parichay-exporter/0.1 (+ITDA monitoring)"},
    )


def trace_hook(
    rec: ProbeRecorder,
) -> typing.Callable[[str, dict[str, Any]], typing.Awaitable[None]]:
    """httpcore trace callback that closes `processing` and `transfer` for every hop."""

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith(".receive_response_headers.complete"):
            rec.timer.mark("processing")
        elif event.endswith(".receive_response_body.complete"):
            rec.timer.mark("transfer")

    return trace
