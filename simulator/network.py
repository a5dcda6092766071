"""One simulated app's listener and its network faults: binding a port, refusing
connections by closing the listening socket and re-binding the *same* port afterwards,
and the middleware that makes every route hang, slow down, fail with 5xx or lose its
content markers.
The listening socket is created synchronously so :meth:`AppServer.apply_mode` can be
called from plain (non-async) code: once it returns, the kernel already accepts
connections on the port again, and the asyncio server picks them up a moment later.
Requests parked by ``hang`` wait for the app's fault state to change, then close their
connection without an answer; writing to the closed transport is reported by aiohttp as a
client disconnect, so nothing is logged as a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler

from simulator import pages
from simulator.faults import AppName, FaultState
from simulator.stats import Stats

logger = logging.getLogger(__name__)

# Long enough for a slow (default 200 ms) response to finish, short enough for a prompt stop.
SHUTDOWN_TIMEOUT_S = 1.0


def _drop(request: web.Request) -> web.Response:
    """Close the request's connection; the returned response then fails to write."""
    request.protocol.force_close()
    return web.Response(status=503)


class AppServer:
    """The aiohttp runner, listening socket and network-fault middleware of one app."""

    def __init__(
        self,
        *,
        name: AppName,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
        faults: FaultState,
        stats: Stats,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self._ssl = ssl_context
        self._faults = faults
        self._stats = stats
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._sock: socket.socket | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._generation = 0
        self._last_mode = "ok"

    # -- listening socket -------------------------------------------------------------
    def bind(self) -> int:
        """Create the listening socket (port 0 picks a free port, kept from then on)."""
        infos = socket.getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, _, _, _, addr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(addr)
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        return self.port

    @property
    def listening(self) -> bool:
        """True unless the app is refusing connections (or stopped)."""
        return self._sock is not None

    async def start(self, routes: Iterable[web.RouteDef]) -> None:
        """Serve ``routes`` on the socket made by :meth:`bind`."""
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(list(routes))
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
        await self._runner.setup()
        assert self._sock is not None, "bind() first"
        await self._serve(self._sock, self._generation)

    async def _serve(self, sock: socket.socket, generation: int) -> None:
        assert self._runner is not None and self._runner.server is not None
        # start_serving=False: nothing is registered with the event loop until the server
        # is stored, so refuse() can always close either the server or the bare socket.
        server = await asyncio.get_running_loop().create_server(
            self._runner.server, sock=sock, ssl=self._ssl, start_serving=False
        )
        if generation != self._generation:
            server.close()
            return
        self._server = server
        await server.start_serving()

    @staticmethod
    def _report(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("simulator: re-binding a port failed: %s", exc)

    def refuse(self) -> None:
        """Stop listening and drop open connections: new connections are refused."""
        self._generation += 1
        if self._serve_task is not None:
            self._serve_task.cancel()
            self._serve_task = None
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._drop_connections()

    def rebind(self) -> None:
        """Listen again on the same port (synchronously bound, served a moment later)."""
        if self._sock is not None:
            return
        self.bind()
        assert self._sock is not None
        self._generation += 1
        self._serve_task = asyncio.get_running_loop().create_task(
            self._serve(self._sock, self._generation)
        )
        self._serve_task.add_done_callback(self._report)

    def apply_mode(self) -> None:
        """Bring the listener in line with the app's current fault mode.

        Entering or leaving ``cert_expired`` drops open connections, so that a client's
        next request makes a new handshake and sees the certificate of the new mode.
        """
        mode, last = self._faults.mode, self._last_mode
        self._last_mode = mode
        if mode == "refuse":
            if self.listening:
                self.refuse()
            return
        if not self.listening:
            self.rebind()
        elif (mode == "cert_expired") != (last == "cert_expired"):
            self._drop_connections()

    def _drop_connections(self) -> None:
        if self._runner is not None and self._runner.server is not None:
            for conn in self._runner.server.connections:
                conn.force_close()

    async def stop(self) -> None:
        """Close the listener and every connection, hanging requests included."""
        self._faults.changed.set()  # wake hanging requests so they close their connection
        task = self._serve_task
        self.refuse()
        if task is not None:
            await asyncio.wait([task])  # its outcome is reported by _report
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- network faults -----------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.name
        self._stats.incr(route if route else f"{self.name}.other")
        state = self._faults
        mode = state.mode
        if mode == "refuse":
            # A request on a connection opened before the refusal: drop it.
            return _drop(request)
        if mode == "hang":
            await state.changed.wait()
            return _drop(request)
        if mode == "slow":
            await asyncio.sleep(state.delay_ms / 1000)
        elif mode == "http_500":
            return web.Response(
                status=500,
                text=pages.error_page(status=500, reason="Internal Server Error"),
                content_type="text/html",
            )
        elif mode == "http_503":
            return web.Response(
                status=503,
                text=pages.error_page(status=503, reason="Service Unavailable"),
                content_type="text/html",
                headers={"Retry-After": "120"},
            )
        elif mode == "bad_content":
            return web.Response(
                status=200, text=pages.maintenance_page(), content_type="text/html"
            )
        return await handler(request)
