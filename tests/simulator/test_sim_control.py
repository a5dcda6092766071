"""The simulator's control API, counters, reset, account generation, CA export and CLI."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from simulator import FAULT_MODES, SimAccount, Simulator
from simulator.cli import main
from simulator.testing import client_for, open_login_page, submit_password


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as s:
        yield s


async def test_get_faults_shows_both_apps(sim: Simulator) -> None:
    """GET /_sim/faults lists the mode and delay of both apps, ok/0 at start."""
    async with client_for(sim) as client:
        resp = await client.get(f"{sim.control_url}/_sim/faults")
    assert resp.status_code == 200
    assert resp.json() == {
        "sso": {"mode": "ok", "delay_ms": 0},
        "app": {"mode": "ok", "delay_ms": 0},
    }


async def test_post_fault_per_app_path_and_in_body(sim: Simulator) -> None:
    """POST /_sim/faults/{app} and POST /_sim/faults with an app field both set the mode,
    answer 200 with the new state, and the Python API sees the change."""
    async with client_for(sim) as client:
        resp = await client.post(
            f"{sim.control_url}/_sim/faults/sso", json={"mode": "slow", "delay_ms": 50}
        )
        assert resp.status_code == 200
        assert resp.json()["sso"] == {"mode": "slow", "delay_ms": 50}
        resp = await client.post(
            f"{sim.control_url}/_sim/faults", json={"app": "app", "mode": "http_503"}
        )
        assert resp.status_code == 200
        assert resp.json()["app"] == {"mode": "http_503", "delay_ms": 0}
        assert (await client.get(f"{sim.app_url}/")).status_code == 503
    assert sim.fault("sso") == ("slow", 50)


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        pytest.param("/_sim/faults/sso", b'{"mode": "boom"}', 400, "unknown fault mode",
                     id="unknown-mode"),
        pytest.param("/_sim/faults/sso", b"{mode", 400, "must be JSON", id="bad-json"),
        pytest.param("/_sim/faults/sso", b'["ok"]', 400, "JSON object", id="not-object"),
        pytest.param("/_sim/faults/sso", b'{"mode": "cert_expired"}', 400, "tls=True",
                     id="cert-expired-without-tls"),
        pytest.param("/_sim/faults/app", b'{"mode": "slow", "delay_ms": "fast"}', 400,
                     "delay_ms must be an integer", id="bad-delay"),
        pytest.param("/_sim/faults/app", b'{"delay_ms": 5}', 400, "missing field 'mode'",
                     id="missing-mode"),
        pytest.param("/_sim/faults/app", b'{"mode": "ok", "speed": 1}', 400,
                     "unknown field(s): speed", id="unknown-field"),
        pytest.param("/_sim/faults", b'{"app": "db", "mode": "ok"}', 400, "unknown app",
                     id="unknown-app-in-body"),
        pytest.param("/_sim/faults/db", b'{"mode": "ok"}', 404, "unknown app",
                     id="unknown-app-in-path"),
    ],
)
async def test_control_api_rejects_bad_input_with_a_clear_message(
    sim: Simulator, path: str, body: bytes, status: int, message: str
) -> None:
    """Bad fault requests answer 400 (404 for an unknown app path) with a message naming
    the problem, and leave both modes unchanged."""
    async with client_for(sim) as client:
        resp = await client.post(f"{sim.control_url}{path}", content=body)
    assert resp.status_code == status
    assert message in resp.json()["error"]
    assert sim.fault("sso") == ("ok", 0) and sim.fault("app") == ("ok", 0)


async def test_control_api_answers_while_both_apps_refuse_or_hang(sim: Simulator) -> None:
    """The control API stays up when one app refuses and the other hangs, and can undo it."""
    sim.set_fault("sso", "refuse")
    sim.set_fault("app", "hang")
    async with client_for(sim, timeout=2) as client:
        resp = await client.post(f"{sim.control_url}/_sim/reset")
        assert resp.status_code == 200
        assert (await client.get(f"{sim.sso_url}/healthz")).status_code == 200
        assert (await client.get(f"{sim.app_url}/healthz")).status_code == 200


async def test_stats_endpoint_and_reset_clear_counters_modes_and_lockout(
    sim: Simulator,
) -> None:
    """GET /_sim/stats mirrors stats(); POST /_sim/reset sets every mode to ok, zeroes
    counters and lifts a lockout; reset_stats() zeroes counters only."""
    async with client_for(sim) as client:
        csrf = await open_login_page(client, sim)
        sim.set_fault("app", "bad_content")
        for _ in range(4):
            await submit_password(client, sim, csrf=csrf, password="wrong")
        stats = (await client.get(f"{sim.control_url}/_sim/stats")).json()
        assert stats == sim.stats()
        assert stats["sso.api_login"] == 4
        assert stats["sso.login_rejected"] == 3 and stats["sso.captcha_required"] == 1
        assert stats["app.root"] == 1 and stats["sso.login_page"] == 1
        reset = await client.post(f"{sim.control_url}/_sim/reset")
        assert reset.json()["app"] == {"mode": "ok", "delay_ms": 0}
        assert set(sim.stats().values()) == {0}
        csrf = await open_login_page(client, sim)
        assert (await submit_password(client, sim, csrf=csrf)).status_code == 200
    assert sim.stats()["sso.api_login"] == 1
    sim.reset_stats()
    assert sim.stats()["sso.api_login"] == 0


async def test_unknown_routes_are_counted_as_other(sim: Simulator) -> None:
    """A request to an unknown path is a 404 counted under <app>.other."""
    async with client_for(sim) as client:
        assert (await client.get(f"{sim.app_url}/nope")).status_code == 404
    assert sim.stats()["app.other"] == 1


def test_generated_accounts_are_random_and_hide_secrets_in_repr() -> None:
    """SimAccount.generate() gives distinct gov.in accounts with a base32 TOTP secret, and
    repr() shows neither the password nor the secret."""
    first, second = SimAccount.generate(), SimAccount.generate()
    assert first != second
    assert first.username.endswith("@uk.gov.in")
    assert len(first.totp_secret) == 32 and first.totp_secret.isalnum()
    assert first.password not in repr(first) and first.totp_secret not in repr(first)


def test_fault_modes_are_the_documented_closed_list() -> None:
    """FAULT_MODES is exactly the documented tuple, in order."""
    assert FAULT_MODES == (
        "ok", "refuse", "hang", "slow", "http_500", "http_503", "bad_content",
        "cert_expired", "login_reject", "otp_reject", "csrf_missing", "redirect_broken",
    )


async def test_write_ca_writes_the_pem_and_needs_tls(tmp_path: Path) -> None:
    """write_ca writes ca_pem (which is available before start); without TLS it raises."""
    sim = Simulator(tls=True)
    assert sim.ca_pem is not None and sim.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    sim.write_ca(tmp_path / "ca.pem")
    assert (tmp_path / "ca.pem").read_bytes() == sim.ca_pem
    with pytest.raises(ValueError, match="tls=False"):
        Simulator().write_ca(tmp_path / "none.pem")
    assert Simulator().ca is None and Simulator().ca_pem is None


async def test_urls_are_unavailable_before_start() -> None:
    """Reading sso_url before start() raises RuntimeError instead of returning junk."""
    with pytest.raises(RuntimeError, match="not started"):
        _ = Simulator().sso_url


async def test_fixed_ports_are_honoured(sim: Simulator) -> None:
    """Explicit ports are bound as given (here: the ports a first simulator just freed)."""
    ports = [int(url.rsplit(":", 1)[1]) for url in (sim.sso_url, sim.app_url, sim.control_url)]
    await sim.stop()
    async with Simulator(sso_port=ports[0], app_port=ports[1], control_port=ports[2]) as again:
        assert again.sso_url.endswith(f":{ports[0]}")
        assert again.app_url.endswith(f":{ports[1]}")
        assert again.control_url.endswith(f":{ports[2]}")


def test_cli_rejects_ca_out_without_tls(capsys: pytest.CaptureFixture[str]) -> None:
    """--ca-out without --tls is a usage error (exit status 2)."""
    with pytest.raises(SystemExit) as exc:
        main(["--ca-out", "/tmp/never-written.pem"])
    assert exc.value.code == 2
    assert "--ca-out needs --tls" in capsys.readouterr().err


async def test_cli_prints_urls_and_account_and_stops_on_sigterm(tmp_path: Path) -> None:
    """python -m simulator prints the three URLs and the simulator-only account,
    writes the CA with --ca-out, serves, and exits 0 on SIGTERM."""
    ca = tmp_path / "ca.pem"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", "--tls", "--ca-out", str(ca),
        "--sso-port", "0", "--app-port", "0", "--control-port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while not lines or not lines[-1].startswith("Press Ctrl-C"):
            line = await asyncio.wait_for(proc.stdout.readline(), 15)
            assert line, "simulator exited early"
            lines.append(line.decode().strip())
        text = "\n".join(lines)
        assert "SIMULATOR-ONLY" in text and "@uk.gov.in" in text and "TOTP secret" in text
        control = next(x for x in lines if x.startswith("control API")).split(" : ")[1]
        async with httpx.AsyncClient() as client:
            assert (await client.get(control)).json()["sso"]["mode"] == "ok"
        assert ca.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    assert b"simulator stopped" in out
