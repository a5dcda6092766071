"""A real prometheus-alertmanager posting to the bridge, which texts a local gateway stand-in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry

from smsbridge.app import BridgeService
from smsbridge.config import parse_config
from tests.support.stack import Alertmanager

pytestmark = [pytest.mark.e2e, pytest.mark.binaries]


def alertmanager_with(tmp_path: Path, config: dict[str, Any]) -> Alertmanager:
    """The pinned Alertmanager, alone on a loopback port, with this config (not started)."""
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    return Alertmanager(
        config=tmp_path / "alertmanager.yml",
        storage=tmp_path / "am-data",
        log=tmp_path / "alertmanager.log",
        extra_args=["--log.level=warn"],
    )


@pytest.fixture
async def bridge_service(tmp_path: Path, gateway: Any, sms: Any) -> AsyncIterator[BridgeService]:
    service = BridgeService(
        parse_config(sms.base_config(tmp_path, gateway_url=gateway.url)),
        registry=CollectorRegistry(),
    )
    await service.start()
    yield service
    await service.stop()


def _sms_route(**more: Any) -> dict[str, Any]:
    """The test Alertmanager's top route: alerts grouped by name go to the `sms` receiver
    within a second."""
    return {
        "receiver": "sms",
        "group_by": ["alertname"],
        "group_wait": "200ms",
        "group_interval": "1s",
        "repeat_interval": "4h",
        **more,
    }


def _bearer(tmp_path: Path, sms: Any) -> dict[str, Any]:
    """Write the bridge's token to a file; the webhook http_config that sends it."""
    (tmp_path / "am-token").write_text(sms.TOKEN + "\n")
    return {"authorization": {"type": "Bearer", "credentials_file": str(tmp_path / "am-token")}}


@pytest.fixture
async def alertmanager(
    tmp_path: Path, bridge_service: BridgeService, sms: Any
) -> AsyncIterator[str]:
    config = {
        "route": _sms_route(),
        "receivers": [
            {
                "name": "sms",
                "webhook_configs": [
                    {
                        "url": f"http://127.0.0.1:{bridge_service.port}/alertmanager",
                        "send_resolved": True,
                        "http_config": _bearer(tmp_path, sms),
                    }
                ],
            }
        ],
    }
    am = alertmanager_with(tmp_path, config)
    await am.start(within=20)
    try:
        yield am.url
    finally:
        await am.stop()


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


async def test_real_alertmanager_watchdog_heartbeat_then_silence_then_recovery(
    tmp_path: Path, gateway: Any, sms: Any
) -> None:
    """A real Alertmanager routes an always-firing Watchdog to /heartbeat (bearer token,
    repeat_interval 1s): the bridge counts heartbeats and texts nothing; killing
    Alertmanager makes the bridge text the on-call within silence + 2 s, once;
    starting it again (Prometheus re-sends the alert) brings exactly one recovery."""
    data = sms.with_heartbeat(sms.base_config(tmp_path, gateway_url=gateway.url), silence="3s")
    registry = CollectorRegistry()
    service = BridgeService(parse_config(data), registry=registry)
    await service.start()
    webhook = {"send_resolved": False, "http_config": _bearer(tmp_path, sms)}
    config = {
        "route": _sms_route(
            routes=[
                {
                    "receiver": "heartbeat",
                    "matchers": ['alertname="Watchdog"'],
                    "group_wait": "0s",
                    "group_interval": "1s",
                    "repeat_interval": "1s",
                }
            ],
        ),
        "receivers": [
            {
                "name": "sms",
                "webhook_configs": [
                    {"url": f"http://127.0.0.1:{service.port}/alertmanager", **webhook}
                ],
            },
            {
                "name": "heartbeat",
                "webhook_configs": [
                    {"url": f"http://127.0.0.1:{service.port}/heartbeat", **webhook}
                ],
            },
        ],
    }
    am = alertmanager_with(tmp_path, config)
    watchdog = {
        "labels": {"alertname": "Watchdog", "severity": "none", "scope": "monitoring"},
        "annotations": {"summary": "The monitoring chain works (always firing)."},
        "startsAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }

    def beats() -> float:
        return registry.get_sample_value("parichay_smsbridge_heartbeats_total") or 0.0

    def ids(*wanted: str) -> list[str]:
        return [
            r.form["dlt_template_id"]
            for r in gateway.delivered
            if r.form["dlt_template_id"] in wanted
        ]

    broken = ("1107160000000000011", "1107160000000000012")
    restored = ("1107160000000000013", "1107160000000000014")
    try:
        await am.start()
        async with httpx.AsyncClient(trust_env=False) as client:
            assert (
                await client.post(f"{am.url}/api/v2/alerts", json=[watchdog])
            ).status_code == 200
        await sms.poll(lambda: beats() >= 3, within=20)
        await asyncio.sleep(4.0)  # longer than the silence while Alertmanager calls
        assert gateway.requests == []
        assert registry.get_sample_value("parichay_smsbridge_heartbeat_missing") == 0

        await am.kill()
        killed = time.monotonic()
        await sms.poll(lambda: len(ids(*broken)) == 2, within=15)
        took = time.monotonic() - killed
        assert took <= 3.0 + 2.0, took
        assert registry.get_sample_value("parichay_smsbridge_heartbeat_missing") == 1
        await asyncio.sleep(4.0)
        assert sorted(ids(*broken)) == sorted(broken)  # once, not once per check

        await am.start()
        async with httpx.AsyncClient(trust_env=False) as client:
            assert (
                await client.post(f"{am.url}/api/v2/alerts", json=[watchdog])
            ).status_code == 200
        await sms.poll(lambda: len(ids(*restored)) == 2, within=20)
        await asyncio.sleep(4.0)
        assert sorted(ids(*restored)) == sorted(restored)
        assert len(gateway.delivered) == 4
        assert registry.get_sample_value("parichay_smsbridge_heartbeat_missing") == 0
        assert (
            registry.get_sample_value(
                "parichay_smsbridge_webhooks_total", {"result": "unauthorized"}
            )
            == 0
        )
    finally:
        await am.kill()
        await service.stop()
