"""The process wiring: one `BridgeService` owns the outbox, the gateway HTTP client
(`make_gateway_client`), the sender and heartbeat tasks and the web server (`web.py`).

`start()` opens the outbox, binds the listener (port 0 picks a free port; see
`port`), and starts the sender; `reload()` swaps in a new validated config (what only a
restart can change is refused, and the old config keeps running); `stop()` closes the
listener, cancels the sender (pending rows stay in the outbox) and closes the database.
Used by the CLI and by tests that run the bridge in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from aiohttp import web
from prometheus_client import CollectorRegistry

from servicekit.clock import Clock, SystemClock
from servicekit.listen import parse_listen
from servicekit.metrics import register_runtime_collectors
from servicekit.secrets import Secret

from . import __version__, providers
from .config import Config
from .heartbeat import HeartbeatWatch
from .intake import Acceptor
from .metrics import BridgeMetrics, OutboxCollector
from .outbox import Outbox
from .sender import Sender
from .web import build_app

log = logging.getLogger("smsbridge.app")


class ReloadRefused(ValueError):
    """The new config changes what only a restart applies; the running config stays."""


def config_secrets(config: Config) -> tuple[Secret, ...]:
    """Every secret in the config (for log scrubbing)."""
    found: list[Secret] = []
    if config.auth.token is not None:
        found.append(config.auth.token)
    if config.auth.basic is not None:
        found.append(config.auth.basic.password)
    if config.smtp is not None and config.smtp.password is not None:
        found.append(config.smtp.password)
    if config.heartbeat is not None and config.heartbeat.forward_url is not None:
        found.append(config.heartbeat.forward_url)
    for name, provider_config in config.providers.items():
        found.extend(providers.create(name=name, config=provider_config).secrets())
    return tuple(found)


def make_gateway_client() -> httpx.AsyncClient:
    """The gateway HTTP client: TLS verified, no proxies from the environment, no redirects."""
    return httpx.AsyncClient(
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(10.0),
        headers={"User-Agent": f"parichay-sms-bridge/{__version__}"},
    )


class BridgeService:
    """See the module docstring."""

    def __init__(
        self,
        config: Config,
        *,
        registry: CollectorRegistry | None = None,
        clock: Clock | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.registry = registry or CollectorRegistry()
        self.clock = clock or SystemClock()
        self._own_client = client is None
        self.client = client or make_gateway_client()
        self.outbox = Outbox(config.outbox.path, busy_timeout=config.outbox.busy_timeout)
        self.providers = [
            providers.create(name=name, config=cfg) for name, cfg in config.providers.items()
        ]
        self.metrics = BridgeMetrics(self.registry, providers=config.providers)
        register_runtime_collectors(self.registry)
        self.metrics.config_info.labels(__version__).set(1)
        self._mark_loaded()
        self.sender = Sender(
            config=config,
            outbox=self.outbox,
            providers=self.providers,
            client=self.client,
            clock=self.clock,
            metrics=self.metrics,
        )
        self.acceptor = Acceptor(
            config=config, outbox=self.outbox, clock=self.clock, metrics=self.metrics
        )
        self.watch = HeartbeatWatch(
            config=config,
            outbox=self.outbox,
            clock=self.clock,
            metrics=self.metrics,
            client=self.client,
            on_queued=self.sender.wake,
        )
        self._runner: web.AppRunner | None = None
        self._sender_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self, *, run_sender: bool = True, run_watch: bool = True) -> None:
        """Open the outbox, listen, and start the sender and the heartbeat watch (tests
        with an injected clock drive those themselves with `run_*=False`)."""
        await asyncio.to_thread(self.outbox.open)
        await self.watch.load()
        self.registry.register(OutboxCollector(self.outbox, self.clock.now))
        app = build_app(
            auth=lambda: self.config.auth,
            max_body_bytes=self.config.max_body_bytes,
            acceptor=self.acceptor,
            outbox=self.outbox,
            registry=self.registry,
            metrics=self.metrics,
            on_accepted=self.sender.wake,
            sender_alive=self._sender_alive,
            heartbeat=lambda: self.watch if self.config.heartbeat is not None else None,
        )
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        host, port = parse_listen(self.config.listen)
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        await site.start()
        # The runner's only site: its address gives the port the OS chose for port 0.
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else port
        if run_sender:
            self._sender_task = asyncio.create_task(self.sender.run(), name="smsbridge-sender")
        if run_watch:
            self._watch_task = asyncio.create_task(self.watch.run(), name="smsbridge-heartbeat")
        log.info(
            "sms bridge listening",
            extra={"host": host, "port": self.port, "outbox": str(self.config.outbox.path)},
        )

    def reload(self, config: Config) -> None:
        """Apply `config` (already validated) from the next webhook and the next send on:
        credentials, routes, recipients, templates, rate limit, providers, sender
        settings, the heartbeat (dead man's switch) and the SMTP relay. SMS already in
        the outbox stay there and go out through the new providers. The listener, the
        outbox file and the body limit need a restart: a config changing them raises
        `ReloadRefused` and nothing changes."""
        old = self.config
        fixed = (
            ("listen", old.listen, config.listen),
            ("outbox.path", old.outbox.path, config.outbox.path),
            ("outbox.busy_timeout", old.outbox.busy_timeout, config.outbox.busy_timeout),
            ("max_body_bytes", old.max_body_bytes, config.max_body_bytes),
        )
        changed = [name for name, before, after in fixed if before != after]
        if changed:
            raise ReloadRefused(
                f"{', '.join(changed)}: cannot change while running; restart the bridge "
                "(queued SMS are kept in the outbox across the restart)"
            )
        new_providers = [
            providers.create(name=name, config=cfg) for name, cfg in config.providers.items()
        ]
        self.config = config
        self.providers = new_providers
        self.sender.config = config
        self.sender.providers = tuple(new_providers)
        self.acceptor.config = config
        self.watch.apply_config(config)
        self.metrics.add_providers(config.providers)
        self._mark_loaded()

    def _mark_loaded(self) -> None:
        self.metrics.reload_ok.set(1)
        self.metrics.reload_time.set(self.clock.now())

    def _sender_alive(self) -> bool:
        return all(t is None or not t.done() for t in (self._sender_task, self._watch_task))

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for task in (self._sender_task, self._watch_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._sender_task = self._watch_task = None
        await self.watch.stop()
        if self._own_client:
            await self.client.aclose()
        await asyncio.to_thread(self.outbox.close)
        log.info("sms bridge stopped")
