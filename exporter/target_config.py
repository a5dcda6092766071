"""The http, tcp and dns target models of the exporter's configuration.

`exporter.config` assembles the whole file (and exports these); `exporter.login_config`
holds the login kind and `exporter.target_base` what every kind shares. Header values may
reference the environment (`${NAME}`) and are then held as `Secret`; a DNS server is an IP
address with an optional port.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

from exporter.login_config import LoginTarget
from exporter.target_base import (
    Host,
    TargetBase,
    TcpTLS,
    TLSConfig,
    UpperCase,
)
from servicekit.config import (
    BasicAuth,
    EnvSecret,
    FileSecret,
    Model,
    Problems,
    Text,
    describe,
    error_pairs,
    int_range,
    one_secret,
    refused_secret,
)
from servicekit.listen import is_host
from servicekit.match import ResponseMatch
from servicekit.secrets import Secret

DEFAULT_MAX_REDIRECTS = 5
MAX_REDIRECTS_LIMIT = 20
DNS_PORT = 53
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Headers that carry credentials must not be written literally into the config file.
_SENSITIVE_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-api-key"}


def _url(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {describe(value)}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {describe(value)}")
    if parts.username or parts.password:
        raise ValueError("credentials in the URL are not allowed; use basic_auth with password_env")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError(f"invalid port in URL {describe(value)}") from None
    return value


Url = Annotated[str, PlainValidator(_url)]
Header = tuple[str, str | Secret]


def _interpolate(value: str) -> str | Secret:
    """`${NAME}` references make the whole value a Secret read from the environment."""
    if not _ENV_REF.search(value):
        return value
    missing = [n for n in _ENV_REF.findall(value) if not os.environ.get(n)]
    if missing:
        raise ValueError(f"environment variable {', '.join(missing)} is not set (or empty)")
    return Secret(_ENV_REF.sub(lambda m: os.environ[m.group(1)], value))


class _HeaderSecret(Model):
    value_env: EnvSecret | None = None
    value_file: FileSecret | None = None
    literal_value: refused_secret("value") = Field(default=None, alias="value")  # type: ignore[valid-type]

    def secret(self) -> Secret:
        found = one_secret(self.value_env, self.value_file, stem="value")
        assert found is not None
        return found


def _headers(value: object) -> tuple[Header, ...]:
    """`{X-Token: "${TOKEN}", Authorization: {value_file: PATH}, X-Plain: hello}`."""
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping of header names to values, got {describe(value)}")
    out: list[Header] = []
    problems: list[tuple[str, str]] = []
    for name, raw in value.items():
        key = str(name)
        try:
            if not isinstance(name, str) or not _HEADER_NAME_RE.match(name):
                raise ValueError("not a valid HTTP header name")
            if isinstance(raw, dict):
                try:
                    out.append((name, _HeaderSecret.model_validate(raw).secret()))
                except ValidationError as exc:
                    problems += [
                        (f"{key}.{rel}" if rel else key, msg) for rel, msg in error_pairs(exc, raw)
                    ]
                except ValueError as exc:
                    problems.append((key, str(exc)))
                continue
            if not isinstance(raw, str):
                raise ValueError(f"expected a string, got {describe(raw)}")
            text = _interpolate(raw)
            if name.lower() in _SENSITIVE_HEADERS and not isinstance(text, Secret):
                raise ValueError(
                    "credential headers must not be written in the config; use ${ENV_NAME} "
                    "or {value_file: PATH}"
                )
            out.append((name, text))
        except ValueError as exc:
            problems.append((key, str(exc)))
    if problems:
        raise Problems(problems)
    return tuple(out)


Headers = Annotated[tuple[Header, ...], PlainValidator(_headers)]


# --------------------------------------------------------------------------- sections


class HttpExpect(ResponseMatch):
    """What an http answer must show; `redirect_host` is the host the redirects end at.

    The host (or host:port) of the Location header when not following redirects,
    otherwise of the final URL.
    """

    redirect_host: Text | None = None

    @field_validator("redirect_host")
    @classmethod
    def _host_only(cls, value: str | None) -> str | None:
        if value is not None:
            host = value.rsplit(":", 1)[0] if ":" in value else value
            if not is_host(host):
                raise ValueError(f"not a host name, got {describe(value)}")
        return value

    @model_validator(mode="after")
    def _one_body_rule(self) -> HttpExpect:
        if self.body_contains is not None and self.body_regex is not None:
            raise ValueError("give only one of body_contains and body_regex")
        return self


class HttpTarget(TargetBase):
    kind: Literal["http"] = "http"
    url: Url
    method: Annotated[Literal["GET", "HEAD", "POST"], UpperCase] = "GET"
    follow_redirects: bool = True
    max_redirects: Annotated[int, int_range(0, MAX_REDIRECTS_LIMIT)] = DEFAULT_MAX_REDIRECTS
    headers: Headers = ()
    basic_auth: BasicAuth | None = None
    expect: HttpExpect = HttpExpect()
    tls: TLSConfig = TLSConfig()
    max_body_bytes: Annotated[int, int_range(1024, 64 * 1048576)] = 1_048_576

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> HttpTarget:
        if self.basic_auth is not None and self.url.startswith("http://"):
            raise Problems([("basic_auth", "refusing to send a password over plain http://")])
        return self

    def secrets(self) -> tuple[Secret, ...]:
        out = [v for _, v in self.headers if isinstance(v, Secret)]
        if self.basic_auth is not None:
            out.append(self.basic_auth.password)
        return tuple(out)


class TcpTarget(TargetBase):
    kind: Literal["tcp"] = "tcp"
    host: Host
    port: Annotated[int, int_range(1, 65535)]
    tls: TcpTLS | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsServer:
    """A resolver to ask by address: `10.0.0.53`, `10.0.0.53:5353`, `[fd00::53]:53`."""

    address: str  # a normalised IP literal, no brackets
    port: int = DNS_PORT

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


_DNS_SERVER_HINT = 'expected an IP address with optional port, like 10.0.0.53 or "[fd00::53]:5353"'
_BRACKETED = re.compile(r"\[([^\]]*)\](?::(.*))?")


def _dns_server(value: object) -> DnsServer:
    """`10.0.0.53`, `10.0.0.53:5353`, `fd00::53` or `[fd00::53]:5353`.

    Host names are refused: a resolver named by a name needs another resolver to find it,
    and a failure there would be blamed on the one being watched.
    """
    bad = f"{_DNS_SERVER_HINT}, got {describe(value)}"
    if not isinstance(value, str):
        raise ValueError(bad)
    host, port_text = value.strip(), None
    bracketed = _BRACKETED.fullmatch(host)
    if bracketed:
        host, port_text = bracketed.group(1), bracketed.group(2)
    elif host.count(":") == 1:
        host, port_text = host.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(bad) from None
    if bracketed and address.version != 6:
        raise ValueError(bad)
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        raise ValueError(
            f"a zone index (%{address.scope_id}) is not supported, got {describe(value)}"
        )
    if port_text is None:
        return DnsServer(address=str(address))
    if not port_text.isdigit():
        raise ValueError(bad)
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"expected a port 1-65535 after the address, got {port}")
    return DnsServer(address=str(address), port=port)


def _ip(value: object) -> str:
    try:
        return str(ipaddress.ip_address(value))  # type: ignore[arg-type]
    except ValueError:
        raise ValueError(f"not an IP address, got {describe(value)}") from None


def _nonempty_list(value: object) -> object:
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a list of IP addresses, got {describe(value)}")
    return value


class DnsExpect(Model):
    addresses: Annotated[tuple[str, ...], PlainValidator(lambda v: _ip_list(v))] = ()


def _ip_list(value: object) -> tuple[str, ...]:
    items = _nonempty_list(value)
    assert isinstance(items, list)
    out, problems = [], []
    for i, item in enumerate(items):
        try:
            out.append(_ip(item))
        except ValueError as exc:
            problems.append((f"[{i}]", str(exc)))
    if problems:
        raise Problems(problems)
    return tuple(out)


class DnsTarget(TargetBase):
    kind: Literal["dns"] = "dns"
    host: Host
    # None: the vantage's system resolver (getaddrinfo). Set: ask this server directly.
    server: Annotated[DnsServer, PlainValidator(_dns_server)] | None = None
    # udp (TCP when truncated) | tcp; only with `server`. None: not written (udp).
    transport_: Literal["udp", "tcp"] | None = Field(default=None, alias="transport")
    family: Literal["any", "ipv4", "ipv6"] = "any"
    expect: DnsExpect = DnsExpect()

    @model_validator(mode="after")
    def _server_rules(self) -> DnsTarget:
        problems = []
        if self.transport_ is not None and self.server is None:
            problems.append(
                (
                    "transport",
                    "applies only with server; the system resolver picks its own transport",
                )
            )
        if self.server is not None and not _is_name(self.host):
            problems.append(
                (
                    "host",
                    "with server, expected a name to resolve, got the IP address "
                    f"{describe(self.host)}",
                )
            )
        if problems:
            raise Problems(problems)
        return self

    @property
    def expect_addresses(self) -> tuple[str, ...]:
        return self.expect.addresses

    @property
    def transport(self) -> str:
        """udp (falling back to TCP when truncated) unless tcp was asked for."""
        return self.transport_ or "udp"


def _is_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


Target = Annotated[HttpTarget | TcpTarget | DnsTarget | LoginTarget, Field(discriminator="kind")]


