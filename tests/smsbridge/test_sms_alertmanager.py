"""A real prometheus-alertmanager posting to the bridge, which texts a local gateway stand-in."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry

from smsbridge.config import parse_config
from smsbridge.service import BridgeService
from tests.support.binaries import pinned_binary

pytestmark = pytest.mark.e2e

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def bridge_service(tmp_path: Path, gateway: Any, sms: Any) -> AsyncIterator[BridgeService]:
    service = BridgeService(
        parse_config(sms.base_config(tmp_path, gateway_url=gateway.url)),
        registry=CollectorRegistry(),
    )
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def alertmanager(
    tmp_path: Path, bridge_service: BridgeService, sms: Any
) -> AsyncIterator[str]:
    binary = pinned_binary("prometheus-alertmanager")
    (tmp_path / "am-token").write_text(sms.TOKEN + "\n")
    config = {
        "route": {
            "receiver": "sms",
            "group_by": ["alertname"],
            "group_wait": "200ms",
            "group_interval": "1s",
            "repeat_interval": "4h",
        },
        "receivers": [
            {
                "name": "sms",
                "webhook_configs": [
                    {
                        "url": f"http://127.0.0.1:{bridge_service.port}/alertmanager",
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {
                                "type": "Bearer",
                                "credentials_file": str(tmp_path / "am-token"),
                            }
                        },
                    }
                ],
            }
        ],
    }
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        async with httpx.AsyncClient(trust_env=False) as client:
            while True:
                if proc.returncode is not None:
                    pytest.fail(
                        f"alertmanager exited:\n{(tmp_path / 'alertmanager.log').read_text()}"
                    )
                try:
                    if (await client.get(f"{url}/-/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("alertmanager did not become ready in 20s")
                await asyncio.sleep(0.05)
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


async def test_real_alertmanager_page_becomes_sms_then_resolved(
    alertmanager: str, bridge_service: BridgeService, gateway: Any, sms: Any
) -> None:
    """AM posts with its bearer credentials_file; FIRING reaches on-call and director, then
    RESOLVED reaches only on-call (if_fired; the director route has resolved: never)."""
    starts = datetime.now(UTC).replace(microsecond=0)
    alert = {
        "labels": {
            "alertname": "ParichayDown",
            "severity": "page",
            "scope": "central",
            "role": "sso",
            "target": "parichay",
            "vantage": "secretariat-dehradun",
        },
        "annotations": {"summary": "Parichay SSO is down", "summary_hi": "परिचय बंद है"},
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
    }
    async with httpx.AsyncClient(trust_env=False) as client:
        posted = await client.post(f"{alertmanager}/api/v2/alerts", json=[alert])
        assert posted.status_code == 200
        await gateway.wait_for(2, within=20)
        firing = {r.form["mnumber"]: r.form for r in gateway.requests}
        assert set(firing) == {"919876543210", "919812345678"}
        english = firing["919876543210"]["message"]
        assert english.startswith("ITDA ALERT FIRING: Parichay - ParichayDown (central scope)")
        hindi = bytes.fromhex(firing["919812345678"]["message"]).decode("utf-16-be")
        assert hindi.startswith("ITDA चेतावनी चालू: परिचय - ParichayDown")

        alert["endsAt"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        assert (await client.post(f"{alertmanager}/api/v2/alerts", json=[alert])).status_code == 200
        await gateway.wait_for(3, within=20)
    resolved = gateway.requests[2].form
    assert resolved["mnumber"] == "919876543210"
    assert resolved["message"].startswith("ITDA ALERT RESOLVED: Parichay - ParichayDown")
    assert len(gateway.requests) == 3
    sample = bridge_service.registry.get_sample_value(
        "parichay_smsbridge_webhooks_total", {"result": "accepted"}
    )
    assert sample == 2
