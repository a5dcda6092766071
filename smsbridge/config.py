"""The bridge's configuration: YAML parsed once into frozen, typed dataclasses.

`load_config(path)` returns a `Config` or raises `ConfigError` listing *every*
problem with its YAML path (``providers.nic.pin_file: file not found``). Fields are
checked first, then cross-field rules: route references, DLT template matching,
E.164 numbers, and that each template's fixed text fits the part cap. Secrets are
read here (from ``*_file``/``*_env``) and held as `Secret`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from servicekit.config import BasicAuth, validate_at
from servicekit.listen import parse_listen
from servicekit.secrets import Secret

from . import providers
from .confreader import ConfigError, Node
from .providers.nic import NicConfig
from .segments import analyse
from .templates import CompiledTemplate, TemplateError, compile_template

DEFAULT_LISTEN: Final = "0.0.0.0:10072"
_E164: Final = re.compile(r"^\+[1-9]\d{7,14}$")
_INDIAN_MOBILE: Final = re.compile(r"^\+91[6-9]\d{9}$")
_NAME: Final = re.compile(r"^[A-Za-z0-9_.-]+$")
_LABEL: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DLT_ID: Final = re.compile(r"^\d{10,25}$")

ResolvedPolicy = Literal["always", "if_fired", "never"]
RESOLVED_POLICIES: Final = ("always", "if_fired", "never")
SUMMARY_FIELDS: Final = frozenset({"limit", "until"})
HEARTBEAT_FIELDS: Final = frozenset({"since", "ended", "silence"})
SmtpTls = Literal["starttls", "implicit", "none"]
SMTP_TLS: Final = ("starttls", "implicit", "none")
_SMTP_PORTS: Final = {"starttls": 587, "implicit": 465, "none": 25}
_EMAIL: Final = re.compile(r"^[^@\s<>,;]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_LOOPBACK: Final = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthConfig:
    """Who may post to /alertmanager: a bearer token, basic auth, or both."""

    token: Secret | None = None
    basic: BasicAuth | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxConfig:
    path: Path
    busy_timeout: float = 5.0
    max_age: float = 6 * 3600.0
    keep_done: float = 7 * 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderConfig:
    concurrency: int = 4
    retry_initial: float = 15.0
    retry_max: float = 600.0
    poll_interval: float = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagesConfig:
    max_parts: int = 3
    max_var_chars: int = 30
    timezone: str = "Asia/Kolkata"


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitConfig:
    """Per recipient: at most `max_messages` alert SMS in any `per` window."""

    max_messages: int
    per: float
    summary_template: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpConfig:
    """An SMTP relay for the dead man's switch's emails; TLS is verified."""

    host: str
    port: int
    tls: SmtpTls = "starttls"
    username: str | None = None
    password: Secret | None = None
    sender: str
    ca_file: Path | None = None
    timeout: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatConfig:
    """The dead man's switch: /heartbeat must be called at least every `silence`."""

    silence: float = 300.0
    reminder: float | None = None
    recipients: tuple[str, ...] = ("on-call",)
    templates: tuple[str, ...]
    recovery_templates: tuple[str, ...]
    email_to: tuple[str, ...] = ()
    forward_url: Secret | None = None

    @property
    def check_interval(self) -> float:
        """How often silence is checked: a few times per `silence`, at most every 10 s."""
        return max(0.05, min(10.0, self.silence / 4))


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    name: str
    number: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """Alerts whose common labels match go to `recipients` (group names) with `templates`."""

    name: str
    match: Mapping[str, str] = field(default_factory=dict)
    match_re: Mapping[str, re.Pattern[str]] = field(default_factory=dict)
    recipients: tuple[str, ...]
    templates: tuple[str, ...]
    resolved: ResolvedPolicy = "if_fired"

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match.items()) and all(
            p.fullmatch(labels.get(k, "")) is not None for k, p in self.match_re.items()
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    listen: str = DEFAULT_LISTEN
    max_body_bytes: int = 1 << 20
    dedup_window: float = 900.0
    auth: AuthConfig
    outbox: OutboxConfig
    sender: SenderConfig = field(default_factory=SenderConfig)
    messages: MessagesConfig = field(default_factory=MessagesConfig)
    rate_limit: RateLimitConfig | None = None
    providers: Mapping[str, providers.ProviderConfig]
    templates: Mapping[str, CompiledTemplate]
    recipients: Mapping[str, tuple[Recipient, ...]]
    routes: tuple[Route, ...]
    heartbeat: HeartbeatConfig | None = None
    smtp: SmtpConfig | None = None

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


def load_config(path: str | Path, *, listen_override: str | None = None) -> Config:
    """Read and validate a config file; raise ConfigError with every problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"<file>: cannot read {path}: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"<file>: invalid YAML{where}"]) from None
    return parse_config(data, listen_override=listen_override)


def parse_config(data: object, *, listen_override: str | None = None) -> Config:
    """Validate decoded YAML; raise ConfigError with every problem."""
    errors: list[str] = []
    root = Node.of(data, "", errors)
    if root is None:
        raise ConfigError(errors)
    built = _Builder(root).build(listen_override)
    if errors or built is None:
        raise ConfigError(errors or ["<root>: invalid configuration"])
    return built


class _Builder:
    def __init__(self, root: Node) -> None:
        self.root = root
        self.errors = root.errors

    def build(self, listen_override: str | None) -> Config | None:
        root = self.root
        listen = listen_override or root.text("listen", DEFAULT_LISTEN) or DEFAULT_LISTEN
        if listen_override:
            root.raw("listen")
        try:
            parse_listen(listen, example=DEFAULT_LISTEN)
        except ValueError as exc:
            self.errors.append(f"{'--listen' if listen_override else 'listen'}: {exc}")
        max_body = root.integer("max_body_bytes", 1 << 20, minimum=1024, maximum=64 << 20)
        dedup_window = root.duration("dedup_window", 900.0)
        auth = self._auth()
        outbox = self._outbox()
        sender = self._sender()
        messages = self._messages()
        rate_limit = self._rate_limit()
        provider_map = self._providers()
        templates = self._templates(messages)
        recipients = self._recipients(provider_map)
        routes = self._routes(templates, recipients)
        smtp = self._smtp()
        heartbeat = self._heartbeat(templates, recipients, smtp)
        if rate_limit is not None and rate_limit.summary_template is not None:
            summary = templates.get(rate_limit.summary_template)
            defined = root.data.get("templates")
            if summary is None and (
                not isinstance(defined, dict) or rate_limit.summary_template not in defined
            ):
                self.errors.append(
                    f"rate_limit.summary_template: unknown template {rate_limit.summary_template!r}"
                )
            elif summary is not None and not summary.fields <= SUMMARY_FIELDS:
                extra = ", ".join(sorted("{" + f + "}" for f in summary.fields - SUMMARY_FIELDS))
                self.errors.append(
                    f"rate_limit.summary_template: template {summary.name!r} uses {extra}; "
                    "a summary SMS only knows {limit} and {until}"
                )
        root.finish()
        if auth is None or outbox is None or self.errors:
            return None
        return Config(
            listen=listen,
            max_body_bytes=max_body,
            dedup_window=dedup_window,
            auth=auth,
            outbox=outbox,
            sender=sender,
            messages=messages,
            rate_limit=rate_limit,
            providers=MappingProxyType(provider_map),
            templates=MappingProxyType(templates),
            recipients=MappingProxyType(recipients),
            routes=tuple(routes),
            heartbeat=heartbeat,
            smtp=smtp,
        )

    def _auth(self) -> AuthConfig | None:
        node = self.root.child("auth", required=True)
        if node is None:
            return None
        token = None
        if node.has("token_file") or node.has("token_env") or node.has("token"):
            token = node.secret("token", required=True)
        else:
            node.raw("token_file")
            node.raw("token_env")
        basic = None
        if node.has("basic_auth"):
            raw = node.raw("basic_auth")
            basic = validate_at(BasicAuth, raw, path=node.at("basic_auth"), errors=self.errors)
        elif token is None and not self._has_error("auth"):
            node.error(None, "set token_file, token_env or basic_auth; the webhook is never open")
        node.finish()
        return AuthConfig(token=token, basic=basic)

    def _has_error(self, prefix: str) -> bool:
        return any(e.startswith(prefix) for e in self.errors)

    def _outbox(self) -> OutboxConfig | None:
        node = self.root.child("outbox", required=True)
        if node is None:
            return None
        path = node.text("path", required=True)
        busy = node.duration("busy_timeout", 5.0)
        max_age = node.duration("max_age", 6 * 3600.0)
        keep_done = node.duration("keep_done", 7 * 86400.0)
        node.finish()
        if path is None:
            return None
        parent = Path(path).expanduser().parent
        if not parent.is_dir():
            node.error("path", f"directory {str(parent)!r} does not exist")
        return OutboxConfig(
            path=Path(path).expanduser(), busy_timeout=busy, max_age=max_age, keep_done=keep_done
        )

    def _sender(self) -> SenderConfig:
        node = self.root.child("sender")
        if node is None:
            return SenderConfig()
        cfg = SenderConfig(
            concurrency=node.integer("concurrency", 4, minimum=1, maximum=64),
            retry_initial=node.duration("retry_initial", 15.0),
            retry_max=node.duration("retry_max", 600.0),
            poll_interval=node.duration("poll_interval", 5.0),
        )
        if cfg.retry_max < cfg.retry_initial:
            node.error("retry_max", "must not be shorter than retry_initial")
        node.finish()
        return cfg

    def _messages(self) -> MessagesConfig:
        node = self.root.child("messages")
        if node is None:
            return MessagesConfig()
        cfg = MessagesConfig(
            max_parts=node.integer("max_parts", 3, minimum=1, maximum=10),
            max_var_chars=node.integer("max_var_chars", 30, minimum=0, maximum=500),
            timezone=node.text("timezone", "Asia/Kolkata") or "Asia/Kolkata",
        )
        try:
            ZoneInfo(cfg.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            node.error("timezone", f"unknown time zone {cfg.timezone!r}")
        node.finish()
        return cfg

    def _rate_limit(self) -> RateLimitConfig | None:
        node = self.root.child("rate_limit")
        if node is None:
            return None
        cfg = RateLimitConfig(
            max_messages=node.integer("max_messages", 10, minimum=1),
            per=node.duration("per", 3600.0),
            summary_template=node.text("summary_template"),
        )
        node.finish()
        return cfg

    def _providers(self) -> dict[str, providers.ProviderConfig]:
        result: dict[str, providers.ProviderConfig] = {}
        for name, path, raw in self.root.entries("providers", required=True):
            node = Node.of(raw, path, self.errors)
            if node is None:
                continue
            default_kind = name if name in providers.KINDS else None
            kind = node.text("kind", default_kind)
            if kind is None:
                node.error("kind", f"required (one of {', '.join(providers.KINDS)})")
                continue
            if kind not in providers.KINDS:
                node.error("kind", f"expected one of {', '.join(providers.KINDS)}, got {kind!r}")
                continue
            parsed = providers.KINDS[kind].parse(node)
            if parsed is not None:
                result[name] = parsed
        return result

    def _templates(self, messages: MessagesConfig) -> dict[str, CompiledTemplate]:
        result: dict[str, CompiledTemplate] = {}
        for name, path, raw in self.root.entries("templates", required=True):
            node = Node.of(raw, path, self.errors)
            if node is None:
                continue
            if not _NAME.match(name):
                self.errors.append(f"{path}: template names use letters, digits, '_', '-', '.'")
            dlt_id = node.text("dlt_template_id", required=True)
            if dlt_id is not None and not _DLT_ID.match(dlt_id):
                node.error(
                    "dlt_template_id", f"expected the numeric DLT template id, got {dlt_id!r}"
                )
            dlt_text = node.text("dlt_text", required=True)
            text = node.text("text", required=True)
            node.finish()
            if dlt_id is None or dlt_text is None or text is None:
                continue
            try:
                compiled = compile_template(
                    name=name,
                    text=text,
                    dlt_text=dlt_text,
                    dlt_template_id=dlt_id,
                    max_var_chars=messages.max_var_chars,
                )
            except TemplateError as exc:
                node.error("text", str(exc))
                continue
            fixed = analyse("".join(compiled.literals))
            if fixed.parts > messages.max_parts:
                node.error(
                    "text",
                    f"fixed text alone needs {fixed.parts} SMS parts ({fixed.encoding}), "
                    f"more than messages.max_parts={messages.max_parts}",
                )
                continue
            result[name] = compiled
        return result

    def _recipients(
        self, provider_map: Mapping[str, providers.ProviderConfig]
    ) -> dict[str, tuple[Recipient, ...]]:
        only_nic = bool(provider_map) and all(
            isinstance(p, NicConfig) for p in provider_map.values()
        )
        result: dict[str, tuple[Recipient, ...]] = {}
        for group, group_path, raw in self.root.entries("recipients", required=True):
            if not isinstance(raw, list) or not raw:
                self.errors.append(f"{group_path}: expected a non-empty list of recipients")
                continue
            members: list[Recipient] = []
            for index, item in enumerate(raw):
                path = f"{group_path}[{index}]"
                if isinstance(item, str):
                    item = {"name": item, "number": item}
                node = Node.of(item, path, self.errors)
                if node is None:
                    continue
                number = node.text("number", required=True)
                name = node.text("name", number) or ""
                node.finish()
                if number is None:
                    continue
                number = number.replace(" ", "").replace("-", "")
                if not _E164.match(number):
                    node.error(
                        "number", f"expected an E.164 number like +919876543210, got {number!r}"
                    )
                    continue
                if number.startswith("+91") and not _INDIAN_MOBILE.match(number):
                    node.error(
                        "number",
                        f"not an Indian mobile number (+91 then 10 digits from 6-9): {number!r}",
                    )
                    continue
                if only_nic and not number.startswith("+91"):
                    node.error("number", "the nic gateway delivers only to +91 numbers")
                    continue
                members.append(Recipient(name=name, number=number))
            result[group] = tuple(members)
        return result

    def _routes(
        self,
        templates: Mapping[str, CompiledTemplate],
        recipients: Mapping[str, tuple[Recipient, ...]],
    ) -> list[Route]:
        routes: list[Route] = []
        for path, raw in self.root.elements("routes", required=True):
            node = Node.of(raw, path, self.errors)
            if node is None:
                continue
            name = node.text("name", path) or path
            match = node.str_map("match")
            match_re: dict[str, re.Pattern[str]] = {}
            for label, pattern in node.str_map("match_re").items():
                try:
                    match_re[label] = re.compile(pattern)
                except re.error as exc:
                    self.errors.append(
                        f"{node.at('match_re')}.{label}: invalid regular expression: {exc}"
                    )
            for label in [*match, *match_re]:
                if not _LABEL.match(label):
                    node.error("match", f"invalid label name {label!r}")
            groups = self._names(node, "recipients", recipients, "recipient group")
            tmpl = self._names(node, "templates", templates, "template")
            resolved = node.choice("resolved", RESOLVED_POLICIES, "if_fired")
            node.finish()
            routes.append(
                Route(
                    name=name,
                    match=MappingProxyType(match),
                    match_re=MappingProxyType(match_re),
                    recipients=groups,
                    templates=tmpl,
                    resolved=cast(ResolvedPolicy, resolved),
                )
            )
        names = [r.name for r in routes]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            self.errors.append(f"routes: duplicate route name {dup!r}")
        return routes

    def _names(
        self,
        node: Node,
        key: str,
        known: Mapping[str, object],
        what: str,
        *,
        section: str | None = None,
    ) -> tuple[str, ...]:
        raw = node.raw(key)
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
            node.error(key, f"expected a {what} name or a non-empty list of them")
            return ()
        defined = self.root.data.get(section or key)
        for item in raw:
            # Only report a dangling reference when the referenced section itself parsed.
            if item not in known and isinstance(defined, dict) and item not in defined:
                node.error(key, f"unknown {what} {item!r}")
        return tuple(cast(list[str], raw))

    def _smtp(self) -> SmtpConfig | None:
        node = self.root.child("smtp")
        if node is None:
            return None
        host = node.text("host", required=True)
        tls = cast(SmtpTls, node.choice("tls", SMTP_TLS, "starttls"))
        port = node.integer("port", _SMTP_PORTS[tls], minimum=1, maximum=65535)
        username = node.text("username")
        password = node.secret("password", required=username is not None)
        if password is not None and username is None:
            node.error("username", "required when a password is set")
        sender = node.text("from", required=True)
        if sender is not None and not _EMAIL.match(sender):
            node.error("from", f"expected an email address, got {sender!r}")
        ca_file = node.text("ca_file")
        if ca_file is not None and not Path(ca_file).is_file():
            node.error("ca_file", "file not found")
        timeout = node.duration("timeout", 10.0)
        if tls == "none" and username is not None:
            node.error(
                "tls",
                "none would send the SMTP password in clear; use starttls or implicit",
            )
        node.finish()
        if host is None or sender is None:
            return None
        return SmtpConfig(
            host=host,
            port=port,
            tls=tls,
            username=username,
            password=password,
            sender=sender,
            ca_file=Path(ca_file) if ca_file else None,
            timeout=timeout,
        )

    def _heartbeat(
        self,
        templates: Mapping[str, CompiledTemplate],
        recipients: Mapping[str, tuple[Recipient, ...]],
        smtp: SmtpConfig | None,
    ) -> HeartbeatConfig | None:
        node = self.root.child("heartbeat")
        if node is None:
            return None
        silence = node.duration("silence", 300.0)
        reminder: float | None = None
        if node.has("reminder"):
            reminder = node.duration("reminder", 0.0) or None
            if reminder is not None and reminder < silence:
                node.error("reminder", "must not be shorter than silence")
        else:
            node.raw("reminder")
        if node.has("recipients"):
            groups = self._names(node, "recipients", recipients, "recipient group")
        else:
            node.raw("recipients")
            groups = ("on-call",)
            if isinstance(self.root.data.get("recipients"), dict) and "on-call" not in recipients:
                node.error(
                    "recipients", "required: there is no recipient group 'on-call' to default to"
                )
        broken = self._names(node, "templates", templates, "template")
        recovered = self._names(
            node, "recovery_templates", templates, "template", section="templates"
        )
        for key, names in (("templates", broken), ("recovery_templates", recovered)):
            for name in names:
                template = templates.get(name)
                if template is not None and not template.fields <= HEARTBEAT_FIELDS:
                    extra = ", ".join(
                        sorted("{" + f + "}" for f in template.fields - HEARTBEAT_FIELDS)
                    )
                    node.error(
                        key,
                        f"template {name!r} uses {extra}; a heartbeat SMS only knows "
                        "{since}, {ended} and {silence}",
                    )
        email_to: list[str] = []
        for path, raw in node.elements("email_to"):
            if not isinstance(raw, str) or not _EMAIL.match(raw.strip()):
                self.errors.append(f"{path}: expected an email address, got {raw!r}")
                continue
            email_to.append(raw.strip())
        if email_to and smtp is None and not self.root.has("smtp"):
            node.error("email_to", "needs an smtp section (the relay to send through)")
        forward_url = node.secret("forward_url", required=False)
        if forward_url is not None:
            problem = _ping_url_problem(forward_url.reveal())
            if problem:
                key = "forward_url_file" if node.has("forward_url_file") else "forward_url_env"
                # The URL itself is a credential (a ping UUID): never echoed.
                node.error(key, problem)
        node.finish()
        return HeartbeatConfig(
            silence=silence,
            reminder=reminder,
            recipients=groups,
            templates=broken,
            recovery_templates=recovered,
            email_to=tuple(email_to),
            forward_url=forward_url,
        )


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
