"""Exporter configuration: YAML schema, parsing, validation.

The YAML file is parsed once into frozen, typed dataclasses. Parsing never raises on the
first problem: every error is collected with the YAML path it belongs to, e.g.
`targets[2].expect.status: expected HTTP status codes 100-599, got "2xx"`, and all of them
are reported together in a `ConfigError`. Secrets (header values, basic-auth passwords)
come only from the environment (`${NAME}`, `*_env`) or files (`*_file`) and are held as
`Secret`. Field checks run before cross-field rules (timeout < interval, unique names), so
one typo does not produce a cascade of confusing follow-up errors.

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

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union
from urllib.parse import urlsplit

import yaml

from exporter.secrets import Secret

if TYPE_CHECKING:
    from exporter.login_config import LoginTarget

DEFAULT_LISTEN = "0.0.0.0:10071"
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_REDIRECTS = 5
MAX_REDIRECTS_LIMIT = 20
DEFAULT_MAX_CONCURRENCY = 16
DNS_PORT = 53
# Login targets must not hammer a real account: never more often than this.
MIN_LOGIN_INTERVAL = 60.0
MIN_ADMIN_TOKEN_LENGTH = 16

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_LABEL_VALUE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Headers that carry credentials must not be written literally into the config file.
_SENSITIVE_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-api-key"}


class Role(StrEnum):
    SSO = "sso"
    APP = "app"
    CONTROL = "control"


class ConfigError(Exception):
    """Every problem found in a config file, each line naming its YAML path."""

    def __init__(self, errors: list[str], *, source: str = "") -> None:
        self.errors = errors
        self.source = source
        head = f"{source}: " if source else ""
        super().__init__(head + f"{len(errors)} error(s)\n" + "\n".join(errors))


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSConfig:
    enabled: bool = True
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    server_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BasicAuth:
    username: str
    password: Secret


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpExpect:
    # Empty means "any 2xx".
    status: tuple[int, ...] = ()
    body_contains: str | None = None
    body_regex: re.Pattern[str] | None = None
    # Host (or host:port) of the Location header when not following redirects,
    # otherwise of the final URL.
    redirect_host: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetBase:
    name: str
    role: Role
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT

    @property
    def kind(self) -> str:
        raise NotImplementedError

    def secrets(self) -> tuple[Secret, ...]:
        return ()

    @property
    def extra_deadline(self) -> float:
        """Seconds a run may spend waiting before its timeout starts (a fresh TOTP code)."""
        return 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpTarget(TargetBase):
    url: str
    method: str = "GET"
    follow_redirects: bool = True
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    headers: tuple[tuple[str, str | Secret], ...] = ()
    basic_auth: BasicAuth | None = None
    expect: HttpExpect = field(default_factory=HttpExpect)
    tls: TLSConfig = field(default_factory=TLSConfig)
    max_body_bytes: int = 1_048_576

    @property
    def kind(self) -> str:
        return "http"

    def secrets(self) -> tuple[Secret, ...]:
        out = [v for _, v in self.headers if isinstance(v, Secret)]
        if self.basic_auth is not None:
            out.append(self.basic_auth.password)
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpTarget(TargetBase):
    host: str
    port: int
    tls: TLSConfig | None = None

    @property
    def kind(self) -> str:
        return "tcp"


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsServer:
    """A resolver to ask by address: `10.0.0.53`, `10.0.0.53:5353`, `[fd00::53]:53`."""

    address: str  # a normalised IP literal, no brackets
    port: int = DNS_PORT

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsTarget(TargetBase):
    host: str
    family: str = "any"  # any | ipv4 | ipv6
    expect_addresses: tuple[str, ...] = ()
    # None: the vantage's system resolver (getaddrinfo). Set: ask this server directly.
    server: DnsServer | None = None
    transport: str = "udp"  # udp (TCP when truncated) | tcp; only with `server`

    @property
    def kind(self) -> str:
        return "dns"


Target = Union[HttpTarget, TcpTarget, DnsTarget, "LoginTarget"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    vantage: str
    listen: str = DEFAULT_LISTEN
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    targets: tuple[Target, ...] = ()
    source: str = ""
    # Bearer token of the admin endpoints (/-/reload, /-/resume); None: they are disabled.
    admin_token: Secret | None = None

    def target(self, name: str) -> Target | None:
        return next((t for t in self.targets if t.name == name), None)


# --------------------------------------------------------------------------- helpers


class _Errors:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}" if path else message)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return str(value)


def _mapping(
    node: Any,
    path: str,
    errs: _Errors,
    *,
    allowed: set[str],
    required: set[str] = frozenset(),  # type: ignore[assignment]
) -> dict[str, Any] | None:
    if not isinstance(node, dict):
        errs.add(path, f"expected a mapping, got {_describe(node)}")
        return None
    ok = True
    for key in node:
        if not isinstance(key, str) or key not in allowed:
            errs.add(
                _join(path, str(key)),
                f"unknown key; allowed keys here: {', '.join(sorted(allowed))}",
            )
            ok = False
    for key in sorted(required - set(node)):
        errs.add(_join(path, key), "is required")
        ok = False
    return node if ok or node else None


def _str(node: Any, path: str, errs: _Errors, *, nonempty: bool = True) -> str | None:
    if not isinstance(node, str) or (nonempty and not node.strip()):
        errs.add(path, f"expected a non-empty string, got {_describe(node)}")
        return None
    return node


def _bool(node: Any, path: str, errs: _Errors) -> bool | None:
    if not isinstance(node, bool):
        errs.add(path, f"expected true or false, got {_describe(node)}")
        return None
    return node


def _int(node: Any, path: str, errs: _Errors, *, lo: int, hi: int) -> int | None:
    if isinstance(node, bool) or not isinstance(node, int) or not lo <= node <= hi:
        errs.add(path, f"expected a whole number {lo}-{hi}, got {_describe(node)}")
        return None
    return node


def parse_duration(text: str) -> float | None:
    """`15s`, `2m`, `1m30s`, `500ms` -> seconds; None if not a duration."""
    pos, total = 0, 0.0
    if not text:
        return None
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return total if pos == len(text) else None


def _duration(node: Any, path: str, errs: _Errors) -> float | None:
    value = parse_duration(node) if isinstance(node, str) else None
    if value is None or value <= 0:
        errs.add(path, f"expected a duration such as 15s, 2m or 500ms, got {_describe(node)}")
        return None
    return value


def _secret_from(
    node: Mapping[str, Any], path: str, errs: _Errors, *, stem: str, required: bool = True
) -> Secret | None:
    """Read `<stem>_env` or `<stem>_file` from a mapping; literal `<stem>` is refused."""
    env_key, file_key = f"{stem}_env", f"{stem}_file"
    has_env, has_file = env_key in node, file_key in node
    if stem in node:
        errs.add(
            _join(path, stem),
            f"secrets are not written in the config; use {env_key} (an environment "
            f"variable name) or {file_key} (a file path)",
        )
        return None
    if has_env and has_file:
        errs.add(path, f"give only one of {env_key} and {file_key}")
        return None
    if has_env:
        return _secret_env(node[env_key], _join(path, env_key), errs)
    if has_file:
        return _secret_file(node[file_key], _join(path, file_key), errs)
    if required:
        errs.add(path, f"missing {env_key} or {file_key}")
    return None


def _secret_env(name: Any, path: str, errs: _Errors) -> Secret | None:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        errs.add(path, f"expected an environment variable name, got {_describe(name)}")
        return None
    value = os.environ.get(name)
    if value is None or value == "":
        errs.add(path, f"environment variable {name} is not set (or empty)")
        return None
    return Secret(value)


def _secret_file(name: Any, path: str, errs: _Errors) -> Secret | None:
    if not isinstance(name, str) or not name:
        errs.add(path, f"expected a file path, got {_describe(name)}")
        return None
    try:
        value = Path(name).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        errs.add(path, f"file not found: {name}")
        return None
    except OSError as exc:
        errs.add(path, f"cannot read {name}: {exc.strerror}")
        return None
    if not value:
        errs.add(path, f"file {name} is empty")
        return None
    return Secret(value)


def _interpolate(value: str, path: str, errs: _Errors) -> str | Secret | None:
    """`${NAME}` references make the whole value a Secret read from the environment."""
    if not _ENV_REF.search(value):
        return value
    missing = [n for n in _ENV_REF.findall(value) if not os.environ.get(n)]
    if missing:
        errs.add(path, f"environment variable {', '.join(missing)} is not set (or empty)")
        return None
    return Secret(_ENV_REF.sub(lambda m: os.environ[m.group(1)], value))


def _is_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def _host_ok(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return bool(host) and all(
        re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", lab) for lab in labels
    )


# --------------------------------------------------------------------------- sections


_COMMON_KEYS = {"name", "role", "kind", "interval", "timeout"}


def _parse_tls(node: Any, path: str, errs: _Errors, *, tcp: bool) -> TLSConfig | None:
    allowed = {"ca_file", "insecure_skip_verify", "server_name"} | ({"enabled"} if tcp else set())
    m = _mapping(node, path, errs, allowed=allowed)
    if m is None:
        return None
    kw: dict[str, Any] = {}
    if "enabled" in m:
        kw["enabled"] = _bool(m["enabled"], _join(path, "enabled"), errs)
    if "ca_file" in m:
        ca = _str(m["ca_file"], _join(path, "ca_file"), errs)
        if ca is not None and not Path(ca).is_file():
            errs.add(_join(path, "ca_file"), f"file not found: {ca}")
        kw["ca_file"] = ca
    if "insecure_skip_verify" in m:
        kw["insecure_skip_verify"] = _bool(
            m["insecure_skip_verify"], _join(path, "insecure_skip_verify"), errs
        )
    if "server_name" in m:
        kw["server_name"] = _str(m["server_name"], _join(path, "server_name"), errs)
    return TLSConfig(**{k: v for k, v in kw.items() if v is not None})


def parse_status_list(node: Any, path: str, errs: _Errors) -> tuple[int, ...] | None:
    items = node if isinstance(node, list) else [node]
    out: list[int] = []
    for i, item in enumerate(items):
        p = _join(path, i) if isinstance(node, list) else path
        if isinstance(item, bool) or not isinstance(item, int) or not 100 <= item <= 599:
            errs.add(p, f"expected an HTTP status 100-599, got {_describe(item)}")
            return None
        out.append(item)
    if not out:
        errs.add(path, "expected at least one HTTP status")
        return None
    return tuple(out)


def parse_regex(node: Any, path: str, errs: _Errors) -> re.Pattern[str] | None:
    text = _str(node, path, errs)
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        errs.add(path, f"invalid regular expression: {exc}")
        return None


def _parse_http_expect(node: Any, path: str, errs: _Errors) -> HttpExpect | None:
    m = _mapping(
        node, path, errs, allowed={"status", "body_contains", "body_regex", "redirect_host"}
    )
    if m is None:
        return None
    kw: dict[str, Any] = {}
    if "status" in m:
        kw["status"] = parse_status_list(m["status"], _join(path, "status"), errs)
    if "body_contains" in m:
        kw["body_contains"] = _str(m["body_contains"], _join(path, "body_contains"), errs)
    if "body_regex" in m:
        kw["body_regex"] = parse_regex(m["body_regex"], _join(path, "body_regex"), errs)
    if "redirect_host" in m:
        host = _str(m["redirect_host"], _join(path, "redirect_host"), errs)
        if host is not None and not _host_ok(host.rsplit(":", 1)[0] if ":" in host else host):
            errs.add(_join(path, "redirect_host"), f"not a host name, got {_describe(host)}")
        kw["redirect_host"] = host
    if "body_contains" in m and "body_regex" in m:
        errs.add(path, "give only one of body_contains and body_regex")
    return HttpExpect(**{k: v for k, v in kw.items() if v is not None})


def _parse_url(node: Any, path: str, errs: _Errors) -> str | None:
    url = _str(node, path, errs)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errs.add(path, f"not an http(s) URL: {_describe(url)}")
        return None
    if parts.username or parts.password:
        errs.add(path, "credentials in the URL are not allowed; use basic_auth with password_env")
        return None
    try:
        _ = parts.port
    except ValueError:
        errs.add(path, f"invalid port in URL {_describe(url)}")
        return None
    return url


def _parse_headers(node: Any, path: str, errs: _Errors) -> tuple[tuple[str, str | Secret], ...]:
    if not isinstance(node, dict):
        errs.add(path, f"expected a mapping of header names to values, got {_describe(node)}")
        return ()
    out: list[tuple[str, str | Secret]] = []
    for name, value in node.items():
        p = _join(path, str(name))
        if not isinstance(name, str) or not _HEADER_NAME_RE.match(name):
            errs.add(p, "not a valid HTTP header name")
            continue
        if isinstance(value, dict):
            m = _mapping(value, p, errs, allowed={"value_env", "value_file"})
            if m is not None:
                secret = _secret_from(m, p, errs, stem="value")
                if secret is not None:
                    out.append((name, secret))
            continue
        text = _str(value, p, errs, nonempty=False)
        if text is None:
            continue
        interpolated = _interpolate(text, p, errs)
        if interpolated is None:
            continue
        if name.lower() in _SENSITIVE_HEADERS and not isinstance(interpolated, Secret):
            errs.add(
                p,
                "credential headers must not be written in the config; use ${ENV_NAME} "
                "or {value_file: PATH}",
            )
            continue
        out.append((name, interpolated))
    return tuple(out)


def _parse_basic_auth(node: Any, path: str, errs: _Errors) -> BasicAuth | None:
    m = _mapping(
        node,
        path,
        errs,
        allowed={"username", "password", "password_env", "password_file"},
        required={"username"},
    )
    if m is None:
        return None
    user = _str(m.get("username"), _join(path, "username"), errs) if "username" in m else None
    password = _secret_from(m, path, errs, stem="password")
    if user is None or password is None:
        return None
    return BasicAuth(username=user, password=password)


def _parse_http(
    m: dict[str, Any], path: str, errs: _Errors, common: dict[str, Any]
) -> Target | None:
    kw: dict[str, Any] = {}
    kw["url"] = _parse_url(m["url"], _join(path, "url"), errs) if "url" in m else None
    if "method" in m:
        method = _str(m["method"], _join(path, "method"), errs)
        if method is not None and method.upper() not in ("GET", "HEAD", "POST"):
            errs.add(_join(path, "method"), f"expected GET, HEAD or POST, got {_describe(method)}")
        elif method is not None:
            kw["method"] = method.upper()
    if "follow_redirects" in m:
        kw["follow_redirects"] = _bool(m["follow_redirects"], _join(path, "follow_redirects"), errs)
    if "max_redirects" in m:
        kw["max_redirects"] = _int(
            m["max_redirects"], _join(path, "max_redirects"), errs, lo=0, hi=MAX_REDIRECTS_LIMIT
        )
    if "headers" in m:
        kw["headers"] = _parse_headers(m["headers"], _join(path, "headers"), errs)
    if "basic_auth" in m:
        kw["basic_auth"] = _parse_basic_auth(m["basic_auth"], _join(path, "basic_auth"), errs)
    if "expect" in m:
        kw["expect"] = _parse_http_expect(m["expect"], _join(path, "expect"), errs)
    if "tls" in m:
        kw["tls"] = _parse_tls(m["tls"], _join(path, "tls"), errs, tcp=False)
    if "max_body_bytes" in m:
        kw["max_body_bytes"] = _int(
            m["max_body_bytes"], _join(path, "max_body_bytes"), errs, lo=1024, hi=64 * 1048576
        )
    if kw["url"] is not None and kw.get("basic_auth") and kw["url"].startswith("http://"):
        errs.add(_join(path, "basic_auth"), "refusing to send a password over plain http://")
    if kw["url"] is None:
        return None
    return HttpTarget(**common, **{k: v for k, v in kw.items() if v is not None})


def _parse_host(m: dict[str, Any], path: str, errs: _Errors) -> str | None:
    host = _str(m["host"], _join(path, "host"), errs) if "host" in m else None
    if host is not None and not _host_ok(host):
        errs.add(_join(path, "host"), f"not a host name or IP address, got {_describe(host)}")
        return None
    return host


def _parse_tcp(
    m: dict[str, Any], path: str, errs: _Errors, common: dict[str, Any]
) -> Target | None:
    kw: dict[str, Any] = {"host": _parse_host(m, path, errs)}
    kw["port"] = _int(m["port"], _join(path, "port"), errs, lo=1, hi=65535) if "port" in m else None
    if "tls" in m:
        kw["tls"] = _parse_tls(m["tls"], _join(path, "tls"), errs, tcp=True)
    if kw["host"] is None or kw["port"] is None:
        return None
    return TcpTarget(**common, **{k: v for k, v in kw.items() if v is not None})


_DNS_SERVER_HINT = 'expected an IP address with optional port, like 10.0.0.53 or "[fd00::53]:5353"'
_BRACKETED = re.compile(r"\[([^\]]*)\](?::(.*))?")


def _parse_dns_server(node: Any, path: str, errs: _Errors) -> DnsServer | None:
    """`10.0.0.53`, `10.0.0.53:5353`, `fd00::53` or `[fd00::53]:5353`.

    Host names are refused: a resolver named by a name needs another resolver to find it,
    and a failure there would be blamed on the one being watched.
    """
    bad = f"{_DNS_SERVER_HINT}, got {_describe(node)}"
    if not isinstance(node, str):
        errs.add(path, bad)
        return None
    host, port_text = node.strip(), None
    bracketed = _BRACKETED.fullmatch(host)
    if bracketed:
        host, port_text = bracketed.group(1), bracketed.group(2)
    elif host.count(":") == 1:
        host, port_text = host.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        errs.add(path, bad)
        return None
    if bracketed and address.version != 6:
        errs.add(path, bad)
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        errs.add(
            path, f"a zone index (%{address.scope_id}) is not supported, got {_describe(node)}"
        )
        return None
    if port_text is None:
        return DnsServer(address=str(address))
    if not port_text.isdigit():
        errs.add(path, bad)
        return None
    port = int(port_text)
    if not 1 <= port <= 65535:
        errs.add(path, f"expected a port 1-65535 after the address, got {port}")
        return None
    return DnsServer(address=str(address), port=port)


def _parse_dns(
    m: dict[str, Any], path: str, errs: _Errors, common: dict[str, Any]
) -> Target | None:
    kw: dict[str, Any] = {"host": _parse_host(m, path, errs)}
    if "server" in m:
        kw["server"] = _parse_dns_server(m["server"], _join(path, "server"), errs)
    if "transport" in m:
        transport = m["transport"]
        if transport not in ("udp", "tcp"):
            errs.add(_join(path, "transport"), f"expected udp or tcp, got {_describe(transport)}")
        elif "server" not in m:
            errs.add(
                _join(path, "transport"),
                "applies only with server; the system resolver picks its own transport",
            )
        else:
            kw["transport"] = transport
    if kw["host"] is not None and "server" in m and not _is_name(kw["host"]):
        errs.add(
            _join(path, "host"),
            f"with server, expected a name to resolve, got the IP address {_describe(kw['host'])}",
        )
    if "family" in m:
        fam = m["family"]
        if fam not in ("any", "ipv4", "ipv6"):
            errs.add(_join(path, "family"), f"expected any, ipv4 or ipv6, got {_describe(fam)}")
        else:
            kw["family"] = fam
    if "expect" in m:
        e = _mapping(m["expect"], _join(path, "expect"), errs, allowed={"addresses"})
        if e is not None and "addresses" in e:
            p = _join(_join(path, "expect"), "addresses")
            addrs = e["addresses"]
            if not isinstance(addrs, list) or not addrs:
                errs.add(p, f"expected a list of IP addresses, got {_describe(addrs)}")
            else:
                good: list[str] = []
                for i, a in enumerate(addrs):
                    try:
                        good.append(str(ipaddress.ip_address(a)))
                    except ValueError:
                        errs.add(_join(p, i), f"not an IP address, got {_describe(a)}")
                kw["expect_addresses"] = tuple(good)
    if kw["host"] is None:
        return None
    return DnsTarget(**common, **{k: v for k, v in kw.items() if v is not None})


_Parser = Callable[[dict[str, Any], str, _Errors, dict[str, Any]], Target | None]

# kind -> (extra keys allowed, required keys, parser). `exporter.probes.PROBES` must have
# exactly these kinds; a test pins that.
TARGET_KINDS: dict[str, tuple[set[str], set[str], _Parser]] = {
    "http": (
        {
            "url",
            "method",
            "follow_redirects",
            "max_redirects",
            "headers",
            "basic_auth",
            "expect",
            "tls",
            "max_body_bytes",
        },
        {"url"},
        _parse_http,
    ),
    "tcp": ({"host", "port", "tls"}, {"host", "port"}, _parse_tcp),
    "dns": ({"host", "family", "expect", "server", "transport"}, {"host"}, _parse_dns),
}


def register_kind(kind: str, keys: set[str], required: set[str], parser: _Parser) -> None:
    """Add a target kind (used by the login module)."""
    TARGET_KINDS[kind] = (keys, required, parser)


def _parse_target(node: Any, path: str, errs: _Errors, defaults: dict[str, float]) -> Target | None:
    if not isinstance(node, dict):
        errs.add(path, f"expected a mapping, got {_describe(node)}")
        return None
    kind = node.get("kind")
    if kind not in TARGET_KINDS:
        errs.add(
            _join(path, "kind"),
            f"expected one of {', '.join(sorted(TARGET_KINDS))}, got {_describe(kind)}",
        )
        return None
    extra, required, parser = TARGET_KINDS[kind]
    m = _mapping(
        node, path, errs, allowed=_COMMON_KEYS | extra, required={"name", "role"} | required
    )
    if m is None:
        return None
    before = len(errs.items)
    name = _str(m.get("name"), _join(path, "name"), errs) if "name" in m else None
    if name is not None and not _NAME_RE.match(name):
        errs.add(
            _join(path, "name"),
            f"use lower-case letters, digits, '-', '_' or '.', up to 63 characters; "
            f"got {_describe(name)}",
        )
    role = m.get("role")
    if "role" in m and role not in set(Role):
        errs.add(_join(path, "role"), f"expected one of sso, app, control, got {_describe(role)}")
    interval = (
        _duration(m["interval"], _join(path, "interval"), errs)
        if "interval" in m
        else defaults["interval"]
    )
    timeout = (
        _duration(m["timeout"], _join(path, "timeout"), errs)
        if "timeout" in m
        else defaults["timeout"]
    )
    common = {
        "name": name or "?",
        "role": Role(role) if role in set(Role) else Role.CONTROL,
        "interval": interval or DEFAULT_INTERVAL,
        "timeout": timeout or DEFAULT_TIMEOUT,
    }
    target = parser(m, path, errs, common)
    # Cross-field rules only once the fields themselves are sound.
    if len(errs.items) == before and timeout is not None and interval is not None:
        if timeout >= interval:
            errs.add(
                _join(path, "timeout"),
                f"must be shorter than the interval ({_fmt(interval)}), got {_fmt(timeout)}",
            )
    return target if len(errs.items) == before else None


def _fmt(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def _validate_listen(value: Any, path: str, errs: _Errors) -> str | None:
    text = _str(value, path, errs)
    if text is None:
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        errs.add(path, f"expected HOST:PORT such as 0.0.0.0:10071, got {_describe(text)}")
        return None
    if host.strip("[]") and not _host_ok(host.strip("[]")):
        errs.add(path, f"not a host name or IP address: {_describe(host)}")
        return None
    return text


def check_admin_token(token: Secret, path: str, errs: _Errors) -> Secret | None:
    """An admin token must be long enough not to be guessed over the network."""
    if len(token.reveal()) < MIN_ADMIN_TOKEN_LENGTH:
        errs.add(
            path,
            f"the admin token must be at least {MIN_ADMIN_TOKEN_LENGTH} characters; "
            "generate one with: head -c 32 /dev/urandom | base64",
        )
        return None
    return token


def _parse_admin(node: Any, path: str, errs: _Errors) -> Secret | None:
    m = _mapping(node, path, errs, allowed={"token", "token_file", "token_env"})
    if m is None:
        return None
    token = _secret_from(m, path, errs, stem="token")
    if token is None:
        return None
    p = _join(path, "token_file" if "token_file" in m else "token_env")
    return check_admin_token(token, p, errs)


def read_admin_token_file(path: str) -> Secret:
    """The token file given by `--admin-token-file`; raises ConfigError naming the flag."""
    errs = _Errors()
    token = _secret_file(path, "--admin-token-file", errs)
    if token is not None:
        token = check_admin_token(token, "--admin-token-file", errs)
    if token is None:
        raise ConfigError(errs.items, source=path)
    return token


def parse_config(data: Any, *, source: str = "") -> Config:
    """Turn a YAML document (already loaded) into a Config, or raise ConfigError."""
    errs = _Errors()
    root = _mapping(
        data,
        "",
        errs,
        allowed={"vantage", "listen", "defaults", "max_concurrency", "targets", "admin"},
        required={"vantage", "targets"},
    )
    if root is None:
        raise ConfigError(errs.items or ["the file is empty"], source=source)
    vantage = _str(root["vantage"], "vantage", errs) if "vantage" in root else None
    if vantage is not None and not _LABEL_VALUE_RE.match(vantage):
        errs.add("vantage", f"use letters, digits, '-', '_' or '.'; got {_describe(vantage)}")
    listen = _validate_listen(root["listen"], "listen", errs) if "listen" in root else None
    max_conc = (
        _int(root["max_concurrency"], "max_concurrency", errs, lo=1, hi=1024)
        if "max_concurrency" in root
        else None
    )
    defaults = {"interval": DEFAULT_INTERVAL, "timeout": DEFAULT_TIMEOUT}
    if "defaults" in root:
        d = _mapping(root["defaults"], "defaults", errs, allowed={"interval", "timeout"})
        for key in ("interval", "timeout"):
            if d is not None and key in d:
                val = _duration(d[key], f"defaults.{key}", errs)
                if val is not None:
                    defaults[key] = val
    admin_token = _parse_admin(root["admin"], "admin", errs) if "admin" in root else None
    targets: list[Target] = []
    raw_targets = root.get("targets")
    if "targets" in root and (not isinstance(raw_targets, list) or not raw_targets):
        errs.add("targets", f"expected a non-empty list of targets, got {_describe(raw_targets)}")
    elif isinstance(raw_targets, list):
        seen: dict[str, int] = {}
        for i, node in enumerate(raw_targets):
            path = _join("targets", i)
            target = _parse_target(node, path, errs, defaults)
            if target is None:
                continue
            if target.name in seen:
                errs.add(
                    _join(path, "name"),
                    f'duplicate name "{target.name}" (also targets[{seen[target.name]}])',
                )
                continue
            seen[target.name] = i
            targets.append(target)
    if errs.items:
        raise ConfigError(errs.items, source=source)
    assert vantage is not None
    return Config(
        vantage=vantage,
        listen=listen or DEFAULT_LISTEN,
        max_concurrency=max_conc or DEFAULT_MAX_CONCURRENCY,
        targets=tuple(targets),
        source=source,
        admin_token=admin_token,
    )


def load_config_text(text: str, *, source: str = "<string>") -> Config:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}invalid YAML: {problem}"], source=source) from None
    return parse_config(data, source=source)


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; raises ConfigError (never another exception)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"file not found: {path}"], source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read {path}: {exc}"], source=str(path)) from None
    return load_config_text(text, source=str(path))


# The login kind lives in its own module (it registers itself into TARGET_KINDS).
from exporter import login_config as _login_config  # noqa: E402, F401
