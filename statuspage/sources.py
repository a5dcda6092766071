"""Async clients for Prometheus's HTTP API and Alertmanager's API v2.

This module owns every request the status page and the report make: instant and range
queries, raw samples, series and label look-ups against Prometheus; alerts (with their
silenced / inhibited state) and silences (list, create, expire) against Alertmanager.

Every failure is one exception type, `SourceError`, whose message says which service could
not be read, where, and why, in words a help-desk operator can act on::

    could not reach Prometheus at http://127.0.0.1:9090: connection refused

Credentials (a bearer token or a basic-auth password) come only from files, read through
`servicekit.secrets` at each request (so a rotated secret file is picked up; an empty one is
an error) and never appear in a message. TLS
verification is always on; `ca_file` adds a private CA. Every request has a timeout.

Example::

    async with PrometheusClient(url="http://127.0.0.1:9090") as prom:
        vector = await prom.query('ALERTS{alertstate="firing"}')
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import ssl
from collections.abc import AsyncIterator, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import httpx

from servicekit.secrets import Secret, SecretFileError, secret_from_file

DEFAULT_TIMEOUT_S = 10.0
# Prometheus refuses a range query with more than 11,000 points per series; stay below.
MAX_POINTS_PER_QUERY = 10_000
USER_AGENT = "parichay-status"


class SourceError(Exception):
    """Prometheus or Alertmanager could not be read; the message names which and why."""

    def __init__(
        self,
        *,
        source: str,
        url: str,
        reason: str,
        reached: bool = False,
        message: str | None = None,
    ) -> None:
        self.source = source
        self.url = url
        self.reason = reason
        self.reached = reached
        if message is None:
            if reached:
                message = f"{source} at {url} answered with an error: {reason}"
            else:
                message = f"could not reach {source} at {url}: {reason}"
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Auth:
    """Credentials read from files: a bearer token, or a basic-auth user and password file."""

    bearer_token_file: Path | None = None
    username: str | None = None
    password_file: Path | None = None

    def __post_init__(self) -> None:
        if self.bearer_token_file is not None and self.username is not None:
            raise ValueError("give either a bearer token file or a basic-auth user, not both")
        if (self.username is None) != (self.password_file is None):
            raise ValueError("basic auth needs both a user name and a password file")

    def secrets(self) -> tuple[Secret, ...]:
        """What the files hold now, for log scrubbing; a file that cannot be read is left out
        (the first request that needs it says why)."""
        found: list[Secret] = []
        for path in (self.bearer_token_file, self.password_file):
            if path is not None:
                with contextlib.suppress(SecretFileError):
                    found.append(secret_from_file(path))
        return tuple(found)


class _FileAuth(httpx.Auth):
    """Adds the credentials, re-reading the secret file on every request."""

    def __init__(self, auth: Auth) -> None:
        self._auth = auth

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._auth.bearer_token_file is not None:
            token = _read_secret(self._auth.bearer_token_file)
            request.headers["Authorization"] = f"Bearer {token}"
        elif self._auth.username is not None and self._auth.password_file is not None:
            password = _read_secret(self._auth.password_file)
            pair = f"{self._auth.username}:{password}".encode()
            request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        yield request


def _read_secret(path: Path) -> str:
    """The file's secret (`servicekit.secrets.secret_from_file`), revealed for the header."""
    try:
        return secret_from_file(path).reveal()
    except SecretFileError as exc:
        # httpx wraps exceptions raised in auth flows; this one names the file, not its content.
        raise httpx.RequestError(f"cannot read credentials file {path}: {exc.reason}") from None


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of an instant vector (or a scalar, with no labels)."""

    labels: Mapping[str, str]
    timestamp: float
    value: float


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a matrix: labels and (unix time, value) points in time order."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


def _public_url(url: str) -> str:
    """The URL as shown in messages: no user info, no query, no trailing slash."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def _check_url(url: str, *, source: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{source} URL must be http:// or https:// with a host, got {url!r}")
    if parts.username or parts.password:
        raise ValueError(
            f"{source} URL must not carry credentials; use a password or token file instead"
        )
    return url.rstrip("/")


def _reason(exc: httpx.HTTPError, timeout: float) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s"
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return "connection refused"
    text = str(exc)
    low = " ".join(str(c) for c in chain).lower()
    if "refused" in low:
        return "connection refused"
    if "certificate" in low or "ssl" in low or "tls" in low:
        return f"TLS verification failed ({text})"
    if "name or service not known" in low or "nodename nor servname" in low or "getaddrinfo" in low:
        return "host name not found"
    if "all connection attempts failed" in low:
        return "connection failed"
    return text or type(exc).__name__


def _ts(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("times passed to Prometheus must be timezone-aware")
    return f"{when.timestamp():.3f}"


class AsyncClosing:
    """`async with` closes it (`aclose()`), whatever ends the block."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class ApiClient(AsyncClosing):
    source = "service"

    def __init__(
        self,
        *,
        url: str,
        timeout: float = DEFAULT_TIMEOUT_S,
        auth: Auth | None = None,
        ca_file: Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = _check_url(url, source=self.source)
        self.public_url = _public_url(self.url)
        self.timeout = timeout
        verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            verify = ssl.create_default_context(cafile=str(ca_file))
        self._client = httpx.AsyncClient(
            base_url=self.url,
            timeout=httpx.Timeout(timeout),
            verify=verify,
            auth=_FileAuth(auth) if auth is not None else None,
            trust_env=False,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def error(self, reason: str, *, reached: bool) -> SourceError:
        return SourceError(source=self.source, url=self.public_url, reason=reason, reached=reached)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        data: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        try:
            response = await self._client.request(
                method, path, params=list(params or ()), data=data, json=body
            )
        except httpx.HTTPError as exc:
            raise self.error(_reason(exc, self.timeout), reached=False) from None
        if response.status_code in (401, 403):
            raise self.error(
                f"access refused (HTTP {response.status_code}); check the credentials file",
                reached=True,
            )
        try:
            payload = response.json() if response.content else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            if response.is_success:
                raise self.error(
                    "the answer is not JSON; is this the right URL?", reached=True
                ) from None
            payload = None
        if not response.is_success:
            detail = ""
            if isinstance(payload, dict):
                detail = str(payload.get("error") or payload.get("message") or "")
            elif isinstance(payload, str):
                detail = payload
            raise self.error(
                f"HTTP {response.status_code}{': ' + detail[:300] if detail else ''}", reached=True
            )
        return payload


def label_map(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(raw or {}).items()}


def _float(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


class PrometheusClient(ApiClient):
    """Prometheus HTTP API v1: queries, raw samples, series and label values."""

    source = "Prometheus"

    async def _api(self, path: str, params: Sequence[tuple[str, str]]) -> Any:
        payload = await self._request("POST", f"/api/v1/{path}", data=dict(params))
        if not isinstance(payload, dict) or payload.get("status") != "success":
            raise self.error("the answer is not a Prometheus API response", reached=True)
        return payload.get("data")

    async def ready(self) -> None:
        """Raise `SourceError` unless Prometheus answers its readiness endpoint."""
        try:
            response = await self._client.get("/-/ready")
        except httpx.HTTPError as exc:
            raise self.error(_reason(exc, self.timeout), reached=False) from None
        if not response.is_success:
            raise self.error(f"not ready (HTTP {response.status_code})", reached=True)

    async def query(self, expr: str, *, at: datetime | None = None) -> list[Sample]:
        """Evaluate an instant query; a scalar comes back as one sample without labels."""
        params = [("query", expr)]
        if at is not None:
            params.append(("time", _ts(at)))
        data = await self._api("query", params)
        kind = data.get("resultType")
        result = data.get("result")
        if kind == "vector":
            return [
                Sample(label_map(r.get("metric")), float(r["value"][0]), _float(r["value"][1]))
                for r in result
            ]
        if kind == "scalar":
            return [Sample({}, float(result[0]), _float(result[1]))]
        raise self.error(
            f"expected an instant vector from {expr!r}, got {kind}; use samples()", reached=True
        )

    async def samples(self, selector: str, *, window: timedelta, at: datetime) -> list[Series]:
        """Raw stored samples of `selector` in (at - window, at], with their own timestamps."""
        seconds = int(window.total_seconds())
        if seconds <= 0:
            raise ValueError("window must be positive")
        data = await self._api("query", [("query", f"{selector}[{seconds}s]"), ("time", _ts(at))])
        if data.get("resultType") != "matrix":
            raise self.error("expected a range vector (matrix)", reached=True)
        return [_series(r) for r in data.get("result", [])]

    async def query_range(
        self, expr: str, *, start: datetime, end: datetime, step: timedelta
    ) -> list[Series]:
        """Range query from start to end (inclusive); split so no call exceeds the point limit."""
        step_s = step.total_seconds()
        if step_s <= 0:
            raise ValueError("step must be positive")
        merged: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
        async for chunk in self._range_chunks(expr, start, end, step_s):
            for series in chunk:
                key = tuple(sorted(series.labels.items()))
                merged.setdefault(key, []).extend(series.points)
        return [Series(dict(key), tuple(points)) for key, points in merged.items()]

    async def _range_chunks(
        self, expr: str, start: datetime, end: datetime, step_s: float
    ) -> AsyncIterator[list[Series]]:
        begin = start.timestamp()
        stop = end.timestamp()
        while begin <= stop:
            chunk_end = min(stop, begin + (MAX_POINTS_PER_QUERY - 1) * step_s)
            data = await self._api(
                "query_range",
                [
                    ("query", expr),
                    ("start", f"{begin:.3f}"),
                    ("end", f"{chunk_end:.3f}"),
                    ("step", f"{step_s:g}"),
                ],
            )
            yield [_series(r) for r in data.get("result", [])]
            begin = chunk_end + step_s

    async def series(
        self, match: Sequence[str], *, start: datetime, end: datetime
    ) -> list[dict[str, str]]:
        """Label sets of the series matching any selector in `match` between start and end."""
        params = [("match[]", m) for m in match]
        params += [("start", _ts(start)), ("end", _ts(end))]
        data = await self._api("series", params)
        return [label_map(s) for s in data]

    async def label_values(
        self,
        label: str,
        *,
        match: Sequence[str] = (),
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[str]:
        """Values of one label, optionally only on series matching `match`."""
        params = [("match[]", m) for m in match]
        if start is not None:
            params.append(("start", _ts(start)))
        if end is not None:
            params.append(("end", _ts(end)))
        payload = await self._request("GET", f"/api/v1/label/{label}/values", params=params)
        if not isinstance(payload, dict) or payload.get("status") != "success":
            raise self.error("the answer is not a Prometheus API response", reached=True)
        return [str(v) for v in payload.get("data") or []]


def _series(raw: Mapping[str, Any]) -> Series:
    return Series(
        label_map(raw.get("metric")),
        tuple((float(t), _float(v)) for t, v in raw.get("values", [])),
    )
