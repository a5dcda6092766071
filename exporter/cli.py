"""Command line: `parichay-exporter run | check-config | probe | simulate | demo`.

Every command reports bad input as plain lines naming the YAML path, and exits non-zero;
no traceback reaches the user for a config or network problem.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence

from exporter import __version__
from exporter.config import ConfigError, load_config
from exporter.result import PHASES, ProbeResult

LOG_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), format=LOG_FORMAT, stream=sys.stderr)
    # httpx logs every request URL at INFO, and URLs in a login can carry one-time codes.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _cmd_check(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        print(f"{args.file}: {len(exc.errors)} error(s)", file=sys.stderr)
        for err in exc.errors:
            print(f"  {err}", file=sys.stderr)
        return 1
    kinds: dict[str, int] = {}
    for t in cfg.targets:
        kinds[t.kind] = kinds.get(t.kind, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    print(f"{args.file}: OK - vantage {cfg.vantage}, {len(cfg.targets)} targets ({summary})")
    return 0


def format_result(result: ProbeResult, *, role: str, kind: str, vantage: str) -> str:
    lines = [
        f"target:       {result.target} (role {role}, kind {kind}, vantage {vantage})",
        "result:       " + ("SUCCESS" if result.success else f"FAILED ({result.reason})"),
    ]
    if result.failed_step:
        lines.append(f"failed step:  {result.failed_step}")
    if result.detail:
        lines.append(f"detail:       {result.detail}")
    lines.append(f"duration:     {result.duration * 1000:.1f} ms")
    lines.append(
        "phases (ms):  " + "  ".join(f"{p} {result.phases.get(p, 0.0) * 1000:.1f}" for p in PHASES)
    )
    if kind in ("http", "login"):
        lines.append(f"http status:  {result.http_status}")
    if result.final_url:
        lines.append(f"final url:    {result.final_url}")
    if result.cert_not_after is not None:
        days = (result.cert_not_after - time.time()) / 86400
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(result.cert_not_after))
        lines.append(f"cert expires: {when} ({days:.0f} days)")
    for st in result.steps:
        mark = "ok" if st.success else "FAILED"
        if st.cleanup:
            mark += "  (clean-up, not in duration or phases)"
        lines.append(
            f"  step {st.name:<20} {st.duration * 1000:8.1f} ms  HTTP {st.http_status}  {mark}"
        )
    return "\n".join(lines)


def _cmd_probe(args: argparse.Namespace) -> int:
    from exporter.probes import ProbeContext, run_probe

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        for err in exc.errors:
            print(f"{args.config}: {err}", file=sys.stderr)
        return 2
    target = cfg.target(args.target)
    if target is None:
        names = ", ".join(t.name for t in cfg.targets)
        print(f"no target named {args.target!r}; targets: {names}", file=sys.stderr)
        return 2
    result = asyncio.run(run_probe(target, ProbeContext()))
    print(format_result(result, role=str(target.role), kind=target.kind, vantage=cfg.vantage))
    return 0 if result.success else 1


def _cmd_run(args: argparse.Namespace) -> int:
    from exporter.app import serve

    try:
        load_config(args.config)
    except ConfigError as exc:
        for err in exc.errors:
            print(f"{args.config}: {err}", file=sys.stderr)
        return 1
    try:
        asyncio.run(serve(args.config, listen=args.listen))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_simulate(args: argparse.Namespace, rest: list[str]) -> int:
    from exporter.simulator.cli import main as sim_main

    return sim_main(rest)


def _cmd_demo(args: argparse.Namespace) -> int:
    from exporter.demo import main as demo_main

    return demo_main(listen=args.listen)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="parichay-exporter",
        description="Prometheus exporter for Parichay SSO and e-Office, with a simulator.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="probe on schedule and serve /metrics")
    r.add_argument("--config", required=True, help="YAML config file")
    r.add_argument("--listen", help="HOST:PORT, overrides the config's listen")
    c = sub.add_parser("check-config", help="validate a config file and exit")
    c.add_argument("file")
    pr = sub.add_parser("probe", help="run one probe once and print the result")
    pr.add_argument("--config", required=True)
    pr.add_argument("target", help="target name")
    sub.add_parser(
        "simulate",
        help="run the Parichay + e-Office simulator (see simulate --help)",
        add_help=False,
    )
    d = sub.add_parser("demo", help="simulator + exporter with an embedded config")
    d.add_argument("--listen", default="127.0.0.1:9469", help="exporter HOST:PORT")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # `simulate` passes its own options through to the simulator's parser.
    if "simulate" in argv:
        i = argv.index("simulate")
        args = parser.parse_args(argv[: i + 1])
        _setup_logging(args.log_level)
        return _cmd_simulate(args, argv[i + 1 :])
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    handlers = {
        "run": _cmd_run,
        "check-config": _cmd_check,
        "probe": _cmd_probe,
        "demo": _cmd_demo,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
