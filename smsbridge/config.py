"""The bridge's configuration: YAML validated once into frozen, typed models.

`load_config(path)` returns a `Config` or raises `ConfigError` listing *every*
problem with its YAML path (``providers.nic.pin_file: file not found: ...``); the
models are `servicekit.config.Model`s, so the bridge and the exporter share one config
style. Each section's model is in `config_sections.py`; this module owns the whole
file: its top-level fields, the templates compiled against their DLT text, and the
cross-field rules (route and heartbeat references, template placeholders, numbers a
nic-only setup cannot reach). Secrets are read (from ``*_file``/``*_env``) and held
as `Secret` by the section models.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from servicekit.config import (
    Duration,
    Model,
    Problems,
    describe,
    error_pairs,
    int_range,
    load_yaml,
    read_text,
    validate,
)
from servicekit.errors import ConfigError
from servicekit.listen import parse_listen

from . import providers
from .config_sections import (
    AuthConfig,
    HeartbeatConfig,
    MessagesConfig,
    OutboxConfig,
    RateLimitConfig,
    Recipient,
    Route,
    SenderConfig,
    SmtpConfig,
    TemplateSpec,
)
from .providers.nic import NicConfig
from .segments import analyse
from .templates import CompiledTemplate, TemplateError, compile_template

__all__ = [
    "AuthConfig",
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
_NAME: Final = re.compile(r"^[A-Za-z0-9_.-]+$")

SUMMARY_FIELDS: Final = frozenset({"limit", "until"})
HEARTBEAT_FIELDS: Final = frozenset({"since", "ended", "silence"})


def _listen(value: object) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str):
        raise ValueError(f"expected HOST:PORT such as {DEFAULT_LISTEN}, got {describe(value)}")
    parse_listen(text, example=DEFAULT_LISTEN)
    return text


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


def _group(value: tuple[Recipient, ...]) -> tuple[Recipient, ...]:
    if not value:
        raise ValueError("expected a non-empty list of recipients")
    return value


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
