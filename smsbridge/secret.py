"""The `Secret` wrapper: credentials read from files or the environment, never printed.

A `Secret` hides its value from `str()`, `repr()`, f-strings and logging; code that
really needs the value (an HTTP header, a gateway form field) calls `reveal()`.
`redact()` scrubs known secret values out of free text (gateway replies, exception
messages) before they reach a log line.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Final

_MASK: Final = "<secret>"


class Secret:
    """A secret string whose str/repr is `<secret>`."""

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
        return _MASK

    def __repr__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and self.matches(other._value)

    def __hash__(self) -> int:
        return hash(_MASK)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Secret values cannot be pickled")


def redact(text: str, secrets: Iterable[Secret]) -> str:
    """Replace every occurrence of each secret's value (and its common encodings) in `text`."""
    from urllib.parse import quote, quote_plus

    for secret in secrets:
        value = secret.reveal()
        if len(value) < 3:
            continue
        for form in {value, quote(value, safe=""), quote_plus(value)}:
            text = text.replace(form, _MASK)
    return text
