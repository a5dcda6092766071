"""Profile the scheduled service: where the exporter's CPU goes per probe.

Starts `bench/probe_target.py` (plain HTTP or `--tls`), then runs the real `Exporter`
(scheduler, store, collector, HTTP server) in this process with `--targets` HTTP targets at
`--interval`, under cProfile for `--seconds` after a warm-up; scrapes /metrics every 15 s as
Prometheus would. Prints CPU seconds per 1000 probes and the top functions. Bounded: at most
120 s measured, loopback only.

    .venv/bin/python bench/profile_scheduler.py --targets 100 --seconds 20 [--tls] [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from exporter.app import Exporter  # noqa: E402
from exporter.config import load_config  # noqa: E402


def start_target(*, tls: bool) -> tuple[subprocess.Popen[bytes], str]:
    argv = [sys.executable, str(HERE / "probe_target.py"), "--port", "0"]
    proc = subprocess.Popen(argv + (["--tls"] if tls else []), stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    m = re.match(r"READY port=(\d+) scheme=(\w+)", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"target did not start: {line!r}")
    return proc, f"{m.group(2)}://127.0.0.1:{m.group(1)}"


def target_requests(base: str) -> int:
    import json
    import ssl

    ctx = ssl._create_unverified_context() if base.startswith("https") else None
    with urllib.request.urlopen(f"{base}/stats", timeout=5, context=ctx) as r:
        return int(json.load(r)["requests"])


def write_config(path: Path, *, base: str, targets: int, interval: float) -> None:
    lines = ["vantage: bench", "targets:"]
    for i in range(targets):
        lines.append(
            f'  - {{name: t{i}, kind: http, role: control, url: "{base}/delay/0?t={i}", '
            f"interval: {interval}s, timeout: 900ms, tls: {{insecure_skip_verify: true}}}}"
        )
    path.write_text("\n".join(lines) + "\n")


async def run(args: argparse.Namespace, base: str, cfg: Path) -> None:
    exporter = Exporter(config=load_config(cfg), config_path=cfg)
    await exporter.start(listen="127.0.0.1:0")
    try:
        await asyncio.sleep(args.warmup)
        n0, t0, c0 = target_requests(base), time.perf_counter(), time.process_time()
        prof = cProfile.Profile()
        if not args.no_profile:
            prof.enable()
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            await asyncio.sleep(min(15.0, end - time.monotonic()))
            await asyncio.to_thread(
                lambda: urllib.request.urlopen(exporter.url + "/metrics", timeout=10).read()
            )
        if not args.no_profile:
            prof.disable()
        n1, t1, c1 = target_requests(base), time.perf_counter(), time.process_time()
    finally:
        await exporter.stop()
    probes = n1 - n0
    print(
        f"{probes} probes in {t1 - t0:.1f} s; CPU {c1 - c0:.2f} s "
        f"= {(c1 - c0) / max(probes, 1) * 1000:.2f} s per 1000 probes"
        + ("" if args.no_profile else " (profiler overhead included)")
    )
    if args.no_profile:
        return
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--targets", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--no-profile", action="store_true", help="measure CPU only")
    ap.add_argument("--sort", default="tottime")
    ap.add_argument("--top", type=int, default=35)
    args = ap.parse_args()
    if args.seconds > 120 or args.targets > 2000:
        ap.error("seconds <= 120 and targets <= 2000 (bounded load)")
    proc, base = start_target(tls=args.tls)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "exporter.yml"
            write_config(cfg, base=base, targets=args.targets, interval=args.interval)
            if args.uvloop:
                import uvloop

                uvloop.run(run(args, base, cfg))
            else:
                asyncio.run(run(args, base, cfg))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    os.environ.pop("_", None)


if __name__ == "__main__":
    main()
