"""Structured (JSON lines) logging with secret scrubbing.

`setup_logging()` installs one handler on the `smsbridge` logger that writes one JSON
object per line (`ts`, `level`, `logger`, `msg` plus any `extra=` fields) and scrubs
every configured secret value from the whole line, so neither the gateway pin nor
the webhook token can reach a log even if some text quoted it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final, TextIO

from .secret import Secret, redact

_STANDARD: Final = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record; secrets scrubbed from the serialised line."""

    def __init__(self, secrets: Iterable[Secret] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)

    def add_secrets(self, secrets: Iterable[Secret]) -> None:
        """Scrub these too (a reloaded config's); the old ones stay scrubbed."""
        self._secrets = (*self._secrets, *secrets)

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(payload, ensure_ascii=False), self._secrets)


def setup_logging(
    *, secrets: Iterable[Secret], level: int = logging.INFO, stream: TextIO | None = None
) -> logging.Handler:
    """Route the `smsbridge` logger to `stream` (stderr) as JSON lines; return the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    # aiohttp's own errors (e.g. a handler bug) go through the same scrubbing formatter.
    for name, logger_level in (("smsbridge", level), ("aiohttp", logging.WARNING)):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(logger_level)
        logger.propagate = False
    return handler
