"""Command line: `parichay-exporter run | check-config | probe | resume | simulate | demo`.

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
from typing import TYPE_CHECKING

from exporter import __version__
from exporter.config import Config, ConfigError, Target, load_config, read_admin_token_file
from exporter.kinds import KINDS, kind_of
from exporter.result import PHASES, ProbeResult
from servicekit.logs import setup_logging

if TYPE_CHECKING:
    from exporter.account import Suspension
    from exporter.probes import Outcome


def _setup_logging(level: str) -> None:
    # The probes redact secrets where they build a message; the formatter is the second line.
    setup_logging(service="exporter", level=getattr(logging, level.upper()))


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
    if KINDS[kind].has_http_status:
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


EXIT_SUSPENDED = 3


def _load_target(config: str, name: str) -> tuple[Config, Target] | None:
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        for err in exc.errors:
            print(f"{config}: {err}", file=sys.stderr)
        return None
    target = cfg.target(name)
    if target is None:
        names = ", ".join(t.name for t in cfg.targets)
        print(f"no target named {name!r}; targets: {names}", file=sys.stderr)
        return None
    return cfg, target


def _cmd_probe(args: argparse.Namespace) -> int:
    loaded = _load_target(args.config, args.target)
    if loaded is None:
        return 2
    cfg, target = loaded
    if kind_of(target).can_pause and not getattr(target, "state_file", None):
        print(
            f"note: {target.name} has no state_file, so a suspension or used TOTP code "
            "of a running exporter is not visible here",
            file=sys.stderr,
        )
    outcome = asyncio.run(_probe_once(target, force=args.ignore_suspension))
    if outcome.refused:
        assert outcome.pause is not None
        print(f"refused: {outcome.pause.describe(target=target.name)}", file=sys.stderr)
        print(
            "Probing anyway submits the password again; Parichay asks for a captcha "
            "after 3 wrong passwords. Only if you are sure: --ignore-suspension",
            file=sys.stderr,
        )
        return EXIT_SUSPENDED
    result = outcome.result
    if result is None:
        print(f"{target.name}: the probe crashed (a bug in the exporter; see the log)",
              file=sys.stderr)  # fmt: skip
        return 1
    print(format_result(result, role=str(target.role), kind=target.kind, vantage=cfg.vantage))
    return 0 if result.success else 1


async def _probe_once(target: Target, *, force: bool) -> Outcome:
    """One probe through the scheduler's safety net (`run_safely`): refused while paused
    unless `force`, under the same hard deadline, a crash reported, not raised."""
    from exporter.probes import ProbeContext, run_safely

    ctx = ProbeContext()
    if force:
        await ctx.accounts.load(target)
        pause = ctx.accounts.pause(target)
        if pause is not None:
            print(
                f"WARNING: {target.name} is suspended ({pause.reason}); probing anyway as "
                "asked. Another rejection brings the account closer to Parichay's captcha "
                "(3 wrong passwords).",
                file=sys.stderr,
            )
    return await run_safely(target, ctx, force=force)


def _cmd_resume(args: argparse.Namespace) -> int:
    loaded = _load_target(args.config, args.target)
    if loaded is None:
        return 2
    _, target = loaded
    if args.url:
        return _resume_over_http(args, target.name)
    if not kind_of(target).can_pause or not getattr(target, "state_file", None):
        print(
            f"{target.name} has no state_file: only a running exporter holds its suspension; "
            "use --url http://HOST:PORT with --admin-token-file",
            file=sys.stderr,
        )
        return 2
    pause = asyncio.run(_resume_in_file(target))
    if pause is None:
        print(f"{target.name}: not suspended; nothing to do")
        return 0
    print(
        f"{target.name}: suspension ({pause.reason}) removed from its state file. "
        "A running exporter keeps its own copy: resume it with --url, or restart it."
    )
    return 0


async def _resume_in_file(target: Target) -> Suspension | None:
    """Lift the pause stored in `target`'s state file; the pause lifted, or None."""
    from exporter.probes import ProbeContext

    accounts = ProbeContext().accounts
    await accounts.load(target)
    pause = accounts.pause(target)
    return pause if await accounts.resume(target) else None


def _resume_over_http(args: argparse.Namespace, name: str) -> int:
    import httpx

    from exporter.config import read_admin_token_file

    if not args.admin_token_file:
        print("--url needs --admin-token-file (the exporter's admin token)", file=sys.stderr)
        return 2
    try:
        token = read_admin_token_file(args.admin_token_file)
    except ConfigError as exc:
        for err in exc.errors:
            print(err, file=sys.stderr)
        return 2
    url = args.url.rstrip("/") + f"/-/resume/{name}"
    try:
        resp = httpx.post(
            url, headers={"Authorization": f"Bearer {token.reveal()}"}, timeout=10
        )
    except httpx.HTTPError as exc:
        print(f"cannot reach {args.url}: {type(exc).__name__}", file=sys.stderr)
        return 1
    out = sys.stdout if resp.status_code == 200 else sys.stderr
    print(f"HTTP {resp.status_code}: {resp.text.strip()}", file=out)
    return 0 if resp.status_code == 200 else 1


def _cmd_run(args: argparse.Namespace) -> int:
    from exporter.app import run_loop, serve

    try:
        load_config(args.config)
    except ConfigError as exc:
        for err in exc.errors:
            print(f"{args.config}: {err}", file=sys.stderr)
        return 1
    if args.admin_token_file:
        try:
            read_admin_token_file(args.admin_token_file)
        except ConfigError as exc:
            for err in exc.errors:
                print(f"{args.admin_token_file}: {err}", file=sys.stderr)
            return 1
    try:
        run_loop(serve(args.config, listen=args.listen, admin_token_file=args.admin_token_file))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


# The simulator and its throw-away CA (trustme) come with the `demo` extra only, so a
# production install neither ships nor imports them; these commands say how to get them.
DEMO_EXTRA_MISSING = (
    "the simulator is not installed: it comes with the demo extra,"
    " pip install 'parichay-exporter[demo]' (in a checkout: make demo)"
)


def _cmd_simulate(args: argparse.Namespace, rest: list[str]) -> int:
    try:
        from simulator.cli import main as sim_main
    except ImportError as exc:
        print(f"{DEMO_EXTRA_MISSING} ({exc})", file=sys.stderr)
        return 1
    return sim_main(rest)


def _cmd_demo(args: argparse.Namespace) -> int:
    try:
        from exporter.demo import main as demo_main
    except ImportError as exc:
        print(f"{DEMO_EXTRA_MISSING} ({exc})", file=sys.stderr)
        return 1
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
    r.add_argument(
        "--admin-token-file",
        help="file with the bearer token for POST /-/reload and /-/resume/TARGET "
        "(overrides admin.token_file; without either, those endpoints are disabled)",
    )
    c = sub.add_parser("check-config", help="validate a config file and exit")
    c.add_argument("file")
    pr = sub.add_parser("probe", help="run one probe once and print the result")
    pr.add_argument("--config", required=True)
    pr.add_argument("target", help="target name")
    pr.add_argument(
        "--ignore-suspension",
        action="store_true",
        help="probe a suspended login target anyway (risks Parichay's captcha lock-out)",
    )
    rs = sub.add_parser(
        "resume",
        help="lift a login target's suspension (state file, or a running exporter with --url)",
    )
    rs.add_argument("--config", required=True)
    rs.add_argument("target", help="target name")
    rs.add_argument("--url", help="a running exporter, e.g. http://127.0.0.1:10071")
    rs.add_argument("--admin-token-file", help="the exporter's admin token (with --url)")
    sub.add_parser(
        "simulate",
        help="run the Parichay + e-Office simulator (see simulate --help)",
        add_help=False,
    )
    d = sub.add_parser("demo", help="simulator + exporter with an embedded config")
    d.add_argument("--listen", default="127.0.0.1:10071", help="exporter HOST:PORT")
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
        "resume": _cmd_resume,
        "demo": _cmd_demo,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
