"""The bridge serves the standard process and Python metrics beside its own families."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from smsbridge.app import BridgeService
from smsbridge.config import parse_config
from smsbridge.metrics import PREFIX


def test_a_fresh_registry_gets_process_and_python_metrics(tmp_path: Path, sms: Any) -> None:
    """process_*, python_gc_* and python_info are on the service's registry, next to the
    unchanged parichay_smsbridge_ families, and nothing else is added."""
    registry = CollectorRegistry()
    config = parse_config(sms.base_config(tmp_path, gateway_url="http://127.0.0.1:9/nic"))
    BridgeService(config, registry=registry)
    assert registry.get_sample_value("process_resident_memory_bytes") is not None
    assert registry.get_sample_value("process_start_time_seconds") is not None
    assert registry.get_sample_value("python_gc_collections_total", {"generation": "2"}) is not None
    names = {m.name for m in registry.collect()}
    assert "python_info" in names
    assert {n for n in names if not n.startswith(PREFIX)} == {
        n for n in names if n.startswith(("process_", "python_"))
    }
    assert registry.get_sample_value(PREFIX + "webhooks_total", {"result": "accepted"}) == 0


async def test_metrics_page_has_process_metrics(gateway: Any, tmp_path: Path, sms: Any) -> None:
    """GET /metrics of a running bridge includes process_cpu_seconds_total and python_info."""
    service = BridgeService(
        parse_config(sms.base_config(tmp_path, gateway_url=gateway.url)),
        registry=CollectorRegistry(),
    )
    await service.start(run_sender=False)
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            page = (await client.get(f"http://127.0.0.1:{service.port}/metrics")).text
    finally:
        await service.stop()
    assert "process_cpu_seconds_total " in page
    assert 'python_info{implementation="CPython"' in page
    assert "parichay_smsbridge_queue_depth " in page
