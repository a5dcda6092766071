"""Demo profile only: run the Parichay + e-Office simulator as the `simulator` service.

Like `parichay-exporter simulate`, but the test account is read from the files
deploy/demo_init.py generated (so the exporter's synthetic login can use it), the TLS
certificate also names the service host, and the CA is written next to those files for
the exporter's `tls.ca_file`. Faults are injected through the control API on port 8090,
e.g. `curl -X POST -d '{"mode":"http_503"}' http://127.0.0.1:8090/_sim/faults/sso`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from simulator import SimAccount, Simulator


def read(directory: Path, name: str) -> str:
    return (directory / name).read_text(encoding="utf-8").strip()


async def run(args: argparse.Namespace) -> int:
    account = SimAccount(
        username=read(args.secrets, "sim_username"),
        password=read(args.secrets, "sim_password"),
        totp_secret=read(args.secrets, "sim_totp_secret"),
    )
    sim = Simulator(
        host=args.host,
        sso_port=args.sso_port,
        app_port=args.app_port,
        control_port=args.control_port,
        tls=True,
        account=account,
    )
    await sim.start()
    try:
        ca = args.secrets / "simulator-ca.pem"
        sim.write_ca(ca.with_suffix(".tmp"))
        ca.with_suffix(".tmp").replace(ca)  # the exporter never reads a half-written CA
        print(
            f"Parichay SSO {sim.sso_url}  e-Office {sim.app_url}  "
            f"faults {sim.control_url}/_sim/faults  CA {ca}",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await sim.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--host", default="simulator", help="host name to bind and to put in the certificate"
    )
    parser.add_argument("--secrets", type=Path, default=Path("/run/secrets"))
    parser.add_argument("--sso-port", type=int, default=8443)
    parser.add_argument("--app-port", type=int, default=8444)
    parser.add_argument("--control-port", type=int, default=8090)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
