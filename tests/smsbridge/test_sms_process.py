"""The bridge as a real process: kill -9 after accepting loses nothing; SIGTERM is clean."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import reaper

SCRIPT = Path(sys.executable).parent / "parichay-sms-bridge"


class BridgeProcess:
    """`parichay-sms-bridge run` in a subprocess; the port is read from its start-up log."""

    def __init__(self, config: Path, log: Path) -> None:
        if not SCRIPT.exists():
            pytest.fail(
                f"console script {SCRIPT} not found: install the project (pip install -e .)"
            )
        self.log = log
        # A restart appends to the same log; only lines after this point count.
        self._skip = len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0
        self._log_file = log.open("ab")
        self.proc = reaper.popen(
            [str(SCRIPT), "run", "--config", str(config), "--listen", "127.0.0.1:0"],
            stdout=self._log_file,
            stderr=self._log_file,
        )
        self.port = 0

    async def wait_listening(self, *, within: float = 15.0) -> int:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"bridge exited early:\n{self.log.read_text()}")
            lines = self.log.read_text(encoding="utf-8").splitlines()[self._skip :]
            for line in lines:
                if line.startswith("{") and '"sms bridge listening"' in line:
                    self.port = int(json.loads(line)["port"])
                    return self.port
            await asyncio.sleep(0.05)
        raise AssertionError(f"bridge did not start:\n{self.log.read_text()}")

    async def wait_exit(self, *, within: float = 10.0) -> int:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                self._log_file.close()
                return code
            await asyncio.sleep(0.05)
        self.proc.kill()
        raise AssertionError("bridge did not exit in time")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log_file.close()


def _states(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT state FROM outbox ORDER BY id")]


async def _post(port: int, body: Any, token: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False) as client:
        return await client.post(
            f"http://127.0.0.1:{port}/alertmanager",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )


async def test_kill_9_after_accepting_loses_nothing(tmp_path: Path, gateway: Any, sms: Any) -> None:
    """SIGKILL while the gateway fails; after a restart both SMS are delivered exactly once
    and the de-duplication memory has survived too."""
    gateway.fail_always = True
    config = sms.write_config(tmp_path, sms.base_config(tmp_path, gateway_url=gateway.url))
    log = tmp_path / "bridge.log"
    first = BridgeProcess(config, log)
    try:
        port = await first.wait_listening()
        response = await _post(port, sms.payload(), sms.TOKEN)
        assert response.json() == {"status": "accepted", "queued": 2}
        await gateway.wait_for(1)  # a failed attempt is under way or done
        first.proc.send_signal(signal.SIGKILL)
        assert await first.wait_exit() == -signal.SIGKILL
    finally:
        first.kill()
    assert _states(tmp_path / "outbox.sqlite3") == ["pending", "pending"]
    assert gateway.delivered == []

    gateway.fail_always = False
    second = BridgeProcess(config, log)
    try:
        await second.wait_listening()
        await sms.poll(lambda: len(gateway.delivered) >= 2, within=15)
        await sms.poll(lambda: _states(tmp_path / "outbox.sqlite3") == ["sent", "sent"])
        # Alertmanager retrying the same notification after the restart is still a duplicate.
        again = await _post(second.port, sms.payload(), sms.TOKEN)
        assert again.json() == {"status": "duplicate", "queued": 0}
        second.proc.send_signal(signal.SIGTERM)
        assert await second.wait_exit() == 0
    finally:
        second.kill()
    assert sorted(r.form["mnumber"] for r in gateway.delivered) == ["919812345678", "919876543210"]


async def test_sigterm_shuts_down_cleanly_leaving_pending_rows(
    tmp_path: Path, gateway: Any, sms: Any
) -> None:
    """SIGTERM exits 0 promptly, with undelivered SMS still pending in the outbox."""
    gateway.fail_always = True
    data = sms.base_config(tmp_path, gateway_url=gateway.url)
    data["sender"].update(retry_initial="10s", retry_max="10s")
    config = sms.write_config(tmp_path, data)
    bridge = BridgeProcess(config, tmp_path / "bridge.log")
    try:
        port = await bridge.wait_listening()
        body = sms.payload([sms.alert(scope="app", alertname="EOfficeDown")])
        assert (await _post(port, body, sms.TOKEN)).status_code == 200
        await gateway.wait_for(1)
        bridge.proc.send_signal(signal.SIGTERM)
        assert await bridge.wait_exit() == 0
    finally:
        bridge.kill()
    assert _states(tmp_path / "outbox.sqlite3") == ["pending"]
    messages = [
        json.loads(line)["msg"]
        for line in (tmp_path / "bridge.log").read_text().splitlines()
        if line.startswith("{")
    ]
    assert "shutting down; undelivered SMS stay in the outbox" in messages
    assert "sms bridge stopped" in messages


def test_run_with_a_bad_config_exits_1_without_a_traceback(tmp_path: Path) -> None:
    """`run` refuses to start on an invalid config and prints the errors, not a traceback."""
    bad = tmp_path / "bad.yml"
    bad.write_text("listen: nowhere\n")
    if not SCRIPT.exists():
        pytest.fail(f"console script {SCRIPT} not found: install the project (pip install -e .)")
    result = subprocess.run(
        [str(SCRIPT), "run", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "listen: expected HOST:PORT such as 0.0.0.0:10072, got 'nowhere'" in result.stderr
    assert "auth: is required" in result.stderr
    assert "Traceback" not in result.stderr


async def test_dead_mans_switch_texts_and_emails_once_then_recovers_once(
    tmp_path: Path, gateway: Any, smtp_server: Any, sms: Any
) -> None:
    """The real process with a 3 s silence: heartbeats keep it quiet; when they stop the
    gateway gets the English and Hindi 'chain broken' SMS and the SMTP server one email,
    within the silence plus a margin, once; when they resume, exactly one recovery."""
    data = sms.with_heartbeat(
        sms.base_config(tmp_path, gateway_url=gateway.url),
        silence="3s",
        smtp=smtp_server,
        tmp_path=tmp_path,
    )
    bridge = BridgeProcess(sms.write_config(tmp_path, data), tmp_path / "bridge.log")
    broken_ids = {"1107160000000000011", "1107160000000000012"}
    ok_ids = {"1107160000000000013", "1107160000000000014"}

    def texts(ids: set[str]) -> list[str]:
        return [
            r.form["dlt_template_id"] for r in gateway.delivered if r.form["dlt_template_id"] in ids
        ]

    async def heartbeats(port: int, seconds: float) -> float:
        """Send heartbeats every 0.5 s for `seconds`; the time the last one was answered."""
        deadline = time.monotonic() + seconds
        last = 0.0
        while time.monotonic() < deadline:
            response = await _post_to(port, "/heartbeat", _watchdog(sms), sms.TOKEN)
            assert response.status_code == 200, response.text
            last = time.monotonic()
            await asyncio.sleep(0.5)
        return last

    try:
        port = await bridge.wait_listening()
        stopped = await heartbeats(port, 4.0)  # longer than the silence: held off
        assert gateway.requests == [] and smtp_server.received() == []
        await sms.poll(
            lambda: len(texts(broken_ids)) == 2 and len(smtp_server.received()) == 1, within=15
        )
        took = time.monotonic() - stopped
        # Not before the silence (less the HTTP round trip), at most one check
        # interval (0.75 s) later, plus sender and scheduling slack on a loaded machine.
        assert 2.9 <= took <= 3.0 + 0.75 + 2.5, took
        (mail,) = smtp_server.received()
        assert mail.subject.startswith(
            "[ITDA] FIRING: monitoring chain broken - no heartbeat since "
        )
        assert (mail.tls, mail.authenticated) == (True, True)
        english = next(
            r.form["message"]
            for r in gateway.delivered
            if r.form["dlt_template_id"] == "1107160000000000011"
        )
        assert english.startswith("ITDA ALERT: monitoring chain broken: no heartbeat since ")
        assert english.endswith("IST (limit 3s). Alerts may not reach you. -ITDA")
        await asyncio.sleep(4.0)  # more than another silence: no second 'broken'
        assert sorted(texts(broken_ids)) == sorted(broken_ids)
        assert len(smtp_server.received()) == 1
        metrics = await _metrics(port)
        assert "parichay_smsbridge_heartbeat_missing 1.0" in metrics

        await heartbeats(port, 4.0)
        await sms.poll(
            lambda: len(texts(ok_ids)) == 2 and len(smtp_server.received()) == 2, within=10
        )
        await asyncio.sleep(1.0)
        assert sorted(texts(ok_ids)) == sorted(ok_ids)
        assert len(gateway.delivered) == 4
        assert smtp_server.received()[1].subject.startswith(
            "[ITDA] RESOLVED: monitoring chain restored at "
        )
        metrics = await _metrics(port)
        assert "parichay_smsbridge_heartbeat_missing 0.0" in metrics
        assert "parichay_smsbridge_heartbeat_silence_seconds 3.0" in metrics
        bridge.proc.send_signal(signal.SIGTERM)
        assert await bridge.wait_exit() == 0
    finally:
        bridge.kill()
    assert sms.SMTP_PASSWORD not in (tmp_path / "bridge.log").read_text()


def _watchdog(sms: Any) -> dict[str, Any]:
    alert = sms.alert(alertname="Watchdog", severity="none", scope="monitoring")
    alert["labels"] = {"alertname": "Watchdog", "severity": "none", "scope": "monitoring"}
    return sms.payload([alert], group_key='{}:{alertname="Watchdog"}')


async def _post_to(port: int, path: str, body: Any, token: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False) as client:
        return await client.post(
            f"http://127.0.0.1:{port}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )


async def _metrics(port: int) -> str:
    async with httpx.AsyncClient(trust_env=False) as client:
        return (await client.get(f"http://127.0.0.1:{port}/metrics")).text
