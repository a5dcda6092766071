"""`parichay-status`: serve the status page; manage maintenance windows and notices; check;
reports.

Exit codes: 0 success, 2 bad input or a source (Prometheus, Alertmanager) that cannot be
read, with one line saying which and why. Times without a zone are IST.

`serve` logs as every service does (`servicekit.logs`): JSON lines on stderr, aiohttp's own
errors included, with the credentials in the `--*-bearer-token-file` / `--*-password-file`
files scrubbed from every line. The one-shot commands print their results and errors as
plain lines.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import yaml
from aiohttp import web

from servicekit.listen import parse_listen
from servicekit.logs import setup_logging
from servicekit.secrets import Secret
from statuspage.alertmanager import AlertmanagerClient, AlertmanagerCluster
from statuspage.history import IST, format_ist
from statuspage.notices import NotOurs, add_notice, list_notices, remove_notice
from statuspage.reading import list_services
from statuspage.runbooks import ENV_VAR as RUNBOOKS_ENV
from statuspage.runbooks import RunbookLibrary, RunbooksMissing, find_runbooks
from statuspage.sources import Auth, PrometheusClient, SourceError
from statuspage.web import DEFAULT_LISTEN, StatusService, make_app
from statuspage.wording import Name

DEFAULT_PROMETHEUS = "http://127.0.0.1:9090"
DEFAULT_ALERTMANAGER = "http://127.0.0.1:9093"
log = logging.getLogger("statuspage.cli")


class UsageError(Exception):
    """Bad input: the message names the option and the fix."""


def _time(text: str, *, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option}: expected a time like 2024-09-02T09:40 (IST) or "
            f"2024-09-02T04:10+00:00, got {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=IST)


def _auth(args: argparse.Namespace, prefix: str) -> Auth | None:
    token = getattr(args, f"{prefix}_bearer_token_file")
    user = getattr(args, f"{prefix}_username")
    password = getattr(args, f"{prefix}_password_file")
    if token is None and user is None and password is None:
        return None
    try:
        return Auth(
            bearer_token_file=Path(token) if token else None,
            username=user,
            password_file=Path(password) if password else None,
        )
    except ValueError as exc:
        raise UsageError(f"--{prefix}-*: {exc}") from None


def _secrets(args: argparse.Namespace) -> list[Secret]:
    """The credentials the source options point at, for log scrubbing."""
    found: list[Secret] = []
    for prefix in ("prometheus", "alertmanager"):
        auth = _auth(args, prefix)
        if auth is not None:
            found.extend(auth.secrets())
    return found


def _clients(args: argparse.Namespace) -> tuple[PrometheusClient, AlertmanagerCluster]:
    ca = Path(args.ca_file) if args.ca_file else None
    # Several --alertmanager-url (or one comma-separated list): members of one cluster.
    am_urls = [u.strip() for value in args.alertmanager_url for u in value.split(",") if u.strip()]
    try:
        prom = PrometheusClient(
            url=args.prometheus_url,
            timeout=args.timeout,
            auth=_auth(args, "prometheus"),
            ca_file=ca,
        )
        members = [
            AlertmanagerClient(
                url=url, timeout=args.timeout, auth=_auth(args, "alertmanager"), ca_file=ca
            )
            for url in am_urls or [DEFAULT_ALERTMANAGER]
        ]
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from None
    return prom, AlertmanagerCluster(members)


def load_names(path: str | None) -> dict[str, Name]:
    """Site names from YAML: `{vantage: {en: ..., hi: ...}}`."""
    if not path:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"--sites {path}: cannot read it: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--sites {path}: expected a mapping of vantage to {{en, hi}}")
    out = {}
    for vantage, value in data.items():
        if not isinstance(value, dict) or not {"en", "hi"} <= set(value):
            raise UsageError(f"--sites {path}: {vantage}: expected {{en: ..., hi: ...}}")
        out[str(vantage)] = Name(str(value["en"]), str(value["hi"]))
    return out


def _listen(text: str) -> tuple[str, int]:
    try:
        return parse_listen(text, example=DEFAULT_LISTEN)
    except ValueError as exc:
        raise UsageError(f"--listen: {exc}") from None


async def _serve(args: argparse.Namespace) -> int:
    host, port = _listen(args.listen)
    try:
        runbooks = RunbookLibrary(find_runbooks(args.runbooks))
    except RunbooksMissing as exc:
        raise UsageError(str(exc)) from None
    prom, am = _clients(args)
    service = StatusService(prom=prom, am=am, names=load_names(args.sites))
    setup_logging(
        service="statuspage", secrets=_secrets(args), level=getattr(logging, args.log_level.upper())
    )
    runner = web.AppRunner(make_app(service, runbooks=runbooks), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info(
        "parichay-status serving on http://%s:%d/ (%d runbooks from %s at /runbooks/)",
        host,
        port,
        len(runbooks.names()),
        runbooks.directory,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        log.info("parichay-status stopped")
    return 0


async def _notice_cmd(args: argparse.Namespace, kind: str) -> int:
    _, am = _clients(args)
    async with am:
        if args.action == "add":
            start = _time(args.start, option="--start")
            end = _time(args.end, option="--end")
            if end <= start:
                raise UsageError("--end: must be after --start")
            if not args.note_en.strip() or not args.note_hi.strip():
                raise UsageError("--note-en and --note-hi: both languages are required")
            service = getattr(args, "service", "") or ""
            new_id = await add_notice(
                am,
                kind=kind,
                service=service,
                start=start,
                end=end,
                note_en=args.note_en,
                note_hi=args.note_hi,
            )
            print(new_id)
            return 0
        if args.action == "list":
            for n in await list_notices(am):
                if n.kind != kind:
                    continue
                print(
                    f"{n.id}  {n.state:8}  {format_ist(n.start)} - {format_ist(n.end)}  "
                    f"{n.service or '-'}  {n.note_en}"
                )
            return 0
        try:
            removed = await remove_notice(am, notice_id=args.id)
        except NotOurs as exc:
            raise UsageError(str(exc)) from None
        print(f"removed {removed.id} ({removed.service or removed.kind})")
        return 0


async def _check(args: argparse.Namespace) -> int:
    """Read both sources once; the first that cannot be read ends it with exit code 2."""
    prom, am = _clients(args)
    async with prom, am:
        now = datetime.now(IST)
        services = await list_services(prom, now=now)
        print(f"Prometheus at {prom.public_url}: ok, {len(services)} services with data")
        silences = await am.silences()
        alerts = await am.alerts()
        print(
            f"Alertmanager at {am.public_url}: ok, {len(alerts)} alerts, {len(silences)} silences"
        )
    return 0


async def _report_cmd(args: argparse.Namespace) -> int:
    """`parichay-status report`: write the availability report for a month or days."""
    from statuspage import report_render
    from statuspage.periods import ReportError, day_period, month_period
    from statuspage.report import build_report

    now = report_render.generated_now()
    today = now.astimezone(IST).date()
    try:
        if args.month and (args.date_from or args.date_to):
            raise ReportError("give either --month or --from/--to, not both")
        if args.month:
            period = month_period(args.month, today=today)
        elif args.date_from and args.date_to:
            period = day_period(args.date_from, args.date_to, today=today)
        else:
            raise ReportError("give --month 2024-09, or --from 2024-09-01 --to 2024-09-30")
        formats = report_render.parse_formats(args.format)
        # Alertmanager is optional here: without it the shipped group_wait is assumed.
        urls = args.alertmanager_url
        use_am = urls is not None
        # `--alertmanager URL` gives one string, `--alertmanager-url` (repeatable) a list.
        args.alertmanager_url = [urls] if isinstance(urls, str) else urls or [DEFAULT_ALERTMANAGER]
        prom, am = _clients(args)
        names = load_names(args.sites)
        async with prom, am:
            report = await build_report(
                prom,
                period=period,
                now=now,
                services=args.service,
                am=am if use_am else None,
                names=names,
            )
        try:
            written = await report_render.write_report(
                report, out=Path(args.out), formats=formats, chromium=args.chromium, names=names
            )
        except ReportError as exc:
            # All or nothing: write_report has removed whatever it had rendered.
            raise ReportError(f"{exc} (no file was written to {args.out})") from None
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    for path in written:
        print(path)
    return 0


def _add_source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--prometheus-url", default=os.environ.get("PARICHAY_PROMETHEUS_URL", DEFAULT_PROMETHEUS)
    )
    p.add_argument(
        "--alertmanager-url",
        action="append",
        help="an Alertmanager of the cluster; repeat it (or separate with commas) for each member",
    )
    for prefix in ("prometheus", "alertmanager"):
        p.add_argument(f"--{prefix}-bearer-token-file")
        p.add_argument(f"--{prefix}-username")
        p.add_argument(f"--{prefix}-password-file")
    p.add_argument("--ca-file", help="extra CA bundle to verify HTTPS sources")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="parichay-status", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the status page")
    serve.add_argument("--listen", default=DEFAULT_LISTEN)
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--sites", help="YAML file naming the sites in English and Hindi")
    serve.add_argument(
        "--runbooks",
        help=f"directory of the alert runbooks served at /runbooks/ (default ${RUNBOOKS_ENV}, "
        "else docs/runbooks of a source checkout, else /usr/share/parichay/runbooks in the image)",
    )
    _add_source_options(serve)
    check = sub.add_parser("check", help="check that Prometheus and Alertmanager can be read")
    _add_source_options(check)
    for kind in ("maintenance", "notice"):
        p = sub.add_parser(kind, help=f"add, list or remove {kind} windows")
        actions = p.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add")
        add.add_argument("--start", required=True)
        add.add_argument("--end", required=True)
        if kind == "maintenance":
            add.add_argument(
                "--service",
                required=True,
                help="parichay, an e-Office target name, or site:<vantage>",
            )
        add.add_argument("--note-en", required=True)
        add.add_argument("--note-hi", required=True)
        _add_source_options(add)
        lst = actions.add_parser("list")
        _add_source_options(lst)
        rm = actions.add_parser("remove")
        rm.add_argument("id")
        _add_source_options(rm)
    rep = sub.add_parser("report", help="write the monthly availability and incident report")
    rep.add_argument("--month", help="IST calendar month, e.g. 2024-09, or `last`")
    rep.add_argument("--from", dest="date_from", help="first IST day, e.g. 2024-09-01")
    rep.add_argument("--to", dest="date_to", help="last IST day (included)")
    rep.add_argument("--format", default="html,pdf", help="any of html,pdf,csv,json")
    rep.add_argument("--out", default=".", help="folder for the files (created if needed)")
    rep.add_argument(
        "--service", action="append", default=[], help="only this service (repeatable)"
    )
    rep.add_argument("--sites", help="YAML file naming the sites in English and Hindi")
    rep.add_argument("--chromium", help="Chromium binary for the PDF (default /usr/bin/chromium)")
    _add_source_options(rep)
    # Short spellings, and Alertmanager only when named (it gives the page group_wait).
    rep.add_argument("--prometheus", dest="prometheus_url", default=argparse.SUPPRESS)
    rep.add_argument("--alertmanager", dest="alertmanager_url", default=argparse.SUPPRESS)
    rep.set_defaults(alertmanager_url=os.environ.get("PARICHAY_ALERTMANAGER_URL"))
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command != "report" and getattr(args, "alertmanager_url", False) is None:
        args.alertmanager_url = [os.environ.get("PARICHAY_ALERTMANAGER_URL", DEFAULT_ALERTMANAGER)]
    try:
        if args.command == "serve":
            return asyncio.run(_serve(args))
        if args.command == "check":
            return asyncio.run(_check(args))
        if args.command == "report":
            return asyncio.run(_report_cmd(args))
        return asyncio.run(_notice_cmd(args, args.command))
    except (UsageError, SourceError) as exc:
        print(f"parichay-status: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
