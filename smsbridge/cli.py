"""Command line: ``parichay-sms-bridge run --config FILE [--listen HOST:PORT]`` and
``parichay-sms-bridge check-config FILE``.

`check-config` prints a one-line summary and exits 0, or prints every error with its
YAML path and exits 1. `run` serves until SIGTERM/SIGINT, then shuts down cleanly,
leaving undelivered SMS in the outbox for the next start. Neither prints a traceback
for a configuration or outbox problem.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from . import __version__
from .config import Config, load_config
from .confreader import ConfigError
from .logs import setup_logging
from .outbox import OutboxUnavailable
from .service import BridgeService, config_secrets

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
    run.add_argument("--listen", help="HOST:PORT, overrides the config (default 0.0.0.0:9470)")
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


async def _serve(config: Config) -> int:
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
    setup_logging(secrets=config_secrets(config), level=getattr(logging, args.log_level.upper()))
    log.info(config.summary())
    return asyncio.run(_serve(config))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
