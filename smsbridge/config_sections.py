"""The bridge's config sections: one frozen, typed model per YAML section.

`AuthConfig`, `OutboxConfig`, `SenderConfig`, `MessagesConfig`, `RateLimitConfig`,
`SmtpConfig`, `HeartbeatConfig`, a `Recipient`, a `Route` and a `TemplateSpec` as
written, each checking its own fields (secrets read from ``*_file``/``*_env`` into
`Secret`). Rules across sections and the whole file are in `config.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from servicekit.config import (
    BasicAuth,
    Duration,
    Model,
    Problems,
    Text,
    describe,
    int_range,
    take_secret,
    with_problems,
    with_secret,
)
from servicekit.secrets import Secret

from .providers.nic import matching

__all__ = [
    "AuthConfig",
    "Email",
    "GroupNames",
    "HeartbeatConfig",
    "MessagesConfig",
    "OutboxConfig",
    "RateLimitConfig",
    "Recipient",
    "ResolvedPolicy",
    "Route",
    "SenderConfig",
    "SmtpConfig",
    "SmtpTls",
    "TemplateNames",
    "TemplateSpec",
]

_E164: Final = re.compile(r"^\+[1-9]\d{7,14}$")
_INDIAN_MOBILE: Final = re.compile(r"^\+91[6-9]\d{9}$")
_LABEL: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DLT_ID: Final = re.compile(r"^\d{10,25}$")

ResolvedPolicy = Literal["always", "if_fired", "never"]
SmtpTls = Literal["starttls", "implicit", "none"]
_SMTP_PORTS: Final = {"starttls": 587, "implicit": 465, "none": 25}
_EMAIL: Final = re.compile(r"^[^@\s<>,;]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_LOOPBACK: Final = frozenset({"127.0.0.1", "::1", "localhost"})


def _email(value: object) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise ValueError(f"expected an email address, got {describe(value)}")
    return value.strip()


def _names(what: str) -> Any:
    """A name or a non-empty list of names (of recipient groups or templates)."""

    def check(value: object) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(x, str) for x in items):
            raise ValueError(f"expected a {what} name or a non-empty list of them")
        return tuple(items)

    return PlainValidator(check)


Email = Annotated[str, PlainValidator(_email)]
GroupNames = Annotated[tuple[str, ...], _names("recipient group")]
TemplateNames = Annotated[tuple[str, ...], _names("template")]


class AuthConfig(Model):
    """Who may post to /alertmanager: a bearer token, basic auth, or both."""

    secret_stems = ("token",)

    model_config = ConfigDict(populate_by_name=True)

    token: Secret | None = None
    basic: BasicAuth | None = Field(None, alias="basic_auth")

    @model_validator(mode="wrap")
    @classmethod
    def _read_token(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> AuthConfig:
        auth: AuthConfig = with_secret(data, handler, "token", required=False)
        if auth.token is None and auth.basic is None:
            raise ValueError("set token_file, token_env or basic_auth; the webhook is never open")
        return auth


def _existing_parent(path: Path) -> Path:
    path = path.expanduser()
    if not path.parent.is_dir():
        raise ValueError(f"directory {str(path.parent)!r} does not exist")
    return path


class OutboxConfig(Model):
    path: Annotated[Path, AfterValidator(_existing_parent)]
    busy_timeout: Duration = 5.0
    max_age: Duration = 6 * 3600.0
    keep_done: Duration = 7 * 86400.0


class SenderConfig(Model):
    concurrency: Annotated[int, int_range(1, 64)] = 4
    retry_initial: Duration = 15.0
    retry_max: Duration = 600.0
    poll_interval: Duration = 5.0

    @model_validator(mode="after")
    def _retry_order(self) -> SenderConfig:
        if self.retry_max < self.retry_initial:
            raise Problems([("retry_max", "must not be shorter than retry_initial")])
        return self


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like Asia/Kolkata"
        ) from None
    return name


class MessagesConfig(Model):
    max_parts: Annotated[int, int_range(1, 10)] = 3
    max_var_chars: Annotated[int, int_range(0, 500)] = 30
    timezone: Annotated[Text, AfterValidator(_timezone)] = "Asia/Kolkata"


class RateLimitConfig(Model):
    """Per recipient: at most `max_messages` alert SMS in any `per` window."""

    max_messages: Annotated[int, int_range(1, 1_000_000)] = 10
    per: Duration = 3600.0
    summary_template: Text | None = None


class SmtpConfig(Model):
    """The SMTP relay for the bridge's own emails (the dead man's switch, RESOLVED of
    pages); TLS is verified."""

    secret_stems = ("password",)

    model_config = ConfigDict(populate_by_name=True)

    host: Text
    port: Annotated[int, int_range(1, 65535)]
    tls: SmtpTls = "starttls"
    username: Text | None = None
    password: Secret | None = None
    sender: Email = Field(alias="from")
    ca_file: Path | None = None
    timeout: Duration = 10.0

    @model_validator(mode="wrap")
    @classmethod
    def _defaults_and_password(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if not isinstance(data, dict):
            return with_problems(handler, data, [])
        data = dict(data)
        tls = data.get("tls", "starttls")
        if "port" not in data:
            # An unknown tls is reported at smtp.tls; the port then defaults as for starttls.
            data["port"] = _SMTP_PORTS.get(tls, 587) if isinstance(tls, str) else 587
        problems = take_secret(data, "password", required=data.get("username") is not None)
        if data.get("password") is not None and data.get("username") is None:
            problems.append(("username", "required when a password is set"))
        return with_problems(handler, data, problems)

    @model_validator(mode="after")
    def _safe(self) -> SmtpConfig:
        problems = []
        if self.ca_file is not None and not self.ca_file.is_file():
            problems.append(("ca_file", f"file not found: {self.ca_file}"))
        if self.tls == "none" and self.username is not None:
            problems.append(
                ("tls", "none would send the SMTP password in clear; use starttls or implicit")
            )
        if problems:
            raise Problems(problems)
        return self


class HeartbeatConfig(Model):
    """The dead man's switch: /heartbeat must be called at least every `silence`."""

    secret_stems = ("forward_url",)

    silence: Duration = 300.0
    reminder: Duration | None = None
    recipients: GroupNames = ("on-call",)
    templates: TemplateNames
    recovery_templates: TemplateNames
    email_to: tuple[Email, ...] = ()
    forward_url: Secret | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _read_forward_url(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if not isinstance(data, dict):
            return with_problems(handler, data, [])
        data = dict(data)
        key = "forward_url_file" if "forward_url_file" in data else "forward_url_env"
        problems = take_secret(data, "forward_url", required=False)
        url = data.get("forward_url")
        if not problems and isinstance(url, Secret):
            problem = _ping_url_problem(url.reveal())
            if problem:
                # The URL itself is a credential (a ping UUID): never echoed.
                problems.append((key, problem))
        return with_problems(handler, data, problems)

    @model_validator(mode="after")
    def _reminder(self) -> HeartbeatConfig:
        if self.reminder is not None and self.reminder < self.silence:
            raise Problems([("reminder", "must not be shorter than silence")])
        return self

    @property
    def check_interval(self) -> float:
        """How often silence is checked: a few times per `silence`, at most every 10 s."""
        return max(0.05, min(10.0, self.silence / 4))


def _number(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an E.164 number like +919876543210, got {describe(value)}")
    number = value.replace(" ", "").replace("-", "")
    if not _E164.match(number):
        raise ValueError(f"expected an E.164 number like +919876543210, got {describe(number)}")
    if number.startswith("+91") and not _INDIAN_MOBILE.match(number):
        raise ValueError(
            f"not an Indian mobile number (+91 then 10 digits from 6-9): {describe(number)}"
        )
    return number


class Recipient(Model):
    """A number to text; written as a bare number or `{name, number}`."""

    name: Text
    number: Annotated[str, PlainValidator(_number)]

    @model_validator(mode="before")
    @classmethod
    def _bare_number(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"name": data, "number": data}
        if isinstance(data, dict) and "name" not in data and isinstance(data.get("number"), str):
            return {**data, "name": data["number"]}
        return data


class Route(Model):
    """Alerts whose common labels match go to `recipients` (group names) with `templates`.

    `resolved_email_to`: addresses that get the RESOLVED of this route's incidents by email
    from the bridge, once (Alertmanager emails the FIRING with `send_resolved: false`; two
    clustered Alertmanagers can send a FIRING after the RESOLVED, the bridge cannot).
    """

    name: Text
    match: Mapping[str, str] = {}
    match_re: Mapping[str, re.Pattern[str]] = {}
    recipients: GroupNames
    templates: TemplateNames
    resolved: ResolvedPolicy = "if_fired"
    resolved_email_to: tuple[Email, ...] = ()

    @model_validator(mode="after")
    def _labels(self) -> Route:
        bad = [label for label in [*self.match, *self.match_re] if not _LABEL.match(label)]
        if bad:
            raise Problems([("match", f"invalid label name {label!r}") for label in bad])
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match.items()) and all(
            p.fullmatch(labels.get(k, "")) is not None for k, p in self.match_re.items()
        )


class TemplateSpec(Model):
    """A `templates.<name>` entry as written: the SMS text and its DLT registration."""

    dlt_template_id: Annotated[str, matching(_DLT_ID, "the numeric DLT template id")]
    dlt_text: Text
    text: Text


def _ping_url_problem(url: str) -> str | None:
    """Why `url` cannot be a heartbeat forward target (None if it can)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "not a valid URL"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host in _LOOPBACK:
        return None
    return "expected an https:// URL (http:// only to a loopback host)"
