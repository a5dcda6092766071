"""`Secret` values and the one redaction routine every service uses.

A `Secret` wraps a value read from the environment or a file (a password, a TOTP seed, a
gateway PIN, a bearer token). Its `str()`, `repr()` and `format()` are `<secret>`, so it
cannot leak through f-strings, logging or tracebacks by accident; code that really needs
the value calls `reveal()`, and credential checks use `matches()` (constant time).

`secret_from_file(path)` reads a secret file (its stripped content) into a `Secret`; a file
that cannot be used raises `SecretFileError`, which says why in words and never quotes the
content. The config kernel's `*_file` keys and the status page's credentials files both
read through it.

`redact(text, secrets)` scrubs every known secret out of free text in the forms in which
a library or a server may quote what we sent:

- as written;
- percent-encoded, as in a URL (`%20`) or a form body (`+` for a space), with upper- or
  lower-case hex, whichever characters the encoder chose to escape;
- JSON-escaped (`\\"`, `\\\\`, `\\/`, `\\n`, `\\uXXXX` for any character, surrogate pairs),
  also twice (a JSON reply quoted inside a JSON log line);
- base64, alone (standard or URL-safe alphabet) or inside a longer value such as the
  `Authorization: Basic base64(user:password)` header (the part that encodes the secret
  and its group boundaries is replaced). Inside a longer value the secret must be at
  least 8 bytes long to be recognised at every alignment (shorter ones are caught alone).

Example::

    >>> pw = Secret("p@ss word/é")
    >>> redact("form: pw=p%40ss+word%2F%C3%A9, json: \\"p@ss word\\\\/\\\\u00e9\\"", [pw])
    'form: pw=<secret>, json: "<secret>"'
"""

from __future__ import annotations

import base64
import functools
import hmac
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Final

REDACTED: Final = "<secret>"
# Shorter values would redact innocent text ("1" in "HTTP/1.1"); config validation
# rejects such short credentials anyway.
MIN_LENGTH: Final = 3
# A base64 fragment shorter than this could be an ordinary word.
_MIN_B64_CORE: Final = 8
_B64_EDGE: Final = r"[A-Za-z0-9+/_-]{0,3}"
_JSON_SHORT: Final = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


class Secret:
    """A string that never prints itself.

    >>> s = Secret("hunter2")
    >>> f"{s}", repr(s), s.reveal(), s.matches("hunter2")
    ('<secret>', '<secret>', 'hunter2', True)
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the clear-text value; only for the wire, never for logs."""
        return self._value

    def matches(self, candidate: str) -> bool:
        """Compare in constant time (for credential checks)."""
        return hmac.compare_digest(self._value.encode(), candidate.encode())

    def __str__(self) -> str:
        return REDACTED

    def __repr__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and self.matches(other._value)

    def __hash__(self) -> int:
        # Constant: a hash of the value would be a (weak) oracle for it.
        return hash(REDACTED)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Secret values cannot be pickled")


class SecretFileError(ValueError):
    """A secret file that cannot be used. `str()` is the config kernel's wording
    (`file not found: <path>`, `cannot read <path>: <why>`, `file <path> is empty`);
    `reason` is the why alone (`No such file or directory`, `empty`)."""

    def __init__(self, message: str, *, path: str, reason: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason


def secret_from_file(path: str | Path) -> Secret:
    """The stripped content of the file at `path`; `SecretFileError` if it cannot be read,
    is not UTF-8, or is empty."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise SecretFileError(
            f"file not found: {path}", path=str(path), reason=exc.strerror or "not found"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        message = f"cannot read {path}: {reason}"
        raise SecretFileError(message, path=str(path), reason=reason) from None
    if not text:
        raise SecretFileError(f"file {path} is empty", path=str(path), reason="empty")
    return Secret(text)


def _hex_class(byte: int) -> str:
    """`%2f` / `%2F`: the percent form of one byte, either hex case."""
    out = "%"
    for digit in f"{byte:02X}":
        out += f"[{digit}{digit.lower()}]" if digit.isalpha() else digit
    return out


def _json_escapes(char: str) -> list[str]:
    code = ord(char)
    units = (
        [code]
        if code <= 0xFFFF
        else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)]
    )
    forms = ["".join(f"\\u{u:04x}" for u in units), "".join(f"\\u{u:04X}" for u in units)]
    if char in _JSON_SHORT:
        forms.append(_JSON_SHORT[char])
    return forms


def _char_pattern(char: str) -> str:
    alternatives = [re.escape(char)]
    alternatives.append("".join(_hex_class(b) for b in char.encode("utf-8")))
    if char == " ":
        alternatives.append(r"\+")
    escaped = _json_escapes(char)
    alternatives.extend(re.escape(f) for f in escaped)
    # A JSON string inside another JSON document (a reply quoted in a JSON log line).
    alternatives.extend(re.escape(f.replace("\\", "\\\\").replace('"', '\\"')) for f in escaped)
    return "(?:" + "|".join(dict.fromkeys(alternatives)) + ")"


def _base64_cores(value: bytes) -> list[str]:
    """Base64 text that `value` alone determines, at each of the three byte alignments."""
    cores = []
    for skip in range(3):
        chunk = value[skip:]
        chunk = chunk[: len(chunk) - len(chunk) % 3]
        core = base64.b64encode(chunk).decode()
        if len(core) >= _MIN_B64_CORE:
            cores.append(core)
    whole = base64.b64encode(value).decode()
    cores.append(whole)
    out: list[str] = []
    for core in cores:
        for form in (core, core.rstrip("="), core.translate(str.maketrans("+/", "-_"))):
            if form and form not in out:
                out.append(form)
    return out


@functools.lru_cache(maxsize=256)
def _patterns(value: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(encoded text forms, base64 words) of one secret value."""
    text = re.compile("".join(_char_pattern(c) for c in value))
    cores = sorted(_base64_cores(value.encode("utf-8")), key=len, reverse=True)
    # The core plus the few characters around it that partly depend on the secret (the
    # group boundaries); never the whole word, which may run into neighbouring text.
    b64 = re.compile(
        _B64_EDGE + "(?:" + "|".join(re.escape(c) for c in cores) + ")" + _B64_EDGE + "=*"
    )
    return text, b64


def redact(text: str, secrets: Iterable[Secret | str]) -> str:
    """Replace every known form of each secret (raw, percent, JSON, base64) with `<secret>`."""
    values = sorted(
        {s.reveal() if isinstance(s, Secret) else s for s in secrets},
        key=len,
        reverse=True,
    )
    values = [v for v in values if len(v) >= MIN_LENGTH]
    for value in values:
        plain, _ = _patterns(value)
        text = plain.sub(REDACTED, text)
    for value in values:
        _, b64 = _patterns(value)
        text = b64.sub(REDACTED, text)
    return text
