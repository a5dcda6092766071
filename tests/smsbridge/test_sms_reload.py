"""Reloading the bridge's config: SIGHUP applies a valid file, keeps the old one otherwise.

In-process tests call `reload_from_file` on a running `BridgeService` over real sockets;
the last test sends SIGHUP to a real `parichay-sms-bridge run` process.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry

from smsbridge.app import BridgeService
from smsbridge.cli import reload_from_file
from smsbridge.config import load_config
from tests.smsbridge.test_sms_process import BridgeProcess

NEW_TOKEN = "rotated-webhook-token-91ab"
NEW_NUMBER = "+919700000001"
# The running bridge, its config file and the data that file was written from.
Running = tuple[BridgeService, Path, dict[str, Any]]


@pytest.fixture
async def running(
    tmp_path: Path, gateway: Any, sms: Any
) -> AsyncIterator[Running]:
    data = sms.base_config(tmp_path, gateway_url=gateway.url)
    path = sms.write_config(tmp_path, data)
    service = BridgeService(load_config(str(path)), registry=CollectorRegistry())
    await service.start(run_sender=False)
    try:
        yield service, path, data
    finally:
        await service.stop()


async def _post(port: int, body: Any, token: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        return await client.post(
            f"http://127.0.0.1:{port}/alertmanager",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )


def _numbers(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT number FROM outbox ORDER BY id")]


async def _queued_to(service: BridgeService, token: str, sms: Any, tmp_path: Path) -> list[str]:
    """Post the test alert with `token`: it is accepted as two SMS; the numbers queued."""
    response = await _post(service.port, sms.payload(), token)
    assert response.json() == {"status": "accepted", "queued": 2}
    return sorted(_numbers(tmp_path / "outbox.sqlite3"))


def _gauge(service: BridgeService, name: str) -> float:
    value = service.registry.get_sample_value(f"parichay_smsbridge_{name}")
    assert value is not None, name
    return value


async def test_a_valid_reload_rotates_the_token_and_changes_recipients(
    running: Running, tmp_path: Path, sms: Any
) -> None:
    """The new token is accepted and the old one refused at once; a webhook after the
    reload goes to the new on-call number; the reload is visible in the metrics."""
    service, path, data = running
    loaded_at = _gauge(service, "config_last_reload_success_timestamp_seconds")
    (tmp_path / "token").write_text(NEW_TOKEN + "\n")
    data["recipients"]["on-call"] = [{"name": "Duty 2", "number": NEW_NUMBER}]
    sms.write_config(tmp_path, data)

    assert reload_from_file(service, str(path)) is True

    assert _gauge(service, "config_last_reload_successful") == 1
    assert _gauge(service, "config_last_reload_success_timestamp_seconds") >= loaded_at
    assert (await _post(service.port, sms.payload(), sms.TOKEN)).status_code == 401
    assert await _queued_to(service, NEW_TOKEN, sms, tmp_path) == ["+919700000001", "+919812345678"]


async def test_an_invalid_file_is_rejected_naming_the_yaml_path_and_the_old_config_runs(
    running: Running,
    tmp_path: Path,
    sms: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, path, data = running
    data["routes"][0]["recipients"] = ["no-such-group"]
    sms.write_config(tmp_path, data)

    assert reload_from_file(service, str(path)) is False

    assert _gauge(service, "config_last_reload_successful") == 0
    errors = " ".join(str(getattr(r, "errors", "")) for r in caplog.records)
    assert "routes[0].recipients" in errors
    assert "no-such-group" in errors
    assert await _queued_to(service, sms.TOKEN, sms, tmp_path) == ["+919812345678", "+919876543210"]


async def test_changing_the_outbox_file_needs_a_restart_and_changes_nothing(
    running: Running,
    tmp_path: Path,
    sms: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, path, data = running
    data["outbox"]["path"] = str(tmp_path / "elsewhere.sqlite3")
    data["recipients"]["on-call"] = [{"name": "Duty 2", "number": NEW_NUMBER}]
    sms.write_config(tmp_path, data)

    assert reload_from_file(service, str(path)) is False

    assert _gauge(service, "config_last_reload_successful") == 0
    assert any("outbox.path: cannot change while running" in str(getattr(r, "errors", ""))
               for r in caplog.records)
    await _post(service.port, sms.payload(), sms.TOKEN)
    # The recipient change in the same file was not applied either: all or nothing.
    assert "+919700000001" not in _numbers(tmp_path / "outbox.sqlite3")
    assert not (tmp_path / "elsewhere.sqlite3").exists()


async def test_sighup_reloads_a_running_process_and_survives_a_broken_file(
    tmp_path: Path, gateway: Any, sms: Any
) -> None:
    """Real process: SIGHUP with a rotated token file switches tokens; SIGHUP with a broken
    YAML file logs the path and keeps serving with the last good config. No token is ever
    written to the log."""
    data = sms.base_config(tmp_path, gateway_url=gateway.url)
    config = sms.write_config(tmp_path, data)
    log = tmp_path / "bridge.log"
    bridge = BridgeProcess(config, log)
    try:
        port = await bridge.wait_listening()
        (tmp_path / "token").write_text(NEW_TOKEN + "\n")
        bridge.proc.send_signal(signal.SIGHUP)
        await sms.poll(lambda: '"config reloaded"' in log.read_text(encoding="utf-8"))
        assert (await _post(port, sms.payload(), sms.TOKEN)).status_code == 401
        assert (await _post(port, sms.payload(), NEW_TOKEN)).status_code == 200

        config.write_text(
            yaml.safe_dump({**data, "sender": {**data["sender"], "retry_max": "soon"}}),
            encoding="utf-8",
        )
        bridge.proc.send_signal(signal.SIGHUP)
        await sms.poll(lambda: '"config reload rejected' in log.read_text(encoding="utf-8"))
        rejected = [
            json.loads(line)
            for line in log.read_text(encoding="utf-8").splitlines()
            if '"config reload rejected' in line
        ]
        assert "sender.retry_max" in rejected[0]["errors"]
        async with httpx.AsyncClient(trust_env=False) as client:
            metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        assert "parichay_smsbridge_config_last_reload_successful 0.0" in metrics
        second = sms.payload(group_key='{}/{severity="page"}:{alertname="EOfficeDown"}')
        assert (await _post(port, second, NEW_TOKEN)).status_code == 200
        assert bridge.proc.poll() is None
        bridge.proc.send_signal(signal.SIGTERM)
        assert await bridge.wait_exit() == 0
    finally:
        bridge.kill()
    text = log.read_text(encoding="utf-8")
    assert NEW_TOKEN not in text and sms.TOKEN not in text and sms.PIN not in text
