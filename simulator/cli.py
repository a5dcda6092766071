"""Command line of the simulator: start Parichay, e-Office and the control API on fixed
ports, print their URLs and the generated simulator-only account, and run until Ctrl-C or
SIGTERM, then stop cleanly.
``python -m simulator --tls --ca-out /tmp/sim-ca.pem`` serves HTTPS on 8443/8444
and writes the CA for the exporter's ``tls.ca_file``; without ``--tls`` the apps use 8081
and 8082. The control API is plain HTTP on 8090.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from simulator.simulator import Simulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Simulated Parichay SSO + e-Office with fault injection (test use only).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument("--sso-port", type=int, help="default 8443 with --tls, else 8081")
    parser.add_argument("--app-port", type=int, help="default 8444 with --tls, else 8082")
    parser.add_argument("--control-port", type=int, default=8090, help="control API port")
    parser.add_argument("--tls", action="store_true", help="serve the apps over HTTPS")
    parser.add_argument("--ca-out", type=Path, metavar="PATH", help="write the CA PEM here")
    parser.add_argument("--org", default="UKSec", help="organisation (sid is eOffice<org>)")
    return parser


async def _run(args: argparse.Namespace) -> int:
    sim = Simulator(
        host=args.host,
        sso_port=args.sso_port if args.sso_port is not None else (8443 if args.tls else 8081),
        app_port=args.app_port if args.app_port is not None else (8444 if args.tls else 8082),
        control_port=args.control_port,
        tls=args.tls,
        org=args.org,
    )
    try:
        await sim.start()
    except OSError as exc:
        print(f"simulator: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        if args.ca_out is not None:
            sim.write_ca(args.ca_out)
        print(f"Parichay SSO : {sim.sso_url}")
        print(f"e-Office app : {sim.app_url}")
        print(f"control API  : {sim.control_url}/_sim/faults")
        if args.ca_out is not None:
            print(f"CA written to: {args.ca_out}")
        print("Test account (SIMULATOR-ONLY values, valid for this run only):")
        print(f"  username    : {sim.account.username}")
        print(f"  password    : {sim.account.password}")
        print(f"  TOTP secret : {sim.account.totp_secret}")
        print("Press Ctrl-C to stop.", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    finally:
        await sim.stop()
    print("simulator stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until interrupted; returns the process exit status."""
    args = _parser().parse_args(argv)
    if args.ca_out is not None and not args.tls:
        _parser().error("--ca-out needs --tls")
    return asyncio.run(_run(args))
