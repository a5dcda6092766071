"""The bridge's configuration: YAML validated once into frozen, typed models.

`load_config(path)` returns a `Config` or raises `ConfigError` listing *every*
problem with its YAML path (``providers.nic.pin_file: file not found: ...``); the
models are `servicekit.config.Model`s, so the bridge and the exporter share one config
style. Fields are checked first, then cross-field rules (route and heartbeat
references, template placeholders, numbers a nic-only setup cannot reach). Secrets
are read here (from ``*_file``/``*_env``) and held as `Secret`.
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
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from servicekit.config import (
    BasicAuth,
    Duration,
    Model,
    Problems,
    Text,
    describe,
    error_pairs,
    int_range,
    load_yaml,
    read_text,
    take_secret,
    validate,
    with_problems,
    with_secret,
)
from servicekit.errors import ConfigError
from servicekit.listen import parse_listen
from servicekit.secrets import Secret

from . import providers
from .providers.nic import NicConfig, matching
from .segments import analyse
from .templates import CompiledTemplate, TemplateError, compile_template

__all__ = [
    "Config",
    "ConfigError",
    "HeartbeatConfig",
    "Recipient",
    "Route",
    "SmtpConfig",
    "load_config",
    "parse_config",
]

DEFAULT_LISTEN: Final = "0.0.0.0:10072"
_E164: Final = re.compile(r"^\+[1-9]\d{7,14}$")
_INDIAN_MOBILE: Final = re.compile(r"^\+91[6-9]\d{9}$")
_NAME: Final = re.compile(r"^[A-Za-z0-9_.-]+$")
_LABEL: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DLT_ID: Final = re.compile(r"^\d{10,25}$")

ResolvedPolicy = Literal["always", "if_fired", "never"]
SUMMARY_FIELDS: Final = frozenset({"limit", "until"})
HEARTBEAT_FIELDS: Final = frozenset({"since", "ended", "silence"})
SmtpTls = Literal["starttls", "implicit", "none"]
_SMTP_PORTS: Final = {"starttls": 587, "implicit": 465, "none": 25}
_EMAIL: Final = re.compile(r"^[^@\s<>,;]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_LOOPBACK: Final = frozenset({"127.0.0.1", "::1", "localhost"})


def _listen(value: object) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str):
        raise ValueError(f"expected HOST:PORT such as {DEFAULT_LISTEN}, got {describe(value)}")
    parse_listen(text, example=DEFAULT_LISTEN)
    return text


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


def _nonempty(value: Mapping[str, Any]) -> Mapping[str, Any]:
    if not value:
        raise ValueError("must not be empty; define at least one")
    return value


def _section(model: type[Model], value: object) -> Any:
    """Validate `value` as `model`, turning its errors into `Problems` (for a field validator)."""
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise Problems(error_pairs(exc, value)) from None


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


def _group(value: tuple[Recipient, ...]) -> tuple[Recipient, ...]:
    if not value:
        raise ValueError("expected a non-empty list of recipients")
    return value


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


def _compile(name: str, raw: object, messages: MessagesConfig) -> CompiledTemplate:
    """One template compiled against its DLT text; Problems at the entry's keys."""
    if isinstance(raw, CompiledTemplate):
        return raw
    if not _NAME.match(name):
        raise Problems([("", "template names use letters, digits, '_', '-', '.'")])
    spec = _section(TemplateSpec, raw)
    try:
        compiled = compile_template(
            name=name,
            text=spec.text,
            dlt_text=spec.dlt_text,
            dlt_template_id=spec.dlt_template_id,
            max_var_chars=messages.max_var_chars,
        )
    except TemplateError as exc:
        raise Problems([("text", str(exc))]) from None
    fixed = analyse("".join(compiled.literals))
    if fixed.parts > messages.max_parts:
        raise Problems(
            [
                (
                    "text",
                    f"fixed text alone needs {fixed.parts} SMS parts ({fixed.encoding}), "
                    f"more than messages.max_parts={messages.max_parts}",
                )
            ]
        )
    return compiled


class Config(Model):
    """The whole file; field order is the order errors are listed in."""

    listen: Annotated[str, PlainValidator(_listen)] = DEFAULT_LISTEN
    max_body_bytes: Annotated[int, int_range(1024, 64 << 20)] = 1 << 20
    dedup_window: Duration = 900.0
    auth: AuthConfig
    outbox: OutboxConfig
    sender: SenderConfig = SenderConfig()
    messages: MessagesConfig = MessagesConfig()
    rate_limit: RateLimitConfig | None = None
    providers: Annotated[Mapping[str, providers.ProviderConfig], AfterValidator(_nonempty)]
    templates: Annotated[Mapping[str, CompiledTemplate], AfterValidator(_nonempty)]
    recipients: Annotated[
        Mapping[str, Annotated[tuple[Recipient, ...], AfterValidator(_group)]],
        AfterValidator(_nonempty),
    ]
    routes: Annotated[tuple[Route, ...], AfterValidator(_nonempty)]
    smtp: SmtpConfig | None = None
    heartbeat: HeartbeatConfig | None = None

    @field_validator("providers", mode="before")
    @classmethod
    def _kind_from_name(cls, value: Any) -> Any:
        """`providers.nic` without a `kind` is of kind nic: the key names the gateway."""
        if not isinstance(value, dict):
            return value
        filled, problems = {}, []
        for name, raw in value.items():
            if isinstance(raw, dict) and "kind" not in raw:
                if name not in providers.KINDS:
                    kinds = ", ".join(providers.KINDS)
                    problems.append(
                        (f"{name}.kind", f"required (one of {kinds}): {name!r} is not a kind")
                    )
                    continue
                raw = {**raw, "kind": name}
            filled[name] = raw
        if problems:
            raise Problems(problems)
        return filled

    @field_validator("templates", mode="before")
    @classmethod
    def _compile_templates(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict):
            return value
        messages = info.data.get("messages")
        if not isinstance(messages, MessagesConfig):
            messages = MessagesConfig()  # its own errors are reported at messages.*
        problems: list[tuple[str, str]] = []
        compiled: dict[str, CompiledTemplate] = {}
        for name, raw in value.items():
            try:
                compiled[str(name)] = _compile(str(name), raw, messages)
            except Problems as exc:
                problems += [(f"{name}.{rel}" if rel else str(name), m) for rel, m in exc.problems]
        if problems:
            raise Problems(problems)
        return compiled

    @field_validator("routes", mode="before")
    @classmethod
    def _default_route_names(cls, value: Any) -> Any:
        """An unnamed route is named by its place (`routes[1]`) in logs and metrics."""
        if not isinstance(value, list):
            return value
        return [
            {**raw, "name": f"routes[{i}]"} if isinstance(raw, dict) and "name" not in raw else raw
            for i, raw in enumerate(value)
        ]

    @model_validator(mode="after")
    def _references(self) -> Config:
        problems: list[tuple[str, str]] = []

        def known(path: str, names: tuple[str, ...], pool: Mapping[str, object], what: str) -> None:
            problems.extend((path, f"unknown {what} {n!r}") for n in names if n not in pool)

        for i, route in enumerate(self.routes):
            known(f"routes[{i}].recipients", route.recipients, self.recipients, "recipient group")
            known(f"routes[{i}].templates", route.templates, self.templates, "template")
            if route.resolved_email_to and self.smtp is None:
                problems.append(
                    (
                        f"routes[{i}].resolved_email_to",
                        "needs an smtp section (the relay to send through)",
                    )
                )
            if route.resolved_email_to and route.resolved == "never":
                problems.append(
                    (
                        f"routes[{i}].resolved_email_to",
                        "this route sends no RESOLVED (resolved: never); "
                        "drop it or change resolved",
                    )
                )
        names = [r.name for r in self.routes]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(("routes", f"duplicate route name {dup!r}"))
        if self.heartbeat is not None:
            problems += self._heartbeat_problems(self.heartbeat)
        summary = self.rate_limit.summary_template if self.rate_limit else None
        if summary is not None:
            problems += _fields_problem(
                "rate_limit.summary_template",
                summary,
                self.templates,
                SUMMARY_FIELDS,
                "a summary SMS only knows {limit} and {until}",
            )
        if all(isinstance(p, NicConfig) for p in self.providers.values()):
            for group, members in self.recipients.items():
                for i, member in enumerate(members):
                    if not member.number.startswith("+91"):
                        problems.append(
                            (
                                f"recipients.{group}[{i}].number",
                                "the nic gateway delivers only to +91 numbers",
                            )
                        )
        if problems:
            raise Problems(problems)
        return self

    def _heartbeat_problems(self, hb: HeartbeatConfig) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if "recipients" in hb.model_fields_set:
            problems += [
                ("heartbeat.recipients", f"unknown recipient group {g!r}")
                for g in hb.recipients
                if g not in self.recipients
            ]
        elif "on-call" not in self.recipients:
            problems.append(
                (
                    "heartbeat.recipients",
                    "required: there is no recipient group 'on-call' to default to",
                )
            )
        for key, names in (
            ("templates", hb.templates),
            ("recovery_templates", hb.recovery_templates),
        ):
            for name in names:
                problems += _fields_problem(
                    f"heartbeat.{key}",
                    name,
                    self.templates,
                    HEARTBEAT_FIELDS,
                    "a heartbeat SMS only knows {since}, {ended} and {silence}",
                )
        if hb.email_to and self.smtp is None:
            problems.append(
                ("heartbeat.email_to", "needs an smtp section (the relay to send through)")
            )
        return problems

    def summary(self) -> str:
        """One line for check-config and the start-up log."""
        numbers = {r.number for group in self.recipients.values() for r in group}
        heartbeat = ""
        if self.heartbeat is not None:
            heartbeat = f", heartbeat silence {int(self.heartbeat.silence)}s"
        return (
            f"ok: {len(self.providers)} provider(s) ({', '.join(self.providers)}), "
            f"{len(self.templates)} template(s), {len(self.routes)} route(s), "
            f"{len(numbers)} recipient number(s), listen {self.listen}{heartbeat}"
        )


def _fields_problem(
    path: str,
    name: str,
    templates: Mapping[str, CompiledTemplate],
    allowed: frozenset[str],
    knows: str,
) -> list[tuple[str, str]]:
    """A referenced template that is unknown or uses placeholders this SMS cannot fill."""
    template = templates.get(name)
    if template is None:
        return [(path, f"unknown template {name!r}")]
    if template.fields <= allowed:
        return []
    extra = ", ".join(sorted("{" + f + "}" for f in template.fields - allowed))
    return [(path, f"template {name!r} uses {extra}; {knows}")]


def load_config(path: str | Path, *, listen_override: str | None = None) -> Config:
    """Read and validate a config file; raise ConfigError with every problem."""
    source = str(path)
    data = load_yaml(read_text(path), source=source)
    return parse_config(data, listen_override=listen_override, source=source)


def parse_config(data: object, *, listen_override: str | None = None, source: str = "") -> Config:
    """Validate decoded YAML; raise ConfigError with every problem."""
    if listen_override:
        try:
            parse_listen(listen_override, example=DEFAULT_LISTEN)
        except ValueError as exc:
            raise ConfigError([f"--listen: {exc}"], source=source) from None
        if isinstance(data, dict):
            data = {**data, "listen": listen_override}
    return validate(Config, data, source=source)


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
