"""Command line: ``parichay-sms-bridge run --config FILE [--listen HOST:PORT]`` and
``parichay-sms-bridge check-config FILE``.

`check-config` prints a one-line summary and exits 0, or prints every error with its
YAML path and exits 1. `run` serves until SIGTERM/SIGINT, then shuts down cleanly,
leaving undelivered SMS in the outbox for the next start; SIGHUP re-reads the config
file (an invalid one is logged with its YAML paths and ignored: the running config
stays, and `parichay_smsbridge_config_last_reload_successful` drops to 0). Neither
prints a traceback for a configuration or outbox problem.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Iterable, Sequence

from servicekit.errors import ConfigError
from servicekit.logs import JsonFormatter, setup_logging
from servicekit.secrets import Secret

from . import __version__
from .app import BridgeService, ReloadRefused, config_secrets
from .config import Config, load_config
from .outbox import OutboxUnavailable

log = logging.getLogger("smsbridge.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parichay-sms-bridge",
        description="Alertmanager webhook to Indian SMS gateways (durable, DLT-compliant).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve the webhook, /metrics and /healthz")
    run.add_argument("--config", required=True, help="YAML config file")
    run.add_argument("--listen", help="HOST:PORT, overrides the config (default 0.0.0.0:10072)")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("file", help="YAML config file")
    return parser


def _load(path: str, listen: str | None = None) -> Config | None:
    try:
        return load_config(path, listen_override=listen)
    except ConfigError as exc:
        print(f"{path}: {len(exc.errors)} error(s)", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return None


def reload_from_file(
    service: BridgeService,
    path: str,
    *,
    listen: str | None = None,
    scrub: Callable[[Iterable[Secret]], None] = lambda secrets: None,
) -> bool:
    """Re-read `path` and apply it to the running service; on any error log it, keep the
    running config and set the reload metric to 0. `scrub` learns the new secrets first."""
    try:
        config = load_config(path, listen_override=listen)
        scrub(config_secrets(config))
        service.reload(config)
    except (ConfigError, ReloadRefused, OSError, ValueError) as exc:
        service.metrics.reload_ok.set(0)
        errors = "; ".join(exc.errors) if isinstance(exc, ConfigError) else str(exc)
        log.error(
            "config reload rejected; the previous config keeps running",
            extra={"file": path, "errors": errors},
        )
        return False
    log.info("config reloaded", extra={"file": path, "summary": config.summary()})
    return True


async def _serve(config: Config, *, reload: Callable[[BridgeService], bool]) -> int:
    service = BridgeService(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await service.start()
    except OutboxUnavailable as exc:
        log.error("cannot start: outbox unavailable", extra={"error": str(exc)})
        await service.stop()
        return 1
    except OSError as exc:
        log.error("cannot start: listen failed", extra={"error": str(exc)})
        await service.stop()
        return 1
    # Reloads run on the event loop between requests, so a webhook sees either config.
    loop.add_signal_handler(signal.SIGHUP, reload, service)
    await stop.wait()
    log.info("shutting down; undelivered SMS stay in the outbox")
    await service.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        config = _load(args.file)
        if config is None:
            return 1
        print(config.summary())
        return 0
    config = _load(args.config, args.listen)
    if config is None:
        return 1
    handler = setup_logging(
        service="smsbridge",
        secrets=config_secrets(config),
        level=getattr(logging, args.log_level.upper()),
    )
    formatter = handler.formatter
    if not isinstance(formatter, JsonFormatter):  # pragma: no cover - setup_logging sets it
        raise TypeError("setup_logging must install a JsonFormatter")
    log.info(config.summary())
    return asyncio.run(
        _serve(
            config,
            reload=lambda service: reload_from_file(
                service, args.config, listen=args.listen, scrub=formatter.add_secrets
            ),
        )
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
