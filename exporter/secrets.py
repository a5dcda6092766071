"""Secret values and their redaction.

A `Secret` wraps a value that came from the environment or a file (a header value, a
password, a TOTP seed). Its `str()` and `repr()` are `<secret>`, so it cannot leak through
f-strings, logging or tracebacks by accident; code that really needs the value calls
`reveal()`. `redact()` scrubs known secret values out of free text (error details from
libraries may quote what we sent).
"""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "<secret>"


class Secret:
    """A string that never prints itself.

    >>> s = Secret("hunter2")
    >>> f"{s}", repr(s), s.reveal()
    ('<secret>', '<secret>', 'hunter2')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return REDACTED

    def __repr__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def redact(text: str, secrets: Iterable[Secret | str]) -> str:
    """Replace every occurrence of each secret value (longest first) with `<secret>`."""
    values = sorted(
        {s.reveal() if isinstance(s, Secret) else s for s in secrets},
        key=len,
        reverse=True,
    )
    for value in values:
        # Very short values would redact innocent text ("1" in "HTTP/1.1") and are not
        # real secrets anyway; config validation rejects them for credentials.
        if len(value) >= 4:
            text = text.replace(value, REDACTED)
    return text
