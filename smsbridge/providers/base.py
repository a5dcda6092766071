"""The one interface every SMS gateway module implements, and its shared data types.

A provider module offers a frozen config class with a `parse_config(node)` function,
a pure `build_request(sms)` that turns one `OutgoingSms` into a `GatewayRequest`
(tested without a network), and `async send(sms, client=...)` that performs it and
returns a `SendResult`. Providers never raise for a gateway failure; they return a
failed result with one `FailureReason`, and the sender decides about retrying.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import httpx

from servicekit.secrets import Secret, redact


class FailureReason(StrEnum):
    """Why one delivery attempt failed (a closed set: it is a metric label)."""

    TIMEOUT = "timeout"
    CONNECT_ERROR = "connect_error"
    HTTP_STATUS = "http_status"
    REJECTED = "rejected"
    TRANSPORT_ERROR = "transport_error"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingSms:
    """One SMS to one number, already rendered and DLT-checked."""

    message_id: int
    number: str  # E.164, e.g. +919876543210
    text: str
    dlt_template_id: str
    unicode: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayRequest:
    """An HTTP request to a gateway, fully built (pure data, easy to assert on)."""

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    form: tuple[tuple[str, str], ...] | None = None
    json: object = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    """Outcome of one attempt; `detail` is already redacted and safe to log."""

    ok: bool
    reason: FailureReason | None = None
    gateway_ref: str = ""
    detail: str = ""
    gateway: str = ""


class Provider(Protocol):
    """An SMS gateway."""

    name: str

    def build_request(self, sms: OutgoingSms) -> GatewayRequest:
        """Build the request for the primary gateway URL (pure)."""
        ...

    async def send(self, sms: OutgoingSms, *, client: httpx.AsyncClient) -> SendResult:
        """Deliver one SMS; never raises for a gateway failure."""
        ...

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret this provider holds, so log lines can be scrubbed."""
        ...


async def perform(
    request: GatewayRequest,
    *,
    client: httpx.AsyncClient,
    request_timeout: float,
    secrets: tuple[Secret, ...],
) -> httpx.Response | SendResult:
    """Send `request`; return the response, or a failed SendResult for a transport failure."""
    try:
        return await client.request(
            request.method,
            request.url,
            params=list(request.params) or None,
            data=dict(request.form) if request.form is not None else None,
            json=request.json,
            headers=dict(request.headers),
            timeout=request_timeout,
        )
    except httpx.TimeoutException as exc:
        return SendResult(ok=False, reason=FailureReason.TIMEOUT, detail=_describe(exc, secrets))
    except httpx.ConnectError as exc:
        return SendResult(
            ok=False, reason=FailureReason.CONNECT_ERROR, detail=_describe(exc, secrets)
        )
    except httpx.HTTPError as exc:
        return SendResult(
            ok=False, reason=FailureReason.TRANSPORT_ERROR, detail=_describe(exc, secrets)
        )


def _describe(exc: Exception, secrets: tuple[Secret, ...]) -> str:
    return redact(f"{type(exc).__name__}: {exc}", secrets)[:300]


def excerpt(text: str, secrets: tuple[Secret, ...], *, limit: int = 200) -> str:
    """A short, single-line, redacted excerpt of a gateway reply for logs."""
    return redact(" ".join(text.split()), secrets)[:limit]
