"""Cost of one HTTP probe and of a /metrics scrape, against the Debian blackbox exporter.

Starts the simulator (plain HTTP) in a subprocess as the target, then measures, for the same
URL and the same number of sequential probes:
  - ours: `exporter.probes.run_probe` in a separate Python process (CPU from that process);
  - blackbox: `GET /probe?module=http_2xx&target=URL` on `prometheus-blackbox-exporter`
    (CPU from /proc/<pid>/stat of the blackbox process).
Prints median wall time per probe, CPU milliseconds per probe, RSS, and the ratios ours /
blackbox; then the time to render /metrics for 100 targets, all changed since the last
scrape. Bounded: N probes (default 300), every wait has a deadline.
Run: `python bench/probe_cost.py [--probes N] [--targets N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

# Run as a script: the repository root on sys.path, for the test helpers in tests/support.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.net import free_port

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_http(url: str, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


OUR_LOOP = r"""
import asyncio, json, resource, sys, time
from exporter.config import load_config_text
from exporter.probes import ProbeContext, run_probe
url, n = sys.argv[1], int(sys.argv[2])
spec = f"{{name: t, role: sso, kind: http, url: '{url}'}}"
t = load_config_text(f"vantage: b\ntargets:\n  - {spec}\n").targets[0]
async def main():
    ctx = ProbeContext()
    await run_probe(t, ctx)  # warm-up: imports, first connection
    cpu0 = time.process_time()
    walls = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await run_probe(t, ctx)
        walls.append(time.perf_counter() - t0)
        assert r.success, r.detail
    cpu = time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"walls": walls, "cpu": cpu, "rss": rss}))
asyncio.run(main())
"""


def bench_ours(url: str, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", OUR_LOOP, url, str(n)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "wall_ms": statistics.median(data["walls"]) * 1000,
        "cpu_ms": data["cpu"] / n * 1000,
        "rss_mb": data["rss"],
    }


def bench_blackbox(url: str, n: int, tmp: Path) -> dict[str, float] | None:
    binary = shutil.which("prometheus-blackbox-exporter")
    if binary is None:
        print(
            "prometheus-blackbox-exporter not installed (apt-get install "
            "prometheus-blackbox-exporter); skipping the comparison"
        )
        return None
    cfg = tmp / "blackbox.yml"
    cfg.write_text("modules:\n  http_2xx:\n    prober: http\n    timeout: 10s\n")
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/metrics")
        params = {"module": "http_2xx", "target": url}
        with httpx.Client(base_url=base, timeout=10) as c:
            c.get("/probe", params=params)
            cpu0 = cpu_seconds(proc.pid)
            walls = []
            for _ in range(n):
                t0 = time.perf_counter()
                r = c.get("/probe", params=params)
                walls.append(time.perf_counter() - t0)
                assert "probe_success 1" in r.text, r.text[-300:]
            cpu = cpu_seconds(proc.pid) - cpu0
        return {
            "wall_ms": statistics.median(walls) * 1000,
            "cpu_ms": cpu / n * 1000,
            "rss_mb": rss_mb(proc.pid),
        }
    finally:
        proc.terminate()
        proc.wait(10)


SCRAPE = r"""
import sys, time
from exporter.collector import MetricsRenderer
from exporter.config import load_config_text
from exporter.result import PHASES, ProbeResult
from exporter.store import Store
n = int(sys.argv[1])
lines = "\n".join(
    f"  - {{name: t{i}, role: sso, kind: http, url: 'https://x{i}.example/'}}" for i in range(n)
)
cfg = load_config_text(f"vantage: b\ntargets:\n{lines}\n")
store = Store(vantage="b"); store.set_targets(cfg.targets)
for t in cfg.targets:
    store.record(ProbeResult(target=t.name, success=True, reason=None, duration=0.1,
                 started_at=time.time(), phases=dict.fromkeys(PHASES, 0.02), http_status=200,
                 cert_not_after=2e9))
# What /metrics writes: every target changed since the last scrape (a probe each), so
# every target is rendered again, as at a 15 s scrape of targets probed every 15 s.
renderer = MetricsRenderer(store)
renderer.render()
spent, k = 0.0, 50
for _ in range(k):
    for t in cfg.targets:
        store.record(ProbeResult(target=t.name, success=True, reason=None, duration=0.1,
                     started_at=time.time(), phases=dict.fromkeys(PHASES, 0.02),
                     http_status=200, cert_not_after=2e9))
    t0 = time.perf_counter()
    renderer.refresh()
    body = renderer.render()
    spent += time.perf_counter() - t0
print(spent / k * 1000, len(body), body.count(b"\n"))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probes", type=int, default=300)
    ap.add_argument("--targets", type=int, default=100, help="targets for the scrape benchmark")
    args = ap.parse_args()
    n = max(10, min(args.probes, 5000))
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        sso, app, ctl = free_port(), free_port(), free_port()
        sim = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                "simulate",
                "--sso-port",
                str(sso),
                "--app-port",
                str(app),
                "--control-port",
                str(ctl),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{sso}/pnv1/assets/login?sid=eOfficeUKSec"
            wait_http(url)
            ours = bench_ours(url, n)
            bb = bench_blackbox(url, n, tmp)
        finally:
            sim.terminate()
            sim.wait(10)
    print(f"HTTP probe of a local page, {n} sequential probes (median wall, CPU per probe, RSS)")
    print(
        f"  parichay-exporter  {ours['wall_ms']:7.2f} ms  {ours['cpu_ms']:6.2f} ms CPU  "
        f"{ours['rss_mb']:6.1f} MB"
    )
    if bb:
        print(
            f"  blackbox_exporter  {bb['wall_ms']:7.2f} ms  {bb['cpu_ms']:6.2f} ms CPU  "
            f"{bb['rss_mb']:6.1f} MB  (includes its own /probe HTTP round trip)"
        )
        print(
            f"  ratio ours/blackbox: wall {ours['wall_ms'] / bb['wall_ms']:.2f}x, "
            f"CPU {ours['cpu_ms'] / bb['cpu_ms']:.2f}x, RSS {ours['rss_mb'] / bb['rss_mb']:.2f}x"
        )
    out = subprocess.run(
        [sys.executable, "-c", SCRAPE, str(args.targets)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    print(
        f"/metrics render for {args.targets} targets: {float(out[0]):.2f} ms, "
        f"{int(out[1]) / 1024:.0f} KiB, {out[2]} lines"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
