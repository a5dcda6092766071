"""The HTTP face of the bridge (aiohttp): POST /alertmanager, POST /heartbeat,
GET /metrics, GET /healthz.

Both POST handlers check credentials first (401), then read at most `max_body_bytes`
(413), decode JSON and validate the payload as an Alertmanager webhook (400 with the
reason), and answer 200 only after the outbox transaction has committed; if the outbox
cannot be written they answer 503 so Alertmanager retries. /heartbeat records a
heartbeat for the dead man's switch and never texts (404 when it is not configured).
Nothing here logs headers or bodies.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .config import AuthConfig
from .heartbeat import HeartbeatWatch
from .intake import Acceptor
from .metrics import BridgeMetrics
from .outbox import Outbox, OutboxUnavailable
from .payload import PayloadError, WebhookMessage, parse_webhook

log = logging.getLogger("smsbridge.web")
WEBHOOK_PATH: Final = "/alertmanager"
HEARTBEAT_PATH: Final = "/heartbeat"


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
        return auth.basic.matches(username, password) and bool(sep)
    return False


def _error(status: int, reason: str, **headers: str) -> web.Response:
    return web.json_response({"status": "error", "error": reason}, status=status, headers=headers)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Handlers:
    """The four routes' handlers over what they need (see `build_app`)."""

    auth: Callable[[], AuthConfig]
    max_body_bytes: int
    acceptor: Acceptor
    outbox: Outbox
    registry: CollectorRegistry
    metrics: BridgeMetrics
    on_accepted: Callable[[], None]
    sender_alive: Callable[[], bool]
    heartbeat: Callable[[], HeartbeatWatch | None]

    def unauthorised(self, request: web.Request, credentials: AuthConfig) -> web.Response:
        self.metrics.webhooks.labels("unauthorized").inc()
        log.warning(
            "webhook rejected: missing or wrong credentials",
            extra={"path": request.path, "remote": request.remote or ""},
        )
        challenge = 'Bearer realm="smsbridge"' if credentials.token else 'Basic realm="smsbridge"'
        return _error(401, "missing or invalid credentials", **{"WWW-Authenticate": challenge})

    def too_large(self) -> web.Response:
        self.metrics.webhooks.labels("too_large").inc()
        return _error(413, f"body larger than {self.max_body_bytes} bytes")

    async def read_body(self, request: web.Request) -> bytes | web.Response:
        """At most `max_body_bytes` of the body; a 413 Response beyond that."""
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            return self.too_large()
        body = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > self.max_body_bytes:
                return self.too_large()
        return bytes(body)

    async def read(self, request: web.Request) -> WebhookMessage | web.Response:
        """Authorise, size-check, decode and validate a webhook; a Response on failure."""
        credentials = self.auth()
        if not authorised(request.headers.get("Authorization"), credentials):
            return self.unauthorised(request, credentials)
        body = await self.read_body(request)
        if isinstance(body, web.Response):
            return body
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.metrics.webhooks.labels("bad_request").inc()
            return _error(400, f"invalid JSON: {exc}")
        try:
            return parse_webhook(data)
        except PayloadError as exc:
            self.metrics.webhooks.labels("bad_request").inc()
            log.warning(
                "webhook rejected: bad payload", extra={"path": request.path, "reason": str(exc)}
            )
            return _error(400, str(exc))

    async def heartbeat_handler(self, request: web.Request) -> web.Response:
        watch = self.heartbeat()
        if watch is None:
            credentials = self.auth()
            if not authorised(request.headers.get("Authorization"), credentials):
                return self.unauthorised(request, credentials)
            # Loud on purpose: Alertmanager counts this as a failed notification.
            return _error(404, "the heartbeat is not configured on this bridge (heartbeat:)")
        message = await self.read(request)
        if isinstance(message, web.Response):
            return message
        if not any(a.status == "firing" for a in message.alerts):
            # A resolved Watchdog means Prometheus stopped sending it: the opposite of a
            # heartbeat. Answer 200 so Alertmanager does not retry, but do not count it.
            self.metrics.webhooks.labels("heartbeat_resolved").inc()
            log.warning("resolved Watchdog on /heartbeat not counted as a heartbeat")
            return web.json_response({"status": "ignored", "queued": 0})
        try:
            await watch.beat()
        except OutboxUnavailable as exc:
            self.metrics.webhooks.labels("unavailable").inc()
            log.error("outbox unavailable; heartbeat not recorded", extra={"error": str(exc)})
            return _error(503, "outbox unavailable")
        self.metrics.webhooks.labels("heartbeat").inc()
        return web.json_response({"status": "heartbeat", "queued": 0})

    async def webhook(self, request: web.Request) -> web.Response:
        message = await self.read(request)
        if isinstance(message, web.Response):
            return message
        try:
            result = await self.acceptor.accept(message)
        except OutboxUnavailable as exc:
            self.metrics.webhooks.labels("unavailable").inc()
            log.error(
                "outbox unavailable; answering 503 so Alertmanager retries",
                extra={"error": str(exc), "group_key": message.group_key},
            )
            return _error(503, "outbox unavailable")
        if result.duplicate:
            self.metrics.webhooks.labels("duplicate").inc()
            return web.json_response({"status": "duplicate", "queued": 0})
        self.metrics.webhooks.labels("accepted").inc()
        self.on_accepted()
        return web.json_response({"status": "accepted", "queued": len(result.ids)})

    async def metrics_page(self, request: web.Request) -> web.Response:
        payload = await asyncio.to_thread(generate_latest, self.registry)
        return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(self, request: web.Request) -> web.Response:
        try:
            await asyncio.to_thread(self.outbox.ping)
        except OutboxUnavailable:
            return web.Response(status=503, text="outbox unavailable\n")
        if not self.sender_alive():
            return web.Response(status=503, text="sender stopped\n")
        return web.Response(text="ok\n")


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
    heartbeat: Callable[[], HeartbeatWatch | None] = lambda: None,
) -> web.Application:
    """The aiohttp application; `on_accepted` wakes the sender, `sender_alive` feeds /healthz.
    `auth` returns the current credentials and `heartbeat` the dead man's switch, or None
    while it is not configured (a reload swaps both)."""
    handlers = _Handlers(
        auth=auth,
        max_body_bytes=max_body_bytes,
        acceptor=acceptor,
        outbox=outbox,
        registry=registry,
        metrics=metrics,
        on_accepted=on_accepted,
        sender_alive=sender_alive,
        heartbeat=heartbeat,
    )
    app = web.Application(client_max_size=max_body_bytes + 1)
    app.router.add_post(WEBHOOK_PATH, handlers.webhook)
    app.router.add_post(HEARTBEAT_PATH, handlers.heartbeat_handler)
    app.router.add_get("/metrics", handlers.metrics_page)
    app.router.add_get("/healthz", handlers.healthz)
    return app
