"""Network fault modes of the simulator over real sockets: refuse, hang, slow, 5xx,
bad_content and cert_expired, plus a clean and prompt stop."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from simulator import Simulator
from simulator.testing import client_for

LOGIN_MARKER = "Parichay - Single Sign On"
APP_MARKER = "e-Office"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as s:
        yield s


@pytest.fixture
async def tls_sim() -> AsyncIterator[Simulator]:
    async with Simulator(tls=True) as s:
        yield s


async def test_ok_mode_serves_both_apps_with_their_markers(sim: Simulator) -> None:
    """In ok mode the app root redirects to the SSO login page (with sid), the login page
    and the public app page carry their markers, and /healthz answers on both apps."""
    async with client_for(sim) as client:
        root = await client.get(f"{sim.app_url}/")
        assert root.status_code == 302
        assert root.headers["location"] == f"{sim.sso_url}/pnv1/assets/login?sid=eOfficeUKSec"
        page = await client.get(root.headers["location"])
        assert page.status_code == 200
        assert LOGIN_MARKER in page.text and "<title>Parichay" in page.text
        assert (await client.get(f"{sim.sso_url}/")).headers["location"].startswith(
            "/pnv1/assets/login?sid=eOfficeUKSec"
        )
        public = await client.get(f"{sim.app_url}/eoffice/")
        assert public.status_code == 200 and APP_MARKER in public.text
        for base in (sim.sso_url, sim.app_url):
            assert (await client.get(f"{base}/healthz")).status_code == 200
    assert sim.control_url.startswith("http://127.0.0.1:")


async def test_refuse_closes_the_port_and_ok_rebinds_the_same_port(sim: Simulator) -> None:
    """refuse makes new connections fail with ConnectError and drops open keep-alive
    connections (so a pooled client also gets ConnectError once the close reached it)
    while the other app still answers; ok re-binds the same port."""
    url = f"{sim.app_url}/eoffice/"
    async with client_for(sim, timeout=2) as client:
        assert (await client.get(url)).status_code == 200
        sim.set_fault("app", "refuse")
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.ConnectError):
            await client.get(url)
        assert (await client.get(f"{sim.sso_url}/healthz")).status_code == 200
        sim.set_fault("app", "ok")
        assert (await client.get(url)).status_code == 200
        # Any mode other than refuse listens again, not only ok.
        sim.set_fault("app", "refuse")
        sim.set_fault("app", "http_503")
        await asyncio.sleep(0.05)
        assert (await client.get(url)).status_code == 503


async def test_refuse_is_a_real_refusal_at_socket_level(sim: Simulator) -> None:
    """A raw TCP connect to a refused app's port gets ConnectionRefusedError."""
    port = int(sim.app_url.rsplit(":", 1)[1])
    sim.set_fault("app", "refuse")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


async def test_hang_times_out_without_blocking_the_other_app_or_the_control_api(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """hang reads the request and never answers (ReadTimeout), while the SSO and the
    control API keep answering; a client giving up logs no error in the simulator."""
    caplog.set_level(logging.DEBUG)
    sim.set_fault("app", "hang")
    async with client_for(sim) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"{sim.app_url}/", timeout=0.3)
        assert (await client.get(f"{sim.sso_url}/healthz", timeout=1)).status_code == 200
        faults = await client.get(f"{sim.control_url}/_sim/faults", timeout=1)
        assert faults.json()["app"] == {"mode": "hang", "delay_ms": 0}
    sim.set_fault("app", "ok")
    await asyncio.sleep(0.05)
    assert sim.stats()["app.root"] == 1
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_hanging_request_is_closed_when_the_mode_changes(sim: Simulator) -> None:
    """A request parked by hang ends (connection closed, no response) once the mode changes."""
    sim.set_fault("sso", "hang")
    async with client_for(sim) as client:
        pending = asyncio.create_task(client.get(f"{sim.sso_url}/healthz"))
        await asyncio.sleep(0.2)
        assert not pending.done()
        sim.set_fault("sso", "ok")
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await asyncio.wait_for(pending, 2)
        assert (await client.get(f"{sim.sso_url}/healthz")).status_code == 200


async def test_stop_is_prompt_and_quiet_with_hanging_requests(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """stop() returns quickly even with requests hanging on both apps, and logs no errors."""
    caplog.set_level(logging.DEBUG)
    sim = Simulator()
    await sim.start()
    sim.set_fault("sso", "hang")
    sim.set_fault("app", "hang")
    async with client_for(sim) as client:
        pending = [
            asyncio.create_task(client.get(f"{base}/")) for base in (sim.sso_url, sim.app_url)
        ]
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        await sim.stop()
        assert time.perf_counter() - started < 0.5
        for task in pending:
            with pytest.raises(httpx.TransportError):
                await asyncio.wait_for(task, 2)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize(
    ("delay_ms", "expected_s"),
    [pytest.param(0, 0.2, id="default-200ms"), pytest.param(300, 0.3, id="300ms")],
)
async def test_slow_delays_every_response_accurately(
    sim: Simulator, delay_ms: int, expected_s: float
) -> None:
    """slow delays each response by delay_ms (200 ms when 0): never less, and never doubled.

    The upper bound leaves room for a loaded CI machine; what it must catch is a delay applied
    twice (per chunk, or on both hops), which would be at least twice the injected one."""
    sim.set_fault("app", "slow", delay_ms=delay_ms)
    assert sim.fault("app") == ("slow", int(expected_s * 1000))
    async with client_for(sim) as client:
        await client.get(f"{sim.sso_url}/healthz")  # open the pool outside the measure
        started = time.perf_counter()
        resp = await client.get(f"{sim.app_url}/eoffice/")
        elapsed = time.perf_counter() - started
    assert resp.status_code == 200 and APP_MARKER in resp.text
    assert expected_s * 0.95 <= elapsed < expected_s * 1.5


@pytest.mark.parametrize(
    ("mode", "status"),
    [pytest.param("http_500", 500, id="500"), pytest.param("http_503", 503, id="503")],
)
@pytest.mark.parametrize("app", ["sso", "app"])
async def test_http_error_modes_answer_every_route_with_that_status(
    sim: Simulator, app: str, mode: str, status: int
) -> None:
    """http_500 / http_503 answer every route of the app with that status and a marker-free
    page (503 with Retry-After), login API included; the other app is untouched."""
    sim.set_fault("sso" if app == "sso" else "app", mode)
    base, other = (sim.sso_url, sim.app_url) if app == "sso" else (sim.app_url, sim.sso_url)
    async with client_for(sim) as client:
        for path in ("/", "/healthz", "/pnv1/assets/login?sid=eOfficeUKSec", "/eoffice/"):
            resp = await client.get(f"{base}{path}")
            assert resp.status_code == status
            assert LOGIN_MARKER not in resp.text and APP_MARKER not in resp.text
            assert ("retry-after" in resp.headers) == (status == 503)
        posted = await client.post(f"{base}/pnv1/api/login", data={"username": "x"})
        assert posted.status_code == status
        assert (await client.get(f"{other}/healthz")).status_code == 200


async def test_bad_content_serves_200_pages_without_markers(sim: Simulator) -> None:
    """bad_content answers 200 with a maintenance page lacking both markers."""
    sim.set_fault("sso", "bad_content")
    sim.set_fault("app", "bad_content")
    async with client_for(sim) as client:
        for url in (f"{sim.sso_url}/pnv1/assets/login?sid=eOfficeUKSec", f"{sim.app_url}/"):
            resp = await client.get(url)
            assert resp.status_code == 200
            assert "maintenance" in resp.text
            assert LOGIN_MARKER not in resp.text and APP_MARKER not in resp.text


async def test_tls_serves_a_certificate_trusted_through_the_ca(
    tls_sim: Simulator, tmp_path: pytest.TempPathFactory
) -> None:
    """With tls=True both apps answer over HTTPS with a leaf from the exposed CA, the
    control API stays plain HTTP, and write_ca writes the same PEM as ca_pem."""
    assert tls_sim.sso_url.startswith("https://") and tls_sim.app_url.startswith("https://")
    assert tls_sim.control_url.startswith("http://")
    assert tls_sim.ca is not None and tls_sim.ca_pem is not None
    async with client_for(tls_sim) as client:
        assert (await client.get(f"{tls_sim.app_url}/eoffice/")).status_code == 200
        assert (await client.get(f"{tls_sim.sso_url}/healthz")).status_code == 200
    async with httpx.AsyncClient() as untrusting:
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            await untrusting.get(f"{tls_sim.sso_url}/healthz")


async def test_cert_expired_serves_an_expired_leaf_until_switched_back(
    tls_sim: Simulator,
) -> None:
    """cert_expired makes verification fail with 'certificate has expired' on new and
    kept-alive connections alike, only for that app; ok restores the valid leaf."""
    async with client_for(tls_sim) as client:
        assert (await client.get(f"{tls_sim.app_url}/eoffice/")).status_code == 200
        tls_sim.set_fault("app", "cert_expired")
        with pytest.raises(httpx.ConnectError, match="expired"):
            await client.get(f"{tls_sim.app_url}/eoffice/")
        assert (await client.get(f"{tls_sim.sso_url}/healthz")).status_code == 200
        tls_sim.set_fault("app", "ok")
        assert (await client.get(f"{tls_sim.app_url}/eoffice/")).status_code == 200


async def test_cert_expired_needs_tls(sim: Simulator) -> None:
    """Without TLS, cert_expired is refused with ValueError and the mode is unchanged."""
    with pytest.raises(ValueError, match="tls=True"):
        sim.set_fault("sso", "cert_expired")
    assert sim.fault("sso") == ("ok", 0)


@pytest.mark.parametrize(
    ("app", "mode", "delay_ms", "message"),
    [
        pytest.param("sso", "explode", 0, "unknown fault mode", id="unknown-mode"),
        pytest.param("db", "ok", 0, "unknown app", id="unknown-app"),
        pytest.param("app", "slow", -1, "between 0 and", id="negative-delay"),
    ],
)
async def test_set_fault_rejects_bad_input(
    sim: Simulator, app: str, mode: str, delay_ms: int, message: str
) -> None:
    """set_fault raises ValueError naming the problem for a bad app, mode or delay."""
    with pytest.raises(ValueError, match=message):
        sim.set_fault(app, mode, delay_ms)  # type: ignore[arg-type]


async def test_rapid_refuse_toggling_ends_in_a_consistent_state(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Toggling refuse on and off many times, within one loop tick and across ticks,
    while requests run, leaves the app serving on its port and logs nothing."""
    caplog.set_level(logging.DEBUG)
    url = f"{sim.app_url}/healthz"
    async with client_for(sim, timeout=2) as client:

        async def hammer() -> None:
            for _ in range(20):
                try:
                    await client.get(url)
                except httpx.TransportError:
                    pass

        worker = asyncio.create_task(hammer())
        for i in range(30):
            sim.set_fault("app", "refuse")
            sim.set_fault("app", "ok")
            if i % 2:
                sim.set_fault("app", "refuse")
            await asyncio.sleep(0 if i % 3 else 0.005)
        sim.set_fault("app", "ok")
        await worker
        await asyncio.sleep(0.01)
        assert (await client.get(url)).status_code == 200
    sim.set_fault("app", "refuse")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(sim.app_url.rsplit(":", 1)[1])), 1).close()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
