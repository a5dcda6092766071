"""Exporter configuration: the YAML schema as frozen pydantic models, loading and validation.

The file is parsed once into typed models (`servicekit.config` is the kernel). Nothing
raises on the first problem: every error is collected with the YAML path it belongs to,
e.g. `targets[2].expect.status[0]: expected an HTTP status 100-599, got "2xx"`, and all
are reported together in one `ConfigError`. Targets are a union discriminated on `kind`;
the kinds are http, tcp and dns (`exporter.target_config`) and login
(`exporter.login_config`). Secrets
(header values, passwords, the admin token) come only from the environment (`${NAME}`,
`*_env`) or files (`*_file`) and are held as `Secret`. Field checks run before
cross-field rules (timeout < interval, unique names), so one typo does not produce a
cascade of confusing follow-up errors.

Example::

    vantage: secretariat-dehradun
    defaults: {interval: 30s, timeout: 10s}
    targets:
      - name: parichay-login-page
        role: sso
        kind: http
        url: https://parichay.nic.in/pnv1/assets/login?sid=eOfficeUK
        expect: {status: [200], body_contains: Parichay}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    PlainValidator,
    PrivateAttr,
    field_validator,
    model_validator,
)

from exporter.login_config import MIN_LOGIN_INTERVAL, LoginTarget
from exporter.target_base import (
    DEFAULT_INTERVAL,
    DEFAULT_TIMEOUT,
    Role,
    TargetBase,
    TcpTLS,
    TLSConfig,
)
from exporter.target_config import (
    DnsServer,
    DnsTarget,
    HttpExpect,
    HttpTarget,
    Target,
    TcpTarget,
)
from servicekit.config import (
    BasicAuth,
    ConfigError,
    Duration,
    EnvSecret,
    FileSecret,
    Model,
    Problems,
    describe,
    int_range,
    load_yaml,
    one_secret,
    read_secret_file,
    read_text,
    refused_secret,
    validate,
)
from servicekit.durations import parse_duration
from servicekit.listen import parse_listen
from servicekit.secrets import Secret

__all__ = [
    "MIN_LOGIN_INTERVAL",
    "BasicAuth",
    "Config",
    "ConfigError",
    "DnsServer",
    "DnsTarget",
    "HttpExpect",
    "HttpTarget",
    "LoginTarget",
    "Role",
    "TLSConfig",
    "Target",
    "TargetBase",
    "TcpTLS",
    "TcpTarget",
    "load_config",
    "load_config_text",
    "parse_config",
    "parse_duration",
    "read_admin_token_file",
]

DEFAULT_LISTEN = "0.0.0.0:10071"
_LABEL_VALUE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
DEFAULT_MAX_CONCURRENCY = 16
MIN_ADMIN_TOKEN_LENGTH = 16

def _check_admin_token(token: Secret) -> Secret:
    """An admin token must be long enough not to be guessed over the network."""
    if len(token.reveal()) < MIN_ADMIN_TOKEN_LENGTH:
        raise ValueError(
            f"the admin token must be at least {MIN_ADMIN_TOKEN_LENGTH} characters; "
            "generate one with: head -c 32 /dev/urandom | base64"
        )
    return token


class Admin(Model):
    """Bearer token of the admin endpoints (/-/reload, /-/resume)."""

    token_env: EnvSecret | None = None
    token_file: FileSecret | None = None
    literal_token: refused_secret("token") = Field(default=None, alias="token")  # type: ignore[valid-type]

    @field_validator("token_env", "token_file", mode="after")
    @classmethod
    def _long_enough(cls, value: Secret | None) -> Secret | None:
        return None if value is None else _check_admin_token(value)

    @model_validator(mode="after")
    def _one_token(self) -> Admin:
        one_secret(self.token_env, self.token_file, stem="token")
        return self

    @property
    def token(self) -> Secret:
        found = self.token_env or self.token_file
        assert found is not None
        return found


class Defaults(Model):
    interval: Duration = DEFAULT_INTERVAL
    timeout: Duration = DEFAULT_TIMEOUT


def _listen(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected HOST:PORT such as {DEFAULT_LISTEN}, got {describe(value)}")
    try:
        parse_listen(value, example="0.0.0.0:10071")
    except ValueError as exc:
        raise ValueError(str(exc).replace(f"{value!r}", describe(value))) from None
    return value


def _vantage(value: object) -> str:
    if not isinstance(value, str) or not _LABEL_VALUE_RE.match(value):
        raise ValueError(f"use letters, digits, '-', '_' or '.'; got {describe(value)}")
    return value


def _targets(value: object) -> object:
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a non-empty list of targets, got {describe(value)}")
    return value


class Config(Model):
    """The whole exporter config file."""

    vantage: Annotated[str, PlainValidator(_vantage)]
    listen: Annotated[str, PlainValidator(_listen)] = DEFAULT_LISTEN
    defaults: Defaults = Defaults()
    max_concurrency: Annotated[int, int_range(1, 1024)] = DEFAULT_MAX_CONCURRENCY
    targets: Annotated[tuple[Target, ...], BeforeValidator(_targets)]
    admin: Admin | None = None
    # The file it came from, set by the loader (never a key of the file).
    _source: str = PrivateAttr(default="")

    @property
    def source(self) -> str:
        return self._source

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: dict[str, int] = {}
        problems = []
        for i, target in enumerate(self.targets):
            if target.name in seen:
                problems.append(
                    (
                        f"targets[{i}].name",
                        f'duplicate name "{target.name}" (also targets[{seen[target.name]}])',
                    )
                )
            else:
                seen[target.name] = i
        if problems:
            raise Problems(problems)
        return self

    @property
    def admin_token(self) -> Secret | None:
        """Bearer token of the admin endpoints; None: they are disabled."""
        return None if self.admin is None else self.admin.token

    def target(self, name: str) -> HttpTarget | TcpTarget | DnsTarget | LoginTarget | None:
        return next((t for t in self.targets if t.name == name), None)


def read_admin_token_file(path: str) -> Secret:
    """The token file given by `--admin-token-file`; raises ConfigError naming the flag."""
    try:
        return _check_admin_token(read_secret_file(path))
    except ValueError as exc:
        raise ConfigError([f"--admin-token-file: {exc}"], source=path) from None


def parse_config(data: Any, *, source: str = "") -> Config:
    """Turn a YAML document (already loaded) into a Config, or raise ConfigError."""
    defaults: dict[str, float] = {}
    if isinstance(data, dict) and isinstance(data.get("defaults"), dict):
        # Targets inherit these; a bad value is reported at `defaults.*` by the model.
        for key in ("interval", "timeout"):
            try:
                defaults[key] = parse_duration(str(data["defaults"].get(key, "")))
            except ValueError:
                pass
    config = validate(Config, data, source=source, context={"defaults": defaults})
    config._source = source
    return config


def load_config_text(text: str, *, source: str = "<string>") -> Config:
    return parse_config(load_yaml(text, source=source), source=source)


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; raises ConfigError (never another exception)."""
    return load_config_text(read_text(path), source=str(path))
