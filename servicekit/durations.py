"""The one duration grammar of every config file and command-line flag.

A duration is one or more `<number><unit>` parts written together, largest unit first
or not, with units `ms`, `s`, `m`, `h`, `d` (Prometheus style, plus decimals):
`500ms`, `15s`, `2m`, `1h`, `1d`, `1m30s`, `1.5s`. A bare number is refused, because
"30" could mean seconds or minutes. Surrounding blanks are ignored.

>>> parse_duration("1m30s"), parse_duration("1.5s"), parse_duration("250ms")
(90.0, 1.5, 0.25)
"""

from __future__ import annotations

import re
from typing import Final

_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
HINT: Final = "a duration such as 15s, 2m, 1m30s or 500ms"


def parse_duration(text: str) -> float:
    """Seconds in `text` (see the module docstring); ValueError if it is not a duration."""
    stripped = text.strip()
    pos, total = 0, 0.0
    for match in _PART.finditer(stripped):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not stripped or pos != len(stripped):
        raise ValueError(f"expected {HINT}, got {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """`120.0` -> `2m`, `90.0` -> `90s`, `0.5` -> `0.5s` (for messages)."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"
