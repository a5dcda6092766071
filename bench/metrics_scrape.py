"""How fast /metrics is served at scale, while the exporter probes: plain and gzip.

Service mode (the default) starts `bench/probe_target.py` and `python -m exporter run` with
`--targets` HTTP targets at `--interval` (127.0.0.1 only), scrapes once, waits `--warmup`
seconds (past the start-up burst), measures the exporter's CPU over a window with nobody
scraping, then scrapes `--scrapes` times, `--gap` seconds apart, alternating two clients:

- plain: urllib with `Accept-Encoding: identity`;
- gzip: urllib with `Accept-Encoding: gzip`, as Prometheus sends it (inflated to check it).

It prints, per client, the median and max time from request to last byte and the body size;
the exporter's CPU milliseconds per scrape (its CPU across each request less what probing
costs in that time); and the scheduler lag over the scrape window (the probes' view of the
event loop).

`--in-process` times the renderer alone instead (no sockets): a store of `--targets`
targets, `render()` after 0, 1/15 and all targets changed, one slice of
`refresh(limit=100)`, and zlib level 1 on the text.

`--root DIR` runs the exporter (or imports it, in-process) from another checkout, to
measure before and after a change (`git archive <commit> | tar -x -C DIR`):

    .venv/bin/python bench/metrics_scrape.py [--targets 1000] [--scrapes 30] [--gap 1]
    .venv/bin/python bench/metrics_scrape.py --gap 15 --scrapes 8   # Prometheus' cadence
    .venv/bin/python bench/metrics_scrape.py --in-process
    .venv/bin/python bench/metrics_scrape.py --root /tmp/before

Every child runs in its own session and is stopped by its PID; the whole run is bounded by
probe_compare's deadline.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.probe_compare import (  # noqa: E402
    OURS_CMD,
    ROOT,
    Target,
    check_deadline,
    child,
    cpu_seconds,
    free_port,
    histogram_quantile,
    lag_histogram,
    ours_config,
    wait_ready,
)


def scrape(url: str, *, encoding: str) -> tuple[float, int, bytes]:
    """(seconds to the last byte, bytes on the wire, the text) of one GET."""
    req = urllib.request.Request(url, headers={"Accept-Encoding": encoding})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=15) as r:
        body = r.read()
        gzipped = r.headers.get("Content-Encoding") == "gzip"
    elapsed = time.perf_counter() - t0
    return elapsed, len(body), gzip.decompress(body) if gzipped else body


def summary(xs: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(xs) * 1000, "max_ms": max(xs) * 1000}


def run_service(a: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    argv = [sys.executable, str(HERE / "probe_target.py"), "--port", "0"]
    with child(argv, log=tmp / "target.log") as tp:
        target = Target(tp)
        cfg = tmp / "exporter.yml"
        ours_config(target, n=a.targets, interval=f"{a.interval}s", path=cfg)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cmd = [*OURS_CMD, "--config", str(cfg), "--listen", f"127.0.0.1:{port}"]
        with child(cmd, log=tmp / "exporter.log", cwd=a.root) as proc:
            wait_ready(base + "/healthz", proc)
            scrape(base + "/metrics", encoding="gzip")  # as Prometheus' first scrape would
            time.sleep(a.warmup)
            quiet = min(a.scrapes * a.gap, 15.0)
            c0, t0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(quiet)
            base_share = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)
            h0 = lag_histogram(base)
            times: dict[str, list[float]] = {"identity": [], "gzip": []}
            cpu: dict[str, float] = {"identity": 0.0, "gzip": 0.0}
            sizes: dict[str, int] = {}
            text_bytes = 0
            for i in range(a.scrapes):
                check_deadline()
                enc = ("identity", "gzip")[i % 2]
                c0 = cpu_seconds(proc.pid)
                took, size, text = scrape(base + "/metrics", encoding=enc)
                # /proc counts CPU in clock ticks (10 ms): summed over many scrapes, less
                # what probing costs in the same time, it is a fair estimate.
                cpu[enc] += cpu_seconds(proc.pid) - c0 - base_share * took
                times[enc].append(took)
                sizes[enc], text_bytes = size, len(text)
                if i + 1 < a.scrapes:
                    time.sleep(a.gap)
            h1 = lag_histogram(base)
    lag = {le: h1[le] - h0.get(le, 0.0) for le in h1}
    above = sorted(float(le) for le, n in lag.items() if n < lag["+Inf"])
    return {
        "targets": a.targets,
        "interval_s": a.interval,
        "gap_s": a.gap,
        "scrapes": a.scrapes,
        **{
            name: {
                **summary(times[enc]),
                "bytes": sizes.get(enc, 0),
                "cpu_ms": cpu[enc] / max(len(times[enc]), 1) * 1000,
            }
            for name, enc in (("plain", "identity"), ("gzip", "gzip"))
        },
        "text_bytes": text_bytes,
        "cpu_share_probing": base_share,
        "lag_p50_ms": histogram_quantile(0.5, lag) * 1000,
        "lag_p99_ms": histogram_quantile(0.99, lag) * 1000,
        # The largest bucket bound that some probe's lag exceeded (a bound on the worst).
        "lag_worst_above_ms": above[-1] * 1000 if above else 0.0,
    }


def run_in_process(a: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(a.root))
    collector = importlib.import_module("exporter.collector")
    config = importlib.import_module("exporter.config")
    result = importlib.import_module("exporter.result")
    store_mod = importlib.import_module("exporter.store")
    lines = ["vantage: bench", "targets:"] + [
        f'  - {{name: t{i}, role: control, kind: http, url: "http://127.0.0.1:9/delay/0?t={i}"}}'
        for i in range(a.targets)
    ]
    targets = config.load_config_text("\n".join(lines) + "\n").targets
    store = store_mod.Store(vantage="bench")
    store.set_targets(targets)
    rng = random.Random(1)

    def record(t: Any) -> None:
        d = rng.uniform(0.0005, 0.003)
        store.record(result.ProbeResult(
            target=t.name, success=True, reason=None, duration=d, started_at=time.time(),
            phases=dict.fromkeys(result.PHASES, d / 5), http_status=200,
        ))  # fmt: skip

    for _ in range(20):
        for t in targets:
            record(t)
    renderer = collector.MetricsRenderer(store)
    renderer.render()  # the first render also builds the per-target caches
    out: dict[str, Any] = {"targets": a.targets}
    for label, changed in (("none", 0), ("one_in_15", a.targets // 15), ("all", a.targets)):
        ts = []
        for _ in range(a.repeats):
            for t in rng.sample(targets, changed):
                record(t)
            t0 = time.process_time()
            text = renderer.render()
            ts.append(time.process_time() - t0)
        out[f"render_ms_{label}_changed"] = summary(ts)
    body = text if isinstance(text, bytes) else text.encode()
    if hasattr(renderer, "refresh"):
        ts = []
        for _ in range(a.repeats):
            for t in targets:
                record(t)
            t0 = time.process_time()
            renderer.refresh(limit=100)
            ts.append(time.process_time() - t0)
        out["slice_of_100_ms"] = summary(ts)
    t0 = time.process_time()
    packed = zlib.compress(body, 1, wbits=31)
    out["gzip1_ms"] = (time.process_time() - t0) * 1000
    out["text_bytes"], out["gzip_bytes"] = len(body), len(packed)
    return out


def report(res: dict[str, Any]) -> None:
    if "plain" in res:
        print(f"{res['targets']} HTTP targets at {res['interval_s']:g} s, "
              f"{res['scrapes']} scrapes {res['gap_s']:g} s apart")  # fmt: skip
        print("| client | median | max | bytes | exporter CPU per scrape |")
        print("| --- | --- | --- | --- | --- |")
        for name in ("plain", "gzip"):
            c = res[name]
            print(f"| {name} | {c['median_ms']:.1f} ms | {c['max_ms']:.1f} ms | {c['bytes']} "
                  f"| {c['cpu_ms']:.1f} ms |")  # fmt: skip
        print(f"text {res['text_bytes']} bytes; probing alone: "
              f"{res['cpu_share_probing'] * 100:.1f}% of a core; scheduler lag while scraping "
              f"p50 {res['lag_p50_ms']:.2f} ms, p99 {res['lag_p99_ms']:.2f} ms, worst above "
              f"{res['lag_worst_above_ms']:.1f} ms")  # fmt: skip
        return
    for key, value in res.items():
        print(f"{key}: {value}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=15.0, help="probe interval, seconds")
    ap.add_argument("--scrapes", type=int, default=30)
    ap.add_argument("--gap", type=float, default=1.0, help="seconds between scrapes")
    ap.add_argument("--warmup", type=float, default=20.0)
    ap.add_argument("--repeats", type=int, default=15, help="in-process: renders per case")
    ap.add_argument("--in-process", action="store_true", help="time the renderer alone")
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout to run the exporter from")
    ap.add_argument("--out", type=Path, help="also write the figures as JSON")
    a = ap.parse_args()
    if a.targets > 5000 or a.scrapes > 200 or a.gap > 60 or a.warmup > 120 or a.repeats > 100:
        ap.error("bounded load: targets <= 5000, scrapes <= 200, gap <= 60 s, warmup <= 120 s")
    a.root = a.root.resolve()
    if a.in_process:
        res = run_in_process(a)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="metrics-scrape-"))
        try:
            res = run_service(a, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    report(res)
    if a.out:
        a.out.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
