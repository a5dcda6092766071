"""Our exporter beside Debian's blackbox_exporter and curl: accuracy, CPU, memory, scale.

One run, one machine state, one local target (`bench/probe_target.py`, 127.0.0.1 only,
delays injected to within tens of microseconds), a fresh connection per probe everywhere:

1. **accuracy**, per injected delay D (0, 50, 200 ms), plain HTTP and HTTPS: the median of
   the exporter's total minus D, and the median of each phase at D=0.
   - blackbox (`prometheus-blackbox-exporter`, Debian): `GET /probe?...` one at a time, the
     delays taken in turn;
   - ours: the scheduled service, 100 targets at a 1 s interval (three of them carry the
     delays, the rest `/delay/0`); /metrics polled five times per interval for new samples;
   - curl: `-w` timings of `curl -sk -o /dev/null`, a new process per probe (the floor).
2. **cost**: exporter CPU seconds (utime+stime from /proc) per 1000 probes and peak RSS
   (VmHWM). blackbox: `--count` probes with 8 in flight after a warm-up; ours: the same
   100-target service over a `--window` with nobody polling, probes counted at the target.
3. **scale**: ours with 1000 targets at a 15 s interval: scheduler lag p50/p99 (from
   `parichay_scheduler_lag_seconds`, after the start-up burst), CPU share of one core, RSS,
   and the time and size of a /metrics scrape, plain and with `Accept-Encoding: gzip`.

    .venv/bin/python bench/probe_compare.py [--count 30] [--window 20] [--out result.json]
    .venv/bin/python bench/probe_compare.py --only scale   # the scale section alone

Takes about 6 minutes on 2 cores. Every child process is started in its own session and
stopped by its PID; every wait has a deadline. Markdown tables go to stdout.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# How our exporter is started (one place to change if its command line moves).
OURS_CMD = [sys.executable, "-m", "exporter", "run"]
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
MARKER = "bench-target-marker-7f3a"  # bench/probe_target.py puts it in every page
DELAYS = (0, 50, 200)
PHASES = ("resolve", "connect", "tls", "processing", "transfer")
CLK_TCK = os.sysconf("SC_CLK_TCK")
NO_VERIFY = ssl._create_unverified_context()
# Never run away: the whole script stops after this long.
HARD_LIMIT_S = 1200.0
DEADLINE = time.monotonic() + HARD_LIMIT_S


def check_deadline() -> None:
    if time.monotonic() > DEADLINE:
        raise TimeoutError(f"the benchmark ran longer than {HARD_LIMIT_S:.0f} s")


# ----------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def child(
    argv: list[str], *, log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process in its own session, stopped by its PID (TERM, then KILL)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=out, stdin=subprocess.DEVNULL, cwd=cwd,
            start_new_session=True,
        )  # fmt: skip
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


def cpu_seconds(pid: int) -> float:
    rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def status_mib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def get(url: str, *, timeout: float = 15.0, accept_encoding: str = "identity") -> bytes:
    """The body as sent (urllib never decodes a gzip body)."""
    req = urllib.request.Request(url, headers={"Accept-Encoding": accept_encoding})
    with urllib.request.urlopen(req, timeout=timeout, context=NO_VERIFY) as r:
        return bytes(r.read())


def wait_ready(url: str, proc: subprocess.Popen[bytes], *, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            get(url, timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s")


class Target:
    """bench/probe_target.py in a child process."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        m = re.match(r"READY port=(\d+) scheme=(\w+)", line)
        if not m:
            raise RuntimeError(f"the target did not start: {line!r}")
        self.pid = proc.pid
        self.base = f"{m.group(2)}://127.0.0.1:{m.group(1)}"

    def url(self, delay_ms: int, query: str = "") -> str:
        return f"{self.base}/delay/{delay_ms}" + (f"?{query}" if query else "")

    def requests(self) -> int:
        return int(json.loads(get(f"{self.base}/stats"))["requests"])


# ----------------------------------------------------------------------------- metrics

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text: str, names: set[str]) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of the samples named (enough of the text format for gauges)."""
    out = []
    for line in text.splitlines():
        if not line or line[0] == "#" or line.split("{", 1)[0].split(" ", 1)[0] not in names:
            continue
        m = _SAMPLE.match(line)
        if m:
            out.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def quantile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    ys = sorted(xs)
    return ys[min(len(ys) - 1, round(q * (len(ys) - 1)))]


Probe = dict[str, Any]  # total_s, phases_s: {phase: s}, success


def summarize(recs: dict[int, list[Probe]]) -> dict[str, Any]:
    """Per delay: median and p95 of total - D (ms), failures; phase medians at D=0 (ms)."""
    out: dict[str, Any] = {}
    for d, rs in recs.items():
        ok = [r for r in rs if r["success"]]
        over = [(r["total_s"] - d / 1000) * 1000 for r in ok]
        out[str(d)] = {
            "n": len(rs),
            "failed": len(rs) - len(ok),
            "total_minus_D_ms": {"median": median(over), "p95": quantile(over, 0.95)},
            "phase_median_ms": {
                p: median([r["phases_s"].get(p, 0.0) * 1000 for r in ok]) for p in PHASES
            },
        }
    return out


# ----------------------------------------------------------------------------- blackbox

BLACKBOX_CONFIG = f"""
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      fail_if_body_not_matches_regexp: ["{MARKER}"]
  http_2xx_tls:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      fail_if_body_not_matches_regexp: ["{MARKER}"]
      tls_config: {{insecure_skip_verify: true}}
"""


def blackbox_probe(base: str, module: str, url: str) -> Probe:
    q = urllib.parse.urlencode({"module": module, "target": url})
    text = get(f"{base}/probe?{q}").decode()
    got = samples(text, {"probe_duration_seconds", "probe_http_duration_seconds", "probe_success"})
    phases = {lab["phase"]: v for n, lab, v in got if n == "probe_http_duration_seconds"}
    total = next(v for n, _, v in got if n == "probe_duration_seconds")
    success = next(v for n, _, v in got if n == "probe_success") == 1.0
    return {"total_s": total, "phases_s": phases, "success": success}


def run_blackbox(target: Target, *, tls: bool, count: int, cost_count: int, tmp: Path) -> Any:
    cfg = tmp / "blackbox.yml"
    cfg.write_text(BLACKBOX_CONFIG)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    module = "http_2xx_tls" if tls else "http_2xx"
    argv = [BLACKBOX, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn"]  # fmt: skip
    with child(argv, log=tmp / f"blackbox-{tls}.log") as proc:
        wait_ready(base + "/metrics", proc)
        for d in DELAYS:  # warm-up, discarded
            for _ in range(3):
                blackbox_probe(base, module, target.url(d))
        recs: dict[int, list[Probe]] = {d: [] for d in DELAYS}
        for _ in range(count):
            for d in DELAYS:
                check_deadline()
                recs[d].append(blackbox_probe(base, module, target.url(d)))
        # Cost: `cost_count` probes, 8 in flight, after a warm-up of 200.
        url = target.url(0)

        def one(_: int) -> bool:
            return bool(blackbox_probe(base, module, url)["success"])

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(200)))
            c0, n0, t0 = cpu_seconds(proc.pid), target.requests(), time.monotonic()
            ok = sum(pool.map(one, range(cost_count)))
            c1, n1, t1 = cpu_seconds(proc.pid), target.requests(), time.monotonic()
        hwm = status_mib(proc.pid, "VmHWM")
    return {
        "accuracy": summarize(recs),
        "cpu_s_per_1000": (c1 - c0) / (n1 - n0) * 1000,
        "probes": n1 - n0,
        "failed": cost_count - ok,
        "probes_per_s": (n1 - n0) / (t1 - t0),
        "peak_rss_mib": hwm,
    }


# ----------------------------------------------------------------------------- ours


def ours_config(target: Target, *, n: int, interval: str, path: Path) -> None:
    lines = ["vantage: bench", "max_concurrency: 1024", "targets:"]
    for i in range(n):
        url = target.url(DELAYS[i] if i < len(DELAYS) else 0, f"t={i}")
        lines.append(
            f'  - {{name: t{i}, kind: http, role: control, url: "{url}", interval: {interval}, '
            "timeout: 900ms, tls: {insecure_skip_verify: true}, "
            f'expect: {{body_contains: "{MARKER}"}}}}'
        )
    path.write_text("\n".join(lines) + "\n")


@contextmanager
def ours(
    target: Target, *, n: int, interval: str, tmp: Path, tag: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    cfg = tmp / f"ours-{tag}.yml"
    ours_config(target, n=n, interval=interval, path=cfg)
    port = free_port()
    argv = [*OURS_CMD, "--config", str(cfg), "--listen", f"127.0.0.1:{port}"]
    with child(argv, log=tmp / f"ours-{tag}.log", cwd=ROOT) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/metrics", proc)
        yield proc, base


def run_ours(target: Target, *, tls: bool, count: int, window: float, tmp: Path) -> Any:
    names = {"parichay_probe_duration_seconds", "parichay_probe_phase_duration_seconds",
             "parichay_probe_success", "parichay_probe_last_run_timestamp_seconds"}  # fmt: skip
    with ours(target, n=100, interval="1s", tmp=tmp, tag=f"100-{tls}") as (proc, base):
        time.sleep(3)  # the first probes are spread over the first second
        recs: dict[int, list[Probe]] = {d: [] for d in DELAYS}
        last: dict[int, float | None] = dict.fromkeys(DELAYS)
        first = True
        while any(len(r) < count for r in recs.values()):
            check_deadline()
            got = samples(get(base + "/metrics").decode(), names)
            for i, d in enumerate(DELAYS):
                mine = [(n, lab, v) for n, lab, v in got if lab.get("target") == f"t{i}"]
                run_at = next(v for n, _, v in mine if n.endswith("last_run_timestamp_seconds"))
                if run_at == last[d]:
                    continue
                last[d] = run_at
                if first:  # may be a sample from before we looked
                    continue
                recs[d].append({
                    "total_s": next(v for n, _, v in mine if n.endswith("probe_duration_seconds")),
                    "phases_s": {lab["phase"]: v for n, lab, v in mine if "phase" in lab},
                    "success": next(v for n, _, v in mine if n.endswith("probe_success")) == 1.0,
                })  # fmt: skip
            first = False
            time.sleep(0.2)
        c0, n0, t0 = cpu_seconds(proc.pid), target.requests(), time.monotonic()
        time.sleep(window)
        c1, n1, t1 = cpu_seconds(proc.pid), target.requests(), time.monotonic()
        hwm = status_mib(proc.pid, "VmHWM")
    return {
        "accuracy": summarize({d: r[:count] for d, r in recs.items()}),
        "cpu_s_per_1000": (c1 - c0) / (n1 - n0) * 1000,
        "probes": n1 - n0,
        "probes_per_s": (n1 - n0) / (t1 - t0),
        "cpu_share": (c1 - c0) / (t1 - t0),
        "peak_rss_mib": hwm,
    }


def lag_histogram(base: str) -> dict[str, float]:
    got = samples(get(base + "/metrics").decode(),
                  {"parichay_scheduler_lag_seconds_bucket"})  # fmt: skip
    return {lab["le"]: v for _, lab, v in got}


def histogram_quantile(q: float, buckets: dict[str, float]) -> float:
    """As PromQL's histogram_quantile: linear within the bucket that holds the rank."""
    bounds = sorted(((float(le), c) for le, c in buckets.items()), key=lambda x: x[0])
    total = bounds[-1][1]
    if total <= 0:
        return float("nan")
    rank, prev_bound, prev_count = q * total, 0.0, 0.0
    for bound, count in bounds:
        if count >= rank:
            if bound == float("inf"):
                return prev_bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / max(
                count - prev_count, 1e-9
            )
        prev_bound, prev_count = bound, count
    return prev_bound


def run_scale(target: Target, *, n: int, window: float, tmp: Path) -> Any:
    with ours(target, n=n, interval="15s", tmp=tmp, tag=f"scale-{n}") as (proc, base):
        time.sleep(20)  # past the start-up burst (the first slots are spread over 1 s)
        h0 = lag_histogram(base)
        c0, n0, t0 = cpu_seconds(proc.pid), target.requests(), time.monotonic()
        scrape_s: list[float] = []
        gzip_s: list[float] = []
        size = gzip_size = 0
        end = time.monotonic() + window
        while time.monotonic() < end:
            check_deadline()
            s0 = time.perf_counter()
            size = len(get(base + "/metrics"))
            s1 = time.perf_counter()
            gzip_size = len(get(base + "/metrics", accept_encoding="gzip"))
            scrape_s.append(s1 - s0)
            gzip_s.append(time.perf_counter() - s1)
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))
        c1, n1, t1 = cpu_seconds(proc.pid), target.requests(), time.monotonic()
        h1 = lag_histogram(base)
        rss, hwm = status_mib(proc.pid, "VmRSS"), status_mib(proc.pid, "VmHWM")
    lag = {le: h1[le] - h0.get(le, 0.0) for le in h1}
    return {
        "targets": n,
        "probes": n1 - n0,
        "probes_per_s": (n1 - n0) / (t1 - t0),
        "lag_p50_ms": histogram_quantile(0.5, lag) * 1000,
        "lag_p99_ms": histogram_quantile(0.99, lag) * 1000,
        "lag_le_buckets": lag,
        "cpu_share": (c1 - c0) / (t1 - t0),
        "cpu_s_per_1000": (c1 - c0) / max(n1 - n0, 1) * 1000,
        "rss_mib": rss,
        "peak_rss_mib": hwm,
        "metrics_ms_median": median(scrape_s) * 1000,
        "metrics_ms_max": max(scrape_s) * 1000,
        "metrics_bytes": size,
        # As Prometheus asks: Accept-Encoding: gzip (the body's size as sent).
        "metrics_gzip_ms_median": median(gzip_s) * 1000,
        "metrics_gzip_ms_max": max(gzip_s) * 1000,
        "metrics_gzip_bytes": gzip_size,
    }


# ----------------------------------------------------------------------------- curl


def run_curl(target: Target, *, count: int) -> Any:
    fmt = (
        "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total}"
    )
    recs: dict[int, list[Probe]] = {d: [] for d in DELAYS}
    for _ in range(count):
        for d in DELAYS:
            check_deadline()
            out = subprocess.run(
                ["curl", "-sk", "-o", "/dev/null", "--max-time", "10", "-w", fmt, target.url(d)],
                capture_output=True, text=True, timeout=15, check=True,
            ).stdout  # fmt: skip
            nl, conn, app, first, tot = (float(x) for x in out.split())
            recs[d].append({
                "total_s": tot, "success": True,
                "phases_s": {"resolve": nl, "connect": conn - nl,
                             "tls": max(0.0, app - conn) if app else 0.0,
                             "processing": first - max(conn, app), "transfer": tot - first},
            })  # fmt: skip
    return {"accuracy": summarize(recs)}


# ----------------------------------------------------------------------------- report


def fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or x != x else f"{x:.{digits}f}"


def report(res: dict[str, Any], out: Callable[[str], None] = print) -> None:
    if "http" not in res:  # --only scale
        report_scale(res, out)
        return
    cols = [c for c in ("curl", "blackbox", "ours") if c in res["http"]]
    out(f"| figure | {' | '.join(res['versions'].get(c, c) for c in cols)} |")
    out("| --- |" + " --- |" * len(cols))

    def acc(scheme: str, c: str, d: int) -> str:
        return fmt(res[scheme][c]["accuracy"][str(d)]["total_minus_D_ms"]["median"]) + " ms"

    for scheme in ("http", "https"):
        if scheme not in res:
            continue
        for d in DELAYS:
            row = [acc(scheme, c, d) for c in cols]
            out(f"| measured minus injected delay, {scheme.upper()}, D={d} ms, median | "
                + " | ".join(row) + " |")  # fmt: skip
        row = []
        for c in cols:
            ph = res[scheme][c]["accuracy"]["0"]["phase_median_ms"]
            names = PHASES if scheme == "https" else tuple(p for p in PHASES if p != "tls")
            row.append(" / ".join(fmt(ph[p]) for p in names))
        names_txt = (
            "resolve / connect / tls / processing / transfer"
            if scheme == "https"
            else ("resolve / connect / processing / transfer")
        )
        out(f"| phase medians, {scheme.upper()}, D=0 ({names_txt}), ms | " + " | ".join(row) + " |")
    for scheme in ("http", "https"):
        if scheme not in res:
            continue
        row = [fmt(res[scheme][c].get("cpu_s_per_1000")) if c != "curl" else "-" for c in cols]
        out(f"| CPU seconds per 1000 {scheme.upper()} probes | " + " | ".join(row) + " |")
    for scheme in ("http", "https"):
        if scheme not in res:
            continue
        row = [
            fmt(res[scheme][c].get("peak_rss_mib"), 1) + " MiB" if c != "curl" else "-"
            for c in cols
        ]
        out(f"| peak RSS, {scheme.upper()} (ours: 100 targets) | " + " | ".join(row) + " |")
    report_scale(res, out)


def report_scale(res: dict[str, Any], out: Callable[[str], None]) -> None:
    if "scale" in res:
        s = res["scale"]
        out("")
        out(f"Scale: ours, {s['targets']} HTTP targets at a 15 s interval, "
            f"{s['probes_per_s']:.0f} probes/s")  # fmt: skip
        out("")
        out("| figure | value |")
        out("| --- | --- |")
        out(f"| scheduler lag p50 / p99 | {fmt(s['lag_p50_ms'])} / {fmt(s['lag_p99_ms'])} ms |")
        out(f"| CPU share of one core | {s['cpu_share'] * 100:.1f} % |")
        out(f"| CPU seconds per 1000 probes | {fmt(s['cpu_s_per_1000'])} |")
        out(f"| RSS / peak RSS | {fmt(s['rss_mib'], 1)} / {fmt(s['peak_rss_mib'], 1)} MiB |")
        out(f"| /metrics time, median (max) | {fmt(s['metrics_ms_median'], 1)} "
            f"({fmt(s['metrics_ms_max'], 1)}) ms |")  # fmt: skip
        out(f"| /metrics size | {s['metrics_bytes'] / 1e6:.2f} MB |")
        if "metrics_gzip_bytes" in s:
            out(f"| /metrics with gzip: time, median (max); size | "
                f"{fmt(s['metrics_gzip_ms_median'], 1)} ({fmt(s['metrics_gzip_ms_max'], 1)}) ms; "
                f"{s['metrics_gzip_bytes'] / 1e3:.0f} kB |")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--count", type=int, default=30, help="probes per delay (accuracy)")
    ap.add_argument("--cost-count", type=int, default=2000, help="blackbox probes (cost)")
    ap.add_argument("--window", type=float, default=20.0, help="seconds (ours: cost)")
    ap.add_argument("--scale-targets", type=int, default=1000)
    ap.add_argument("--scale-window", type=float, default=45.0)
    ap.add_argument("--no-tls", action="store_true")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument(
        "--only", choices=("scale",), help="run one section alone (scale: about 1.5 minutes)"
    )
    ap.add_argument("--out", type=Path)
    ap.add_argument("--report", type=Path, help="print the tables of an earlier --out file")
    a = ap.parse_args()
    if a.report:
        report(json.loads(a.report.read_text()))
        return
    if a.count > 300 or a.cost_count > 20_000 or a.window > 120 or a.scale_window > 300:
        ap.error("bounded load: count <= 300, cost-count <= 20000, windows <= 120 / 300 s")
    have_blackbox = Path(BLACKBOX).exists()
    if not have_blackbox:
        print(f"{BLACKBOX} missing (apt-get install prometheus-blackbox-exporter): "
              "measuring curl and ours only", file=sys.stderr)  # fmt: skip
    res: dict[str, Any] = {
        "machine": {
            "nproc": os.cpu_count(),
            "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        }
    }
    versions = {"curl": "curl", "ours": "ours"}
    if have_blackbox:
        v = subprocess.run([BLACKBOX, "--version"], capture_output=True, text=True, timeout=10)
        m = re.search(r"version (\S+)", v.stdout + v.stderr)
        versions["blackbox"] = f"blackbox {m.group(1) if m else '?'}"
    res["versions"] = versions
    tmp = Path(tempfile.mkdtemp(prefix="probe-compare-"))
    try:
        if a.only == "scale":
            argv = [sys.executable, str(HERE / "probe_target.py"), "--port", "0"]
            with child(argv, log=tmp / "target-http.log") as tp:
                print(f"[scale] ours, {a.scale_targets} targets ...", file=sys.stderr, flush=True)
                res["scale"] = run_scale(
                    Target(tp), n=a.scale_targets, window=a.scale_window, tmp=tmp
                )
        schemes: tuple[bool, ...] = () if a.only else (False,) if a.no_tls else (False, True)
        for tls in schemes:
            scheme = "https" if tls else "http"
            argv = [sys.executable, str(HERE / "probe_target.py"), "--port", "0"]
            with child(argv + (["--tls"] if tls else []), log=tmp / f"target-{scheme}.log") as tp:
                target = Target(tp)
                res[scheme] = {}
                if have_blackbox:
                    print(f"[{scheme}] blackbox ...", file=sys.stderr, flush=True)
                    res[scheme]["blackbox"] = run_blackbox(
                        target, tls=tls, count=a.count, cost_count=a.cost_count, tmp=tmp
                    )
                print(f"[{scheme}] ours ...", file=sys.stderr, flush=True)
                res[scheme]["ours"] = run_ours(
                    target, tls=tls, count=a.count, window=a.window, tmp=tmp
                )
                print(f"[{scheme}] curl ...", file=sys.stderr, flush=True)
                res[scheme]["curl"] = run_curl(target, count=a.count)
                if not tls and not a.no_scale:
                    print(
                        f"[scale] ours, {a.scale_targets} targets ...", file=sys.stderr, flush=True
                    )
                    res["scale"] = run_scale(
                        target, n=a.scale_targets, window=a.scale_window, tmp=tmp
                    )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(res)
    if a.out:
        a.out.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
