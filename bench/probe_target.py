"""A local probe target with an exactly injected delay, for the probe benchmarks.

`GET /delay/<ms>` sleeps `ms` milliseconds and answers 200 with a small page carrying
`MARKER`; `GET /stats` gives the number of requests served and how far the sleeps overshot
(`?reset=1` clears that window). Listens on 127.0.0.1 only; `--tls` serves HTTPS with a
throw-away self-signed certificate made by the openssl CLI. Prints
`READY port=<p> scheme=<http|https>` once listening.

Event-loop timers fire up to a millisecond late, which would be charged to the exporter
under test as overhead; so the target sleeps coarsely on the loop and finishes the last
milliseconds in a thread with `time.sleep` (tens of microseconds of overshoot, recorded).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

LOOPBACK = "127.0.0.1"
MARKER = "bench-target-marker-7f3a"
BODY = (
    "<!doctype html><html><head><title>bench target</title></head>"
    f"<body><p>{MARKER}</p></body></html>\n"
).encode()
MAX_DELAY_MS = 60_000
COARSE_MARGIN_S = 0.003


class Target:
    def __init__(self) -> None:
        self.requests = 0
        self.overshoot_us: deque[float] = deque(maxlen=1000)
        self.pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="sleep")

    async def precise_sleep(self, sec: float) -> None:
        deadline = time.monotonic() + sec
        if sec > COARSE_MARGIN_S:
            await asyncio.sleep(sec - COARSE_MARGIN_S)
        await asyncio.get_running_loop().run_in_executor(self.pool, _sleep_until, deadline)
        self.overshoot_us.append((time.monotonic() - deadline) * 1e6)

    async def delay(self, request: web.Request) -> web.Response:
        try:
            ms = max(0, min(int(request.match_info["ms"]), MAX_DELAY_MS))
        except ValueError:
            return web.Response(status=400, text="bad delay\n")
        if ms:
            await self.precise_sleep(ms / 1000)
        self.requests += 1
        return web.Response(body=BODY, content_type="text/html")

    async def stats(self, request: web.Request) -> web.Response:
        xs = sorted(self.overshoot_us)
        if request.query.get("reset"):
            self.overshoot_us.clear()

        def q(p: float) -> float | None:
            return xs[min(len(xs) - 1, round(p * (len(xs) - 1)))] if xs else None

        return web.json_response(
            {
                "requests": self.requests,
                "sleep_overshoot_us": {"median": q(0.5), "p95": q(0.95), "max": q(1.0)},
            }
        )


def _sleep_until(deadline: float) -> None:
    left = deadline - time.monotonic()
    if left > 0:
        time.sleep(left)


def make_tls(tmpdir: str) -> ssl.SSLContext:
    cert, key = os.path.join(tmpdir, "cert.pem"), os.path.join(tmpdir, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-nodes", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:prime256v1", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
    )  # fmt: skip
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def serve(*, port: int, tls: bool) -> None:
    target = Target()
    app = web.Application()
    app.router.add_get("/delay/{ms}", target.delay)
    app.router.add_get("/stats", target.stats)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, port))
    tmpdir = tempfile.mkdtemp(prefix="probe-target-") if tls else None
    try:
        ctx = make_tls(tmpdir) if tmpdir else None
        site = web.SockSite(runner, sock, ssl_context=ctx, backlog=4096)
        await site.start()
        scheme = "https" if tls else "http"
        print(f"READY port={sock.getsockname()[1]} scheme={scheme}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", action="store_true")
    args = ap.parse_args()
    asyncio.run(serve(port=args.port, tls=args.tls))


if __name__ == "__main__":
    main()
