"""`parichay-exporter demo`: the simulator and an exporter probing it, in one process.

The embedded config below is the same shape a real deployment uses (see
config/exporter.yml), pointed at the simulator on loopback with HTTPS from a throw-away
CA. It is written to a temporary file so `POST /-/reload` works as in production; the
printed lines say where everything is and how to inject a fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from exporter.app import Exporter
from exporter.config import load_config

DEMO_CONFIG = """\
# Demo config written by `parichay-exporter demo` (targets are the built-in simulator).
vantage: demo
listen: {listen}
defaults: {{interval: 10s, timeout: 5s}}
targets:
  # Parichay's login page must load and look like Parichay.
  - name: parichay-login-page
    role: sso
    kind: http
    url: {sso}/pnv1/assets/login?sid=eOffice{org}
    expect: {{status: [200], body_contains: Parichay}}
    tls: {{ca_file: {ca}}}
  # e-Office's root redirects to Parichay: stop at the redirect, so a Parichay outage
  # does not also count as an e-Office outage.
  - name: eoffice-root
    role: app
    kind: http
    url: {app}/
    follow_redirects: false
    expect: {{status: [302], redirect_host: "{sso_hostport}"}}
    tls: {{ca_file: {ca}}}
  - name: eoffice-public-page
    role: app
    kind: http
    url: {app}/eoffice/
    expect: {{status: [200], body_contains: e-Office}}
    tls: {{ca_file: {ca}}}
  # Control targets tell "our own network is down" apart from a real outage.
  - name: local-resolver
    role: control
    kind: dns
    host: localhost
  - name: simulator-control-port
    role: control
    kind: tcp
    host: 127.0.0.1
    port: {control_port}
"""


def render_demo_config(
    *, sso: str, app: str, control: str, ca: str, listen: str, org: str
) -> str:
    sso_parts = urlsplit(sso)
    return DEMO_CONFIG.format(
        sso=sso, app=app, ca=ca, listen=listen, org=org,
        sso_hostport=f"{sso_parts.hostname}:{sso_parts.port}",
        control_port=urlsplit(control).port,
    )


async def run_demo(*, listen: str, ready: asyncio.Event | None = None,
                   stop: asyncio.Event | None = None) -> None:
    from exporter.simulator import Simulator

    with tempfile.TemporaryDirectory(prefix="parichay-demo-") as tmp:
        sim = Simulator(tls=True)
        await sim.start()
        try:
            ca = Path(tmp) / "simulator-ca.pem"
            sim.write_ca(ca)
            cfg_path = Path(tmp) / "demo.yml"
            cfg_path.write_text(render_demo_config(
                sso=sim.sso_url, app=sim.app_url, control=sim.control_url, ca=str(ca),
                listen=listen, org="UKSec",
            ), encoding="utf-8")
            exporter = Exporter(config=load_config(cfg_path), config_path=cfg_path)
            await exporter.start()
            try:
                base = exporter.url
                print(f"""
Parichay & e-Office monitoring demo
  status page     {base}/
  metrics         {base}/metrics
  status (JSON)   {base}/status.json
  simulator SSO   {sim.sso_url}/pnv1/assets/login?sid=eOfficeUKSec
  simulator app   {sim.app_url}/
  fault control   {sim.control_url}/_sim/faults
  config in use   {cfg_path}

Try a Parichay outage, then recover:
  curl -X POST -d '{{"mode":"http_503"}}' {sim.control_url}/_sim/faults/sso
  curl -X POST -d '{{"mode":"ok"}}' {sim.control_url}/_sim/faults/sso
Modes: ok refuse hang slow http_500 http_503 bad_content cert_expired
Press Ctrl-C to stop.
""", flush=True)
                if ready is not None:
                    ready.set()
                await (stop or asyncio.Event()).wait()
            finally:
                await exporter.stop()
        finally:
            await sim.stop()


def main(*, listen: str) -> int:
    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_demo(listen=listen, stop=stop)

    try:
        asyncio.run(_main())
    except OSError as exc:
        print(f"demo could not start: {exc}", file=sys.stderr)
        return 1
    with contextlib.suppress(Exception):
        print("demo stopped.")
    return 0
