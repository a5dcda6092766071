"""`make statuspage-demo`: the status page over 90 days of generated history, on loopback.

Starts a real Prometheus over the standard backfilled history (the Monday outage, the
partial-reachability hour, a maintenance window, blips) plus an ongoing partial outage at
district-haridwar, a real Alertmanager holding its alert and an upcoming maintenance window,
and serves the page as of the history's end. Prints the URL; Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from statuspage.alertmanager import AlertmanagerClient
from statuspage.notices import add_notice
from statuspage.sources import PrometheusClient
from statuspage.web import DEFAULT_PORT, StatusService, make_app
from tests.support.backfill import (
    Outage,
    create_blocks,
    history_prometheus,
    holding_alertmanager,
    standard_history,
)


async def run(*, host: str, port: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="statuspage-demo-"))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    ongoing = Outage(
        start=now - timedelta(minutes=20),
        end=now + timedelta(days=1),
        scope="path",
        vantages=("district-haridwar",),
        reason="connect_timeout",
    )
    scenario = standard_history(now, extra=(ongoing,))
    data = create_blocks(scenario, root / "tsdb")
    async with (
        history_prometheus(data_dir=data, workdir=root) as prom,
        holding_alertmanager(workdir=root / "alertmanager") as am,
    ):
        fired = now - timedelta(minutes=19)
        await am.post_alerts(
            [
                {
                    "labels": {
                        "alertname": "ParichayPartiallyUnreachable",
                        "severity": "page",
                        "scope": "path",
                        "target": "parichay-login-page",
                        "role": "sso",
                        "kind": "http",
                        "vantage": "district-haridwar",
                    },
                    "startsAt": fired.isoformat(),
                    "endsAt": (now + timedelta(days=1)).isoformat(),
                }
            ]
        )
        async with AlertmanagerClient(url=am.url) as client:
            await add_notice(
                client,
                kind="maintenance",
                service="parichay",
                start=now + timedelta(days=2),
                end=now + timedelta(days=2, hours=3),
                note_en="NIC will upgrade Parichay; logins will not work.",
                note_hi="NIC परिचय का उन्नयन करेगा; लॉगिन नहीं होगा।",
            )
        service = StatusService(
            prom=PrometheusClient(url=prom.url),
            am=AlertmanagerClient(url=am.url),
            clock=lambda: now,
        )
        runner = web.AppRunner(make_app(service), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        print(f"  status page     http://{host}:{port}/")
        print(f"  status.json     http://{host}:{port}/status.json")
        print(f"  badge           http://{host}:{port}/badge/parichay.svg")
        print(f"  Prometheus      {prom.url}   Alertmanager {am.url}")
        print(f"  history data    {root}   (Ctrl-C stops)", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default=f"127.0.0.1:{DEFAULT_PORT}")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    try:
        asyncio.run(run(host=host, port=int(port)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
