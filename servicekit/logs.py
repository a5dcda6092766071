"""The one log format of every service: JSON lines with secret scrubbing.

`setup_logging()` installs one handler on a service's loggers that writes one JSON
object per line (`ts`, `level`, `logger`, `msg` plus any `extra=` fields) and scrubs
every configured secret value from the whole line (in every encoding `redact()` knows),
so neither a gateway pin nor a token can reach a log even if some text quoted it::

    {"ts": "2026-11-30T07:10:00.000+00:00", "level": "warning", "logger": "exporter", "msg": "..."}
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Final, TextIO

from servicekit.secrets import Secret, redact

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
    *,
    service: str,
    secrets: Iterable[Secret] = (),
    level: int = logging.INFO,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Route the `service` logger (and aiohttp's) to `stream` (stderr) as JSON lines.

    Returns the handler; its `JsonFormatter.add_secrets()` learns a reloaded config's secrets.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    # aiohttp's own errors (e.g. a handler bug) go through the same scrubbing formatter.
    # httpx logs every request URL at INFO, and URLs in a login can carry one-time codes.
    quiet: Sequence[str] = ("aiohttp", "httpx", "httpcore")
    for name, logger_level in ((service, level), *((q, logging.WARNING) for q in quiet)):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(logger_level)
        logger.propagate = False
    return handler
