"""Every failure reason a simulator mode or a local socket can produce, over real sockets."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web

from exporter.config import Target, load_config_text
from exporter.probes import ProbeContext, run_probe
from exporter.result import PHASES, ProbeResult, Reason
from simulator import Simulator
from tests.support.net import serving


def target(yaml_target: str) -> Target:
    return load_config_text(f"vantage: it\ntargets:\n  - {yaml_target}\n").targets[0]


async def probe(yaml_target: str) -> ProbeResult:
    return await run_probe(target(yaml_target), ProbeContext())


def sso_page(sim: Simulator, ca: str | None, extra: str = "") -> str:
    tls = f", tls: {{ca_file: '{ca}'}}" if ca else ""
    return (
        f"{{name: sso, role: sso, kind: http, url: '{sim.sso_url}/pnv1/assets/login?sid=eOfficeUKSec',"
        f" timeout: 2s, expect: {{body_contains: Parichay}}{tls}{extra}}}"
    )


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        pytest.param("ok", None, id="ok"),
        pytest.param("refuse", Reason.CONNECT_REFUSED, id="refused-port"),
        pytest.param("hang", Reason.TIMEOUT, id="hanging-server"),
        pytest.param("http_500", Reason.HTTP_5XX, id="500"),
        pytest.param("http_503", Reason.HTTP_5XX, id="503"),
        pytest.param("bad_content", Reason.CONTENT_MISMATCH, id="wrong-content"),
        pytest.param("cert_expired", Reason.CERT_EXPIRED, id="expired-certificate"),
    ],
)
async def test_simulator_mode_gives_its_reason(
    sim: Simulator, ca_file: str, mode: str, reason: Reason | None
) -> None:
    """Each fault mode of the fake Parichay maps to exactly the reason an operator expects."""
    sim.set_fault("sso", mode)
    started = time.monotonic()
    result = await probe(sso_page(sim, ca_file))
    assert result.reason is reason, result.detail
    assert result.success is (reason is None)
    assert time.monotonic() - started < 3.0, "a probe must end by its timeout, never hang"
    if mode == "ok":
        assert result.http_status == 200
        assert result.cert_not_after is not None and result.cert_not_after > time.time()


async def test_slow_mode_is_measured_in_processing(sim: Simulator, ca_file: str) -> None:
    """A 200 ms server delay shows up in `processing`, within 10 %."""
    sim.set_fault("sso", "slow", delay_ms=200)
    result = await probe(sso_page(sim, ca_file))
    assert result.success, result.detail
    assert 0.18 <= result.phases["processing"] <= 0.22, result.phases


async def test_slow_beyond_timeout_is_a_timeout(sim: Simulator, ca_file: str) -> None:
    """A server slower than the target's timeout gives `timeout` at about the timeout."""
    sim.set_fault("sso", "slow", delay_ms=1500)
    t0 = time.monotonic()
    result = await probe(sso_page(sim, ca_file, ", timeout: 500ms, interval: 5s"))
    assert result.reason is Reason.TIMEOUT
    assert 0.45 <= time.monotonic() - t0 < 1.2


async def test_phases_add_up_to_the_total(sim: Simulator, ca_file: str) -> None:
    """resolve+connect+tls+processing+transfer equals the duration within 5 ms, all measured."""
    sim.set_fault("sso", "slow", delay_ms=50)
    t0 = time.perf_counter()
    result = await probe(sso_page(sim, ca_file))
    wall = time.perf_counter() - t0
    assert result.success
    assert abs(sum(result.phases.values()) - result.duration) < 0.005
    assert result.duration <= wall
    assert set(result.phases) == set(PHASES)
    assert result.phases["connect"] > 0 and result.phases["tls"] > 0
    assert result.phases["processing"] >= 0.045


async def test_unknown_ca_is_a_tls_error(sim: Simulator) -> None:
    """Without the simulator's CA the certificate cannot be verified: tls_error."""
    result = await probe(sso_page(sim, None))
    assert result.reason is Reason.TLS_ERROR
    assert "certificate verify failed" in result.detail or "verification failed" in result.detail


async def test_insecure_skip_verify_still_reports_the_expiry(sim: Simulator) -> None:
    """Skipping verification is explicit, and the certificate expiry is still captured."""
    result = await probe(
        sso_page(sim, None, ", tls: {insecure_skip_verify: true}").replace(
            ", tls: {insecure_skip_verify: true}}", "}", 0
        )
    )
    assert result.success
    assert result.cert_not_after is not None


@pytest.fixture
async def wrong_host_server(tmp_path: Path) -> AsyncIterator[tuple[int, str]]:
    """A TLS server whose certificate is for another host name (signed by a trusted CA)."""
    ca = trustme.CA()
    cert = ca.issue_cert("other.example")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca_path = tmp_path / "other-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    async with serving(app, ssl_context=ctx) as url:
        yield int(url.rsplit(":", 1)[1]), str(ca_path)


async def test_hostname_mismatch_is_a_tls_error(wrong_host_server: tuple[int, str]) -> None:
    """A valid certificate for the wrong name is refused: tls_error."""
    port, ca = wrong_host_server
    result = await probe(
        f"{{name: x, role: sso, kind: http, url: 'https://127.0.0.1:{port}/', tls: {{ca_file: '{ca}'}}}}"
    )
    assert result.reason is Reason.TLS_ERROR
    assert "mismatch" in result.detail.lower() or "doesn't match" in result.detail


async def test_nxdomain_is_a_dns_error() -> None:
    """A name under .invalid never resolves: dns_error, for http, tcp and dns kinds alike."""
    results = await asyncio.gather(
        probe("{name: a, role: sso, kind: http, url: 'https://parichay.invalid/'}"),
        probe("{name: b, role: sso, kind: tcp, host: parichay.invalid, port: 443}"),
        probe("{name: c, role: control, kind: dns, host: parichay.invalid}"),
    )
    assert [r.reason for r in results] == [Reason.DNS_ERROR] * 3


@pytest.fixture
def hanging_listener() -> AsyncIterator[int]:
    """A socket that accepts TCP connections but never says anything."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    yield srv.getsockname()[1]  # type: ignore[misc]
    srv.close()


async def test_hanging_port_is_a_timeout_not_a_hang(hanging_listener: int) -> None:
    """A port that accepts and never answers ends as `timeout` at the configured timeout."""
    t0 = time.monotonic()
    result = await probe(
        f"{{name: x, role: sso, kind: http, url: 'http://127.0.0.1:{hanging_listener}/', timeout: 400ms}}"
    )
    assert result.reason is Reason.TIMEOUT
    assert time.monotonic() - t0 < 1.0
    assert result.phases["processing"] >= 0.3


@pytest.fixture
def full_backlog() -> AsyncIterator[int]:
    """A listener whose accept queue is full, so new SYNs are dropped and connects hang."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    yield port  # type: ignore[misc]
    for c in fillers:
        c.close()
    srv.close()


async def test_unanswered_connect_is_a_connect_timeout(full_backlog: int) -> None:
    """When the TCP handshake gets no answer the reason is connect_timeout."""
    result = await probe(
        f"{{name: x, role: sso, kind: http, url: 'http://127.0.0.1:{full_backlog}/', timeout: 500ms}}"
    )
    assert result.reason is Reason.CONNECT_TIMEOUT, result.detail


async def test_tcp_probe_with_tls_reads_the_certificate(sim: Simulator, ca_file: str) -> None:
    """The tcp kind connects and completes a verified handshake; refused when closed."""
    port = int(sim.sso_url.rsplit(":", 1)[1])
    spec = (
        f"{{name: t, role: sso, kind: tcp, host: 127.0.0.1, port: {port}, "
        f"tls: {{ca_file: '{ca_file}'}}}}"
    )
    ok = await probe(spec)
    assert ok.success, ok.detail
    assert ok.cert_not_after is not None and ok.phases["tls"] > 0
    sim.set_fault("sso", "cert_expired")
    expired = await probe(spec)
    assert expired.reason is Reason.CERT_EXPIRED
    sim.set_fault("sso", "refuse")
    refused = await probe(spec)
    assert refused.reason is Reason.CONNECT_REFUSED


async def test_dns_probe_checks_expected_addresses() -> None:
    """A resolver giving an unexpected address is content_mismatch."""
    good = await probe(
        "{name: d, role: control, kind: dns, host: localhost, family: ipv4, "
        "expect: {addresses: ['127.0.0.1']}}"
    )
    bad = await probe(
        "{name: d, role: control, kind: dns, host: localhost, family: ipv4, "
        "expect: {addresses: ['192.0.2.1']}}"
    )
    assert good.success
    assert bad.reason is Reason.CONTENT_MISMATCH


async def test_app_probe_stops_at_the_redirect_while_parichay_is_down(
    sim: Simulator, ca_file: str
) -> None:
    """With Parichay refusing connections, the e-Office root check still passes."""
    sso_port = sim.sso_url.rsplit(":", 1)[1]
    spec = (
        f"{{name: root, role: app, kind: http, url: '{sim.app_url}/', follow_redirects: false,"
        f" expect: {{status: [302], redirect_host: '127.0.0.1:{sso_port}'}},"
        f" tls: {{ca_file: '{ca_file}'}}}}"
    )
    sim.set_fault("sso", "refuse")
    assert (await probe(spec)).success
    sim.set_fault("app", "http_503")
    assert (await probe(spec)).reason is Reason.HTTP_5XX
