"""Loopback plumbing for tests: the one host every test server binds, `free_port`, and
`serve_app` / `serving` / `LoopbackService` for the small servers the tests start."""

from __future__ import annotations

import itertools
import os
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self

from aiohttp import web

HOST = "127.0.0.1"


# Under pytest-xdist each worker takes ports from its own block, below Linux's ephemeral
# range (32768-60999, where port-0 binds land), so two workers never pick the same port.
_BLOCK_BASE, _BLOCK_SIZE = 20000, 1500
_next = itertools.count()


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1, for a process that needs it in its config.

    The port is released before it is returned, so another process could take it first;
    servers that can report the port they bound (port 0) should do that instead. Under
    pytest-xdist (`PYTEST_XDIST_WORKER=gwN`) the port comes from worker N's own block.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    candidates: Iterator[int] = iter([0])
    if worker.startswith("gw") and worker[2:].isdigit():
        base = _BLOCK_BASE + _BLOCK_SIZE * (int(worker[2:]) % 8)
        candidates = (base + next(_next) % _BLOCK_SIZE for _ in range(_BLOCK_SIZE))
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError(f"no free port left in this worker's block ({worker})")


async def serve_app(
    app: web.Application, *, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, str]:
    """Serve an aiohttp app on a port the OS picks on 127.0.0.1: (runner, base URL).

    The caller stops it with `await runner.cleanup()`.
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, HOST, 0, ssl_context=ssl_context).start()
    scheme = "https" if ssl_context is not None else "http"
    return runner, f"{scheme}://{HOST}:{runner.addresses[0][1]}"


@asynccontextmanager
async def serving(
    app: web.Application, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[str]:
    """`serve_app` for the length of an `async with`: its base URL, cleaned up on exit."""
    runner, url = await serve_app(app, ssl_context=ssl_context)
    try:
        yield url
    finally:
        await runner.cleanup()


class LoopbackService:
    """Something a test starts and stops: `async with` starts it, and always stops it
    (also when starting fails half-way, so nothing is left listening)."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
