"""The HTTP face of the bridge (aiohttp): POST /alertmanager, GET /metrics, GET /healthz.

The webhook handler checks credentials first (401), then reads at most
`max_body_bytes` (413), decodes JSON and validates the payload (400 with the reason),
and answers 200 only after the outbox transaction has committed; if the outbox cannot
be written it answers 503 so Alertmanager retries. Nothing here logs headers or bodies.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Callable
from typing import Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .bridge import Acceptor
from .config import AuthConfig
from .metrics import BridgeMetrics
from .outbox import Outbox, OutboxUnavailable
from .payload import PayloadError, parse_webhook

log = logging.getLogger("smsbridge.server")
WEBHOOK_PATH: Final = "/alertmanager"


def authorised(header: str | None, auth: AuthConfig) -> bool:
    """True if the Authorization header carries the configured bearer token or basic auth."""
    if not header:
        return False
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and auth.token is not None:
        return bool(credentials) and auth.token.matches(credentials)
    if scheme.lower() == "basic" and auth.basic is not None:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        username, sep, password = decoded.partition(":")
        # Evaluate both comparisons so timing does not reveal which part was wrong.
        user_ok = auth.basic.username == username
        pass_ok = auth.basic.password.matches(password)
        return bool(sep) and user_ok and pass_ok
    return False


def _error(status: int, reason: str, **headers: str) -> web.Response:
    return web.json_response({"status": "error", "error": reason}, status=status, headers=headers)


def build_app(
    *,
    auth: Callable[[], AuthConfig],
    max_body_bytes: int,
    acceptor: Acceptor,
    outbox: Outbox,
    registry: CollectorRegistry,
    metrics: BridgeMetrics,
    on_accepted: Callable[[], None],
    sender_alive: Callable[[], bool] = lambda: True,
) -> web.Application:
    """The aiohttp application; `on_accepted` wakes the sender, `sender_alive` feeds /healthz.
    `auth` returns the current credentials (a reload swaps them)."""

    async def webhook(request: web.Request) -> web.Response:
        credentials = auth()
        if not authorised(request.headers.get("Authorization"), credentials):
            metrics.webhooks.labels("unauthorized").inc()
            log.warning(
                "webhook rejected: missing or wrong credentials",
                extra={"remote": request.remote or ""},
            )
            challenge = (
                'Bearer realm="smsbridge"' if credentials.token else 'Basic realm="smsbridge"'
            )
            return _error(401, "missing or invalid credentials", **{"WWW-Authenticate": challenge})
        if request.content_length is not None and request.content_length > max_body_bytes:
            metrics.webhooks.labels("too_large").inc()
            return _error(413, f"body larger than {max_body_bytes} bytes")
        body = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > max_body_bytes:
                metrics.webhooks.labels("too_large").inc()
                return _error(413, f"body larger than {max_body_bytes} bytes")
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            metrics.webhooks.labels("bad_request").inc()
            return _error(400, f"invalid JSON: {exc}")
        try:
            message = parse_webhook(data)
        except PayloadError as exc:
            metrics.webhooks.labels("bad_request").inc()
            log.warning("webhook rejected: bad payload", extra={"reason": str(exc)})
            return _error(400, str(exc))
        try:
            result = await acceptor.accept(message)
        except OutboxUnavailable as exc:
            metrics.webhooks.labels("unavailable").inc()
            log.error(
                "outbox unavailable; answering 503 so Alertmanager retries",
                extra={"error": str(exc), "group_key": message.group_key},
            )
            return _error(503, "outbox unavailable")
        if result.duplicate:
            metrics.webhooks.labels("duplicate").inc()
            return web.json_response({"status": "duplicate", "queued": 0})
        metrics.webhooks.labels("accepted").inc()
        on_accepted()
        return web.json_response({"status": "accepted", "queued": len(result.ids)})

    async def metrics_page(request: web.Request) -> web.Response:
        payload = await asyncio.to_thread(generate_latest, registry)
        return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: web.Request) -> web.Response:
        try:
            await asyncio.to_thread(outbox.ping)
        except OutboxUnavailable:
            return web.Response(status=503, text="outbox unavailable\n")
        if not sender_alive():
            return web.Response(status=503, text="sender stopped\n")
        return web.Response(text="ok\n")

    app = web.Application(client_max_size=max_body_bytes + 1)
    app.router.add_post(WEBHOOK_PATH, webhook)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/healthz", healthz)
    return app
