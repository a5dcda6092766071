"""Map what went wrong to exactly one `Reason`.

`classify_exception()` walks an exception and its causes (the HTTP client's httpx
exceptions wrap the OS or ssl error) and picks the reason an operator needs: a refused port
and a timed-out connect mean different things. `classify_status()` does the same for HTTP
answers. Both are table-tested in tests/exporter/test_classify.py; extend the tables when
adding a case.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator

import httpx

from exporter.probes.client import RedirectError
from exporter.result import Reason

# OpenSSL's X509_V_ERR_CERT_HAS_EXPIRED.
_X509_CERT_HAS_EXPIRED = 10


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        # Some errors carry their cause only in __context__; a cancellation,
        # though, says nothing about the target, so the walk stops there.
        if isinstance(cur, asyncio.CancelledError):
            return
        cur = cur.__cause__ or cur.__context__


def classify_exception(exc: BaseException, *, pending_phase: str = "processing") -> Reason:
    """The reason for a probe that ended with `exc` while `pending_phase` was in progress."""
    if type(exc) is TimeoutError:
        # Our own deadline around the whole probe: name the phase that hung.
        return {
            "resolve": Reason.DNS_ERROR,
            "connect": Reason.CONNECT_TIMEOUT,
        }.get(pending_phase, Reason.TIMEOUT)
    for e in _chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            if e.verify_code == _X509_CERT_HAS_EXPIRED:
                return Reason.CERT_EXPIRED
            return Reason.TLS_ERROR
        if isinstance(e, ssl.SSLError):
            return Reason.TLS_ERROR
        if isinstance(e, socket.gaierror):
            return Reason.DNS_ERROR
    if isinstance(exc, httpx.ConnectTimeout):
        return Reason.CONNECT_TIMEOUT
    if isinstance(exc, httpx.TimeoutException):
        return Reason.TIMEOUT
    if isinstance(exc, (httpx.TooManyRedirects, RedirectError)):
        return Reason.REDIRECT_ERROR
    if isinstance(exc, httpx.DecodingError):
        # An answer came, but its body is not what its Content-Encoding says.
        return Reason.CONTENT_MISMATCH
    if isinstance(exc, (httpx.ConnectError, ConnectionError, httpx.ReadError, httpx.WriteError)):
        # Refused, reset, or closed by the peer before answering.
        return Reason.CONNECT_REFUSED
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.LocalProtocolError)):
        return Reason.CONNECT_REFUSED
    if isinstance(exc, OSError):
        return Reason.CONNECT_REFUSED
    if isinstance(exc, httpx.HTTPError):
        return Reason.CONNECT_REFUSED
    raise exc


def classify_status(status: int, expected: tuple[int, ...]) -> Reason | None:
    """None when `status` is acceptable (`expected`, or any 2xx when nothing is expected)."""
    if (status in expected) if expected else (200 <= status < 300):
        return None
    if status >= 500:
        return Reason.HTTP_5XX
    if status >= 400:
        return Reason.HTTP_4XX
    return Reason.UNEXPECTED_STATUS


def describe_exception(exc: BaseException) -> str:
    """A one-line, human description of a network failure (no traceback)."""
    for e in _chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed: {e.verify_message}"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError) and not str(exc):
        text = "deadline exceeded"
    return f"{type(exc).__name__}: {text}"[:300]
