"""Benchmark: webhook accept latency (fsync'd outbox) and end-to-end delivery rate.

Runs the bridge in-process on 127.0.0.1 with a local gateway stand-in and reports the
p50/p99 of POST /alertmanager -> 200 (each one a committed, fsync'd SQLite transaction)
and how long the sender takes to drain the queue. Not a test; numbers depend on the disk.

    python bench/sms_accept.py [--webhooks 300] [--dir /var/lib/parichay-smsbridge]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

# Run as a script: the repository root on sys.path, for the test helpers in tests/support.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smsbridge.app import BridgeService
from smsbridge.config import parse_config
from tests.support.sinks import GatewayStandIn

TOKEN = "bench-token"


def _config(root: Path, gateway: str) -> dict[str, object]:
    (root / "token").write_text(TOKEN)
    (root / "pin").write_text("bench-pin")
    return {
        "listen": "127.0.0.1:0",
        "auth": {"token_file": str(root / "token")},
        "outbox": {"path": str(root / "outbox.sqlite3")},
        "sender": {"concurrency": 8, "poll_interval": "100ms"},
        "providers": {
            "nic": {
                "url": f"{gateway}/nic",
                "username": "u",
                "pin_file": str(root / "pin"),
                "signature": "ITDAUK",
                "dlt_entity_id": "1101234567890123456",
            }
        },
        "templates": {
            "t": {
                "dlt_template_id": "1107160000000000001",
                "dlt_text": "ITDA {#var#}: {#var#} since {#var#} IST",
                "text": "ITDA {status}: {what} since {since} IST",
            }
        },
        "recipients": {"on-call": [{"number": "+919876543210"}]},
        "routes": [
            {
                "name": "r",
                "match": {"severity": "page"},
                "recipients": ["on-call"],
                "templates": ["t"],
            }
        ],
    }


def _payload(n: int) -> dict[str, object]:
    labels = {"alertname": "EOfficeDown", "severity": "page", "scope": "app", "target": f"t{n}"}
    return {
        "version": "4",
        "groupKey": f"bench-{n}",
        "status": "firing",
        "receiver": "sms",
        "groupLabels": {},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {},
                "fingerprint": f"f{n}",
                "startsAt": "2026-11-25T04:12:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
            }
        ],
    }


async def main(webhooks: int, directory: str | None) -> None:
    async with GatewayStandIn() as gateway:
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            service = BridgeService(
                parse_config(_config(Path(tmp), gateway.url)),
                registry=CollectorRegistry(),
            )
            await service.start()
            latencies: list[float] = []
            started = time.perf_counter()
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{service.port}",
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as client:
                for n in range(webhooks):
                    t0 = time.perf_counter()
                    response = await client.post("/alertmanager", json=_payload(n))
                    latencies.append(time.perf_counter() - t0)
                    assert response.status_code == 200, response.text
            accepted = time.perf_counter() - started
            await gateway.wait_for(webhooks, path="/nic", within=120)
            drained = time.perf_counter() - started
            await service.stop()
        received = len(gateway.requests)
    latencies.sort()
    print(f"webhooks: {webhooks}, accepted in {accepted:.2f}s ({webhooks / accepted:.0f}/s)")
    print(
        f"accept latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms"
    )
    print(f"all {received} SMS delivered to the stand-in after {drained:.2f}s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--webhooks", type=int, default=300)
    parser.add_argument("--dir", default=None, help="directory for the outbox (the real disk)")
    args = parser.parse_args()
    asyncio.run(main(args.webhooks, args.dir))
