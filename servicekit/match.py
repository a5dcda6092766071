"""`ResponseMatch`: the one description of "this HTTP answer is the one we want".

Used by the exporter's http `expect`, the login steps' `expect` and `reject` rules, and
the SMS bridge's provider `success` rule, so the same YAML keys mean the same thing and
are parsed and checked by one piece of code::

    expect: {status: [200, 302], body_contains: Parichay}
    reject: [{reason: login_rejected, body_regex: "(?i)invalid (user|password)"}]

An empty `status` means "any 2xx". `status` may also be written as one number.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, PlainValidator

from servicekit.config import Model, Text, describe, nonempty


def _status(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise ValueError(f"expected an HTTP status 100-599, got {describe(value)}")
    return value


def _regex(value: object) -> re.Pattern[str]:
    text = nonempty(value)
    try:
        return re.compile(text)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None


def one_or_many(value: object) -> object:
    """`200` -> `[200]`; an empty list is an error."""
    if isinstance(value, list) and not value:
        raise ValueError("expected at least one HTTP status")
    return [value] if isinstance(value, int) else value


HttpStatus = Annotated[int, PlainValidator(_status)]
Regex = Annotated[re.Pattern[str], PlainValidator(_regex)]
"""A regular expression, compiled when the config is read."""


class ResponseMatch(Model):
    """Status, body text and body pattern an HTTP answer must (or, for `reject`, does) show."""

    status: Annotated[tuple[HttpStatus, ...], BeforeValidator(one_or_many)] = ()
    body_contains: Text | None = None
    body_regex: Regex | None = None

    def status_ok(self, status: int) -> bool:
        """True if `status` is listed (or, with none listed, is a 2xx)."""
        return status in self.status if self.status else 200 <= status < 300

    def body_problem(self, text: str) -> str | None:
        """Why `text` does not match the body rules (`None` when it does)."""
        if self.body_contains is not None and self.body_contains not in text:
            return f"does not contain {self.body_contains!r}"
        if self.body_regex is not None and not self.body_regex.search(text):
            return f"does not match /{self.body_regex.pattern}/"
        return None

    def matches(self, status: int, text: str) -> bool:
        """The whole rule: status and body."""
        return self.status_ok(status) and self.body_problem(text) is None

    def has_body_rule(self) -> bool:
        """True if the body must be read to decide."""
        return self.body_contains is not None or self.body_regex is not None

    def has_rule(self) -> bool:
        """False for an empty rule (which would match every 2xx answer)."""
        return bool(self.status) or self.body_contains is not None or self.body_regex is not None
