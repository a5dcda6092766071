"""The running exporter: config, store, scheduler and HTTP server wired together.

`Exporter` owns the current `Config` and swaps it atomically on reload: the new file is
parsed and validated completely first; if it is rejected the old config keeps running, the
errors are logged and `parichay_config_last_reload_successful` drops to 0. A reload keeps
every login suspension whose credentials did not change.

Endpoints: reading is open (`/metrics`, `/healthz`, the bilingual status page at `/`,
`/status.json`); the admin actions `POST /-/reload` and `POST /-/resume/<target>` need
`Authorization: Bearer <token>`, the token read from `admin.token_file` (config) or
`--admin-token-file`. Without a configured token they answer 403 and say how to enable
them (as Prometheus gates `/-/reload` behind `--web.enable-lifecycle`); SIGHUP still
reloads. No endpoint takes a URL or a target definition from the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import zlib
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from exporter import localpage
from exporter.collector import MetricsRenderer, make_runtime_registry
from exporter.config import Config, ConfigError, Target, load_config, read_admin_token_file
from exporter.probes import ProbeContext
from exporter.result import ProbeResult
from exporter.scheduler import Scheduler
from exporter.store import Store
from servicekit.listen import parse_listen
from servicekit.secrets import Secret

log = logging.getLogger("exporter")

ADMIN_DISABLED = (
    "admin endpoints are disabled: set admin.token_file in the config (or start with "
    "--admin-token-file FILE), then send 'Authorization: Bearer <token>'; "
    "SIGHUP also reloads the config\n"
)
# Targets re-rendered per loop iteration (~10-15 us each): bounds how long rendering holds
# the event loop, and so how late a probe's socket event is stamped, to ~1-2 ms.
RENDER_SLICE = 100
# Once /metrics has been scraped, changed targets are re-rendered this often in the
# background, so a scrape finds at most this long's changes left to render.
PRERENDER_INTERVAL_S = 1.0
# zlib level 1: 3.9 MB of text at 1000 targets in ~7 ms to ~5%; level 6 is 3x the CPU for
# 12% fewer bytes.
GZIP_LEVEL = 1


def _join(parts: list[bytes], *, gzipped: bool) -> bytes:
    body = b"".join(parts)
    return zlib.compress(body, GZIP_LEVEL, wbits=31) if gzipped else body


def accepts_gzip(accept_encoding: str) -> bool:
    """True if an `Accept-Encoding` value allows gzip (RFC 9110 12.5.3): `gzip` (or
    `x-gzip`) with q > 0, or `*` with q > 0 when gzip is not listed.

    >>> accepts_gzip("gzip"), accepts_gzip("br, gzip;q=0"), accepts_gzip("identity")
    (True, False, False)
    """
    star = False
    for item in accept_encoding.split(","):
        coding, *params = (part.strip().lower() for part in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            star = q > 0
    return star


class Exporter:
    def __init__(
        self,
        *,
        config: Config,
        config_path: str | Path | None = None,
        ctx: ProbeContext | None = None,
        admin_token_file: str | None = None,
    ) -> None:
        self.config = config
        self.config_path = Path(config_path) if config_path else None
        # `--admin-token-file` wins over the config's admin.token_file; re-read on reload.
        self.admin_token_file = admin_token_file
        self._flag_token = read_admin_token_file(admin_token_file) if admin_token_file else None
        self.last_reload_notes: list[str] = []
        self.ctx = ctx or ProbeContext()
        self.store = Store(vantage=config.vantage)
        self.store.set_targets(config.targets)
        self.scheduler = Scheduler(
            store=self.store,
            ctx=self.ctx,
            max_concurrency=config.max_concurrency,
            on_result=self._log_transition,
        )
        # /metrics: the store's families from the renderer, then the small runtime registry.
        self.renderer = MetricsRenderer(self.store)
        self._runtime_registry = make_runtime_registry(scheduler=self.scheduler)
        self._runner: web.AppRunner | None = None
        self._sched_task: asyncio.Task[None] | None = None
        self._prerender_task: asyncio.Task[None] | None = None
        self.bound: tuple[str, int] | None = None
        self._reload_lock = asyncio.Lock()
        # Set by run_forever: the service's process is ours to tune (see settle_heap).
        self._settle_after_reload = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self, *, listen: str | None = None) -> None:
        accounts = self.ctx.accounts
        for target in self.config.targets:
            # A pause stored by the previous run shows at once, not after the first slot.
            await accounts.load(target)
            self.store.set_suspension(target.name, accounts.pause(target))
        self._sched_task = asyncio.create_task(
            self.scheduler.run(self.config.targets), name="scheduler"
        )
        await self.scheduler.started()
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_post("/-/reload", self._reload)
        app.router.add_post("/-/resume/{target}", self._resume)
        app.router.add_get("/", self._status_page)
        app.router.add_get("/status.json", self._status_json)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        host, port = parse_listen(listen or self.config.listen)
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        # The runner's only site: its address gives the port the OS chose for port 0.
        addresses = self._runner.addresses
        self.bound = (host, int(addresses[0][1]) if addresses else port)
        log.info(
            "listening on http://%s:%d vantage=%s targets=%d",
            host,
            self.bound[1],
            self.config.vantage,
            len(self.config.targets),
        )

    @property
    def url(self) -> str:
        assert self.bound is not None
        host = "127.0.0.1" if self.bound[0] in ("0.0.0.0", "") else self.bound[0]
        return f"http://{host}:{self.bound[1]}"

    async def stop(self) -> None:
        self.scheduler.stop()
        if self._prerender_task is not None:
            self._prerender_task.cancel()
            try:
                await self._prerender_task
            except asyncio.CancelledError:
                pass
            except Exception:  # a bug; scrapes rendered for themselves meanwhile
                log.exception("background rendering of /metrics had stopped")
        if self._sched_task is not None:
            try:
                async with asyncio.timeout(10):
                    await self._sched_task
            except TimeoutError:
                self._sched_task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    async def run_forever(self, *, listen: str | None = None) -> None:
        """Serve until SIGINT/SIGTERM; SIGHUP reloads the config."""
        await self.start(listen=listen)
        settle_heap()
        self._settle_after_reload = True
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # The event loop keeps only weak references to tasks: hold the reload task so a
        # reload in progress is not garbage-collected mid-way.
        reloads: set[asyncio.Task[list[str]]] = set()

        def on_sighup() -> None:
            task = asyncio.create_task(self.reload(), name="exporter-reload")
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_sighup)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            log.info("shutting down")
            await self.stop()

    # ------------------------------------------------------------------ reload

    async def reload(self) -> list[str]:
        """Re-read the config file; returns the errors ([] when the new config is live)."""
        async with self._reload_lock:
            if self.config_path is None:
                return ["this exporter was started without a config file; nothing to reload"]
            try:
                new = await asyncio.to_thread(load_config, self.config_path)
                flag_token = (
                    await asyncio.to_thread(read_admin_token_file, self.admin_token_file)
                    if self.admin_token_file
                    else None
                )
            except ConfigError as exc:
                self.store.reload_ok = False
                for err in exc.errors:
                    log.error(
                        "config reload rejected, keeping the previous config: %s: %s",
                        self.config_path,
                        err,
                    )
                return exc.errors
            if new.listen != self.config.listen:
                log.warning(
                    "listen address changes need a restart; still on %s", self.config.listen
                )
            self.config = new
            self._flag_token = flag_token
            self.store.set_targets(new.targets, vantage=new.vantage)
            notes = []
            accounts = self.ctx.accounts
            for target in new.targets:
                if await accounts.recheck(target):  # scrypt, in a thread
                    notes.append(f"{target.name}: credentials changed, login suspension lifted")
                pause = accounts.pause(target)
                self.store.set_suspension(target.name, pause)
                if pause is not None:
                    notes.append(
                        f"{target.name}: still suspended ({pause.reason}); the credentials "
                        "did not change. Fix them, or resume explicitly: "
                        f"POST /-/resume/{target.name}"
                    )
                    log.warning("target=%s %s", target.name, pause.describe(target=target.name))
            self.scheduler.reconcile(new.targets)
            self.store.reload_ok = True
            self.last_reload_notes = notes
            if self._settle_after_reload:
                settle_heap()
            log.info("config reloaded from %s: %d targets", self.config_path, len(new.targets))
            return []

    async def resume_target(self, name: str) -> bool | None:
        """Lift `name`'s login suspension; None if there is no such target."""
        target = self.config.target(name)
        if target is None:
            return None
        lifted = await self.ctx.accounts.resume(target)
        self.store.set_suspension(name, self.ctx.accounts.pause(target))
        if lifted:
            log.warning("target=%s login suspension lifted by an operator (resume)", name)
        return lifted

    # ------------------------------------------------------------------ handlers

    async def _metrics(self, request: web.Request) -> web.Response:
        gzipped = accepts_gzip(request.headers.get("Accept-Encoding", ""))
        body = await self.render_metrics(gzipped=gzipped)
        headers = {"Content-Type": CONTENT_TYPE_LATEST, "Vary": "Accept-Encoding"}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        if self._prerender_task is None:
            self._prerender_task = asyncio.create_task(self._prerender(), name="prerender")
        return web.Response(body=body, headers=headers)

    async def render_metrics(self, *, gzipped: bool = False) -> bytes:
        """The /metrics text (the store's families, then the exporter's own), gzipped if
        asked."""
        # The store's part is rendered on the event loop, not in a thread: the store is
        # written on the loop, so no half-done record() is seen, and a rendering thread
        # holds the GIL in 5 ms turns against the loop (before: scrapes of 40-155 ms at
        # 1000 targets and the probes' socket events stamped late). Changed targets are
        # re-rendered RENDER_SLICE per loop iteration (~1-2 ms each); the rest is cheap.
        await self._refresh_in_slices()
        parts = self.metrics_parts()
        # Joining megabytes (fresh pages: ~4 ms at 1000 targets) and zlib both run without
        # the GIL, so in a thread they cost the loop nothing.
        return await asyncio.to_thread(_join, parts, gzipped=gzipped)

    def metrics_parts(self) -> list[bytes]:
        """The /metrics text in pieces, as `render_metrics` serves it (after re-rendering
        whatever changed in one go; `render_metrics` spreads that over loop iterations)."""
        parts = self.renderer.parts()
        parts.append(generate_latest(self._runtime_registry))
        return parts

    async def _refresh_in_slices(self) -> None:
        """Re-render changed targets, RENDER_SLICE per loop iteration (one pass at most:
        targets that change meanwhile wait for the next call)."""
        for _ in range(len(self.store.states()) // RENDER_SLICE + 1):
            if not self.renderer.refresh(limit=RENDER_SLICE):
                return
            await asyncio.sleep(0)

    async def _prerender(self) -> None:
        """Keep changed targets rendered, so a scrape mostly joins ready text (Prometheus
        scrapes every 15-60 s, by when most targets have a new result)."""
        clock = self.ctx.clock
        while True:
            await clock.sleep(PRERENDER_INTERVAL_S)
            await self._refresh_in_slices()

    async def _healthz(self, request: web.Request) -> web.Response:
        alive = self._sched_task is not None and not self._sched_task.done()
        return web.Response(
            text="ok\n" if alive else "scheduler stopped\n", status=200 if alive else 503
        )

    @property
    def admin_token(self) -> Secret | None:
        return self._flag_token or self.config.admin_token

    def _refuse(self, request: web.Request) -> web.Response | None:
        """None if the request carries the admin token, else the 401/403 answer."""
        token = self.admin_token
        if token is None:
            return web.Response(text=ADMIN_DISABLED, status=403)
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.matches(given.strip()):
            log.warning(
                "admin request %s %s refused: missing or wrong bearer token (from %s)",
                request.method,
                request.path,
                request.remote,
            )
            return web.Response(
                text="401 Unauthorized: send 'Authorization: Bearer <admin token>'\n",
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="parichay-exporter"'},
            )
        return None

    async def _reload(self, request: web.Request) -> web.Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        errors = await self.reload()
        if errors:
            text = "config rejected; the previous config keeps running:\n" + "\n".join(errors)
            return web.Response(text=text + "\n", status=400)
        lines = [f"config reloaded: {len(self.config.targets)} targets", *self.last_reload_notes]
        return web.Response(text="\n".join(lines) + "\n")

    async def _resume(self, request: web.Request) -> web.Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        name = request.match_info["target"]
        lifted = await self.resume_target(name)
        if lifted is None:
            return web.Response(text="no such target in the running config\n", status=404)
        if not lifted:
            return web.Response(text=f"{name}: not suspended; nothing to do\n")
        text = f"{name}: login suspension lifted; logins resume at the next slot\n"
        return web.Response(text=text)

    async def _status_page(self, request: web.Request) -> web.Response:
        page = localpage.render_local_page(self.store, now=self.ctx.clock.now())
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def _status_json(self, request: web.Request) -> web.Response:
        return web.json_response(localpage.status_json(self.store))

    # ------------------------------------------------------------------ logging

    def _log_transition(self, target: Target, result: ProbeResult) -> None:
        st = self.store.get(target.name)
        changed = st is not None and st.since == result.started_at
        if not changed:
            return
        if result.success:
            log.info(
                "target=%s role=%s vantage=%s state=up duration=%.3fs",
                target.name,
                target.role,
                self.store.vantage,
                result.duration,
            )
        else:
            log.warning(
                "target=%s role=%s vantage=%s state=down reason=%s%s detail=%r",
                target.name,
                target.role,
                self.store.vantage,
                result.reason,
                f" step={result.failed_step}" if result.failed_step else "",
                result.detail,
            )


def settle_heap() -> None:
    """Take everything alive now (modules, config, the targets' state) out of the garbage
    collector's sight, after start-up and after each reload.

    A full collection walks every tracked object: at 1000 targets it stops the event loop
    for 30-50 ms, which lands in the scheduler lag and in the time stamps of the probes in
    flight. The frozen objects live as long as the config anyway; what dies later is freed
    by reference counting, and a reload unfreezes and collects first, so the old config's
    cycles are not kept."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def fix_mmap_threshold() -> bool:
    """Keep glibc's malloc from hoarding freed TLS buffers; True if it applied.

    Each TLS connection allocates a 256 KiB read buffer. glibc serves such blocks by mmap
    and returns them on free, but after the first free it raises its mmap threshold and
    serves the next ones from the heap, which it rarely gives back: with HTTPS targets the
    exporter's RSS then creeps up by ~15 MiB. Fixing the threshold (M_MMAP_THRESHOLD, which
    also turns the adjustment off) keeps it flat. Other C libraries: nothing to do."""
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_mmap_threshold = -3
    return bool(mallopt(m_mmap_threshold, 128 * 1024))


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run the service on uvloop when installed (the `speed` extra: about 12% less CPU per
    probe, measured with bench/profile_scheduler.py), else on asyncio's own loop.
    PARICHAY_EVENT_LOOP=asyncio forces the pure-asyncio loop."""
    fix_mmap_threshold()
    if os.environ.get("PARICHAY_EVENT_LOOP", "auto") != "asyncio":
        try:
            import uvloop  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            pass
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


async def serve(
    config_path: str, *, listen: str | None = None, admin_token_file: str | None = None
) -> None:
    config = await asyncio.to_thread(load_config, config_path)
    exporter = Exporter(config=config, config_path=config_path, admin_token_file=admin_token_file)
    if exporter.admin_token is None:
        log.info("admin endpoints disabled (no admin.token_file); SIGHUP reloads the config")
    with contextlib.suppress(asyncio.CancelledError):
        await exporter.run_forever(listen=listen)
