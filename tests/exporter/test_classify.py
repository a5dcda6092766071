"""classify(): every failure maps to exactly one reason from the closed list (docs/architecture.md, Model)."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest

from exporter.probes.classify import classify_exception, classify_status
from exporter.result import Reason


def _wrapped(outer: BaseException, *causes: BaseException) -> BaseException:
    """Chain exceptions the way the HTTP client chains httpx -> OS errors."""
    cur = outer
    for cause in causes:
        cur.__cause__ = cause
        cur = cause
    return outer


def _cert_error(code: int) -> ssl.SSLCertVerificationError:
    err = ssl.SSLCertVerificationError(1, "certificate verify failed")
    err.verify_code = code
    err.verify_message = "x"
    return err


@pytest.mark.parametrize(
    ("exc", "pending", "reason"),
    [
        pytest.param(
            _wrapped(
                httpx.ConnectError("x"),
                socket.gaierror(-2, "Name or service not known"),
            ),
            "resolve",
            Reason.DNS_ERROR,
            id="nxdomain",
        ),
        pytest.param(
            _wrapped(httpx.ConnectError("x"), ConnectionRefusedError(111, "refused")),
            "connect",
            Reason.CONNECT_REFUSED,
            id="refused",
        ),
        pytest.param(
            httpx.ConnectTimeout("x"), "connect", Reason.CONNECT_TIMEOUT, id="connect-timeout"
        ),
        pytest.param(
            _wrapped(httpx.ConnectError("x"), _cert_error(10)),
            "tls",
            Reason.CERT_EXPIRED,
            id="cert-expired",
        ),
        pytest.param(
            _wrapped(httpx.ConnectError("x"), _cert_error(20)),
            "tls",
            Reason.TLS_ERROR,
            id="unknown-ca",
        ),
        pytest.param(
            _wrapped(httpx.ConnectError("x"), _cert_error(62)),
            "tls",
            Reason.TLS_ERROR,
            id="hostname-mismatch",
        ),
        pytest.param(
            _wrapped(httpx.ConnectError("x"), ssl.SSLError(1, "wrong version")),
            "tls",
            Reason.TLS_ERROR,
            id="tls-handshake",
        ),
        pytest.param(httpx.ReadTimeout("x"), "processing", Reason.TIMEOUT, id="read-timeout"),
        pytest.param(httpx.PoolTimeout("x"), "processing", Reason.TIMEOUT, id="pool-timeout"),
        pytest.param(TimeoutError(), "resolve", Reason.DNS_ERROR, id="deadline-in-resolve"),
        pytest.param(TimeoutError(), "connect", Reason.CONNECT_TIMEOUT, id="deadline-in-connect"),
        pytest.param(TimeoutError(), "processing", Reason.TIMEOUT, id="deadline-in-processing"),
        pytest.param(TimeoutError(), "transfer", Reason.TIMEOUT, id="deadline-in-transfer"),
        pytest.param(
            httpx.TooManyRedirects("x"), "processing", Reason.REDIRECT_ERROR, id="redirect-loop"
        ),
        pytest.param(
            httpx.RemoteProtocolError("Server disconnected"),
            "processing",
            Reason.CONNECT_REFUSED,
            id="closed-without-answer",
        ),
        pytest.param(httpx.ReadError("reset"), "processing", Reason.CONNECT_REFUSED, id="reset"),
    ],
)
def test_classify_exception(exc: BaseException, pending: str, reason: Reason) -> None:
    """Network failures are named by cause, and deadlines by the phase that hung."""
    assert classify_exception(exc, pending_phase=pending) is reason


def test_classify_exception_reraises_bugs() -> None:
    """A programming error is not disguised as a target failure."""
    with pytest.raises(KeyError):
        classify_exception(KeyError("bug"))


@pytest.mark.parametrize(
    ("status", "expected", "reason"),
    [
        pytest.param(200, (), None, id="2xx-default"),
        pytest.param(204, (), None, id="204-default"),
        pytest.param(302, (), Reason.UNEXPECTED_STATUS, id="redirect-not-expected"),
        pytest.param(302, (302,), None, id="redirect-expected"),
        pytest.param(200, (302,), Reason.UNEXPECTED_STATUS, id="200-when-302-expected"),
        pytest.param(404, (), Reason.HTTP_4XX, id="404"),
        pytest.param(500, (), Reason.HTTP_5XX, id="500"),
        pytest.param(503, (200,), Reason.HTTP_5XX, id="503"),
        pytest.param(503, (503,), None, id="503-expected"),
    ],
)
def test_classify_status(status: int, expected: tuple[int, ...], reason: Reason | None) -> None:
    """Status codes: expected ones pass, others map to 5xx, 4xx or unexpected."""
    assert classify_status(status, expected) is reason


def test_reasons_are_exactly_designs_list() -> None:
    """The Reason enum is the documented closed list (docs/architecture.md), no more, no less."""
    assert {str(r) for r in Reason} == {
        "dns_error",
        "connect_refused",
        "connect_timeout",
        "tls_error",
        "cert_expired",
        "timeout",
        "http_5xx",
        "http_4xx",
        "unexpected_status",
        "content_mismatch",
        "redirect_error",
        "login_rejected",
        "otp_rejected",
        "login_flow_broken",
    }
