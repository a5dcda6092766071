"""Prometheus metrics rendered at scrape time from the store (the metric contract).

One custom collector reads the `Store` on every scrape: nothing here is updated by the
probes directly, so a target removed by a reload vanishes from the output at once. Known
label values (every phase, every result) are emitted even when zero, so `rate()` sees a
counter's first increment. Values come from the last *scheduled* probe: scraping never
triggers a probe. The exporter's registry also carries prometheus_client's standard
process and Python collectors (`process_*`, `python_gc_*`, `python_info`), as every
exporter serves them.
"""

from __future__ import annotations

import threading
import typing
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString as _untyped_float_to_go

from exporter import __version__
from exporter.config import Target
from exporter.kinds import kind_of
from exporter.result import PHASES
from exporter.store import LATENCY_BUCKETS, RESULTS, Store

if TYPE_CHECKING:
    from exporter.scheduler import Scheduler

# prometheus_client's number format (Go's), declared here because the library is untyped.
_float_to_go = typing.cast(typing.Callable[[float], str], _untyped_float_to_go)

PREFIX = "parichay_"
_LAST = " (from the last scheduled probe)"
# HELP texts, shared by the collector and the fast renderer (same output, byte for byte).
HELP = {
    "probe_success": "1 if the probe passed, else 0" + _LAST,
    "probe_duration_seconds": "End-to-end probe duration" + _LAST,
    "probe_phase_duration_seconds": (
        "Time spent in each phase: resolve, connect, tls, processing, transfer" + _LAST
    ),
    "probe_latency_seconds": "Distribution of probe durations, all probes",
    "probes_total": "Probes run, by result: success or the failure reason",
    "http_status_code": "HTTP status, 0 when none" + _LAST,
    "tls_cert_not_after_timestamp_seconds": "Expiry of the leaf TLS certificate" + _LAST,
    "login_step_duration_seconds": "Duration of each named step of the synthetic login" + _LAST,
    "login_suspended": "1 while synthetic logins are paused to protect the monitoring account",
    "login_suspension_info": (
        "1 while logins are paused, with the rejection that paused them "
        "(reason: login_rejected or otp_rejected)"
    ),
    "login_suspended_until_timestamp_seconds": (
        "When a paused login target may try again by itself (present while paused)"
    ),
    "probe_last_run_timestamp_seconds": "Wall-clock start of the last scheduled probe",
    "config_last_reload_successful": (
        "0 after a rejected config reload (the previous config keeps running)"
    ),
    "exporter_build_info": "Always 1; the version in a label",
}


class StoreCollector(Collector):
    """The store as prometheus_client metric families (for registries and tests; /metrics
    itself is written by `render_store`, which gives the same text much faster)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        s = self._store
        v = s.vantage
        tl = ["target", "role", "kind", "vantage"]
        tv = ["target", "vantage"]

        def gauge(name: str, labels: list[str]) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{PREFIX}{name}", HELP[name], labels=labels)

        success = gauge("probe_success", tl)
        duration = gauge("probe_duration_seconds", tl)
        phase = gauge("probe_phase_duration_seconds", ["target", "vantage", "phase"])
        latency = HistogramMetricFamily(
            f"{PREFIX}probe_latency_seconds",
            HELP["probe_latency_seconds"],
            labels=["target", "role", "vantage"],
        )
        total = CounterMetricFamily(
            f"{PREFIX}probes_total",
            HELP["probes_total"],
            labels=["target", "role", "vantage", "result"],
        )
        status = gauge("http_status_code", tv)
        cert = gauge("tls_cert_not_after_timestamp_seconds", tv)
        step = gauge("login_step_duration_seconds", ["target", "vantage", "step"])
        suspended = gauge("login_suspended", tv)
        suspension_info = gauge("login_suspension_info", ["target", "vantage", "reason"])
        suspended_until = gauge("login_suspended_until_timestamp_seconds", tv)
        last_run = gauge("probe_last_run_timestamp_seconds", tv)
        for st in s.states():
            t = st.target
            role = str(t.role)
            r = st.latest
            # Store buckets are already cumulative (each counts durations <= its bound).
            buckets = [
                (repr(bound), count)
                for bound, count in zip(LATENCY_BUCKETS, st.buckets, strict=True)
            ]
            buckets.append(("+Inf", st.latency_count))
            latency.add_metric([t.name, role, v], buckets, st.latency_sum)
            for result, count in st.counts.items():
                total.add_metric([t.name, role, v, result], count)
            kind = kind_of(t)
            if kind.can_pause:
                suspended.add_metric([t.name, v], 1.0 if st.suspended else 0.0)
                if st.suspension is not None:
                    suspension_info.add_metric([t.name, v, st.suspension.reason], 1.0)
                    suspended_until.add_metric([t.name, v], st.suspension.until)
            if r is None:
                continue
            success.add_metric([t.name, role, t.kind, v], 1.0 if r.success else 0.0)
            duration.add_metric([t.name, role, t.kind, v], r.duration)
            for ph in PHASES:
                phase.add_metric([t.name, v, ph], r.phases.get(ph, 0.0))
            if kind.has_http_status:
                status.add_metric([t.name, v], float(r.http_status))
            if r.cert_not_after is not None:
                cert.add_metric([t.name, v], r.cert_not_after)
            for sr in r.steps:
                step.add_metric([t.name, v, sr.name], sr.duration)
            last_run.add_metric([t.name, v], r.started_at)
        reload_ok = gauge("config_last_reload_successful", ["vantage"])
        reload_ok.add_metric([v], 1.0 if s.reload_ok else 0.0)
        build = gauge("exporter_build_info", ["version", "vantage"])
        build.add_metric([__version__, v], 1.0)
        yield from (
            success,
            duration,
            phase,
            latency,
            total,
            status,
            cert,
            step,
            suspended,
            suspension_info,
            suspended_until,
            last_run,
            reload_ok,
            build,
        )


def _esc(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _labels(**labels: str) -> str:
    """Label pairs sorted by name, as prometheus_client writes them."""
    return ",".join(f'{k}="{_esc(v)}"' for k, v in sorted(labels.items()))


class _Labels:
    """Per-target label strings, built once per target and vantage, not on every scrape."""

    __slots__ = ("buckets", "key", "phases", "results", "tkv", "trv", "tv")

    def __init__(self, target: Target, vantage: str) -> None:
        self.key = (target, vantage)
        name, role = target.name, str(target.role)
        self.tkv = _labels(target=name, role=role, kind=target.kind, vantage=vantage)
        self.tv = _labels(target=name, vantage=vantage)
        self.phases = [_labels(target=name, vantage=vantage, phase=p) for p in PHASES]
        les = [repr(b) for b in LATENCY_BUCKETS] + ["+Inf"]
        self.buckets = [_labels(target=name, role=role, vantage=vantage, le=le) for le in les]
        self.results = {
            r: _labels(target=name, role=role, vantage=vantage, result=r) for r in RESULTS
        }
        # For _count and _sum (no `le`).
        self.trv = _labels(target=name, role=role, vantage=vantage)


class MetricsRenderer:
    """Writes the store's metric families as Prometheus text, byte for byte what
    `generate_latest()` gives for `StoreCollector`, in a fraction of the time: per target the
    label strings are cached and each sample is one f-string (no Sample tuples, no sorting).
    A scrape costs time proportional to the number of targets, never to their history."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[str, _Labels] = {}
        # /metrics renders in a worker thread; two scrapes at once must not share the cache.
        self._lock = threading.Lock()

    def _labels_for(self, target: Target, vantage: str) -> _Labels:
        cached = self._cache.get(target.name)
        if cached is None or cached.key[0] is not target or cached.key[1] != vantage:
            cached = self._cache[target.name] = _Labels(target, vantage)
        return cached

    def render(self) -> str:
        with self._lock:
            return self._render()

    def _render(self) -> str:
        s = self._store
        v = s.vantage
        f = _float_to_go
        out: dict[str, list[str]] = {name: [] for name in HELP}
        success, duration = out["probe_success"], out["probe_duration_seconds"]
        phase, latency = out["probe_phase_duration_seconds"], out["probe_latency_seconds"]
        total, status = out["probes_total"], out["http_status_code"]
        cert, step = out["tls_cert_not_after_timestamp_seconds"], out["login_step_duration_seconds"]
        suspended, info = out["login_suspended"], out["login_suspension_info"]
        until, last_run = (
            out["login_suspended_until_timestamp_seconds"],
            out["probe_last_run_timestamp_seconds"],
        )
        states = s.states()
        live = set()
        for st in states:
            t = st.target
            live.add(t.name)
            lb = self._labels_for(t, v)
            for le, count in zip(lb.buckets, st.buckets, strict=False):
                latency.append(f"{PREFIX}probe_latency_seconds_bucket{{{le}}} {f(count)}\n")
            latency.append(
                f"{PREFIX}probe_latency_seconds_bucket{{{lb.buckets[-1]}}} {f(st.latency_count)}\n"
                f"{PREFIX}probe_latency_seconds_count{{{lb.trv}}} {f(st.latency_count)}\n"
                f"{PREFIX}probe_latency_seconds_sum{{{lb.trv}}} {f(st.latency_sum)}\n"
            )
            for result, count in st.counts.items():
                total.append(f"{PREFIX}probes_total{{{lb.results[result]}}} {f(count)}\n")
            if t.kind == "login":
                suspended.append(
                    f"{PREFIX}login_suspended{{{lb.tv}}} {'1.0' if st.suspended else '0.0'}\n"
                )
                if st.suspension is not None:
                    ri = _labels(target=t.name, vantage=v, reason=st.suspension.reason)
                    info.append(f"{PREFIX}login_suspension_info{{{ri}}} 1.0\n")
                    until.append(
                        f"{PREFIX}login_suspended_until_timestamp_seconds{{{lb.tv}}} "
                        f"{f(st.suspension.until)}\n"
                    )
            r = st.latest
            if r is None:
                continue
            success.append(f"{PREFIX}probe_success{{{lb.tkv}}} {'1.0' if r.success else '0.0'}\n")
            duration.append(f"{PREFIX}probe_duration_seconds{{{lb.tkv}}} {f(r.duration)}\n")
            for pl, ph in zip(lb.phases, PHASES, strict=True):
                phase.append(
                    f"{PREFIX}probe_phase_duration_seconds{{{pl}}} {f(r.phases.get(ph, 0.0))}\n"
                )
            if t.kind in ("http", "login"):
                status.append(f"{PREFIX}http_status_code{{{lb.tv}}} {f(r.http_status)}\n")
            if r.cert_not_after is not None:
                cert.append(
                    f"{PREFIX}tls_cert_not_after_timestamp_seconds{{{lb.tv}}} "
                    f"{f(r.cert_not_after)}\n"
                )
            for sr in r.steps:
                sl = _labels(target=t.name, vantage=v, step=sr.name)
                step.append(f"{PREFIX}login_step_duration_seconds{{{sl}}} {f(sr.duration)}\n")
            last_run.append(
                f"{PREFIX}probe_last_run_timestamp_seconds{{{lb.tv}}} {f(r.started_at)}\n"
            )
        for gone in self._cache.keys() - live:
            del self._cache[gone]
        out["config_last_reload_successful"].append(
            f"{PREFIX}config_last_reload_successful{{{_labels(vantage=v)}}} "
            f"{'1.0' if s.reload_ok else '0.0'}\n"
        )
        out["exporter_build_info"].append(
            f"{PREFIX}exporter_build_info{{{_labels(version=__version__, vantage=v)}}} 1.0\n"
        )
        parts: list[str] = []
        for name, lines in out.items():
            typ = _TYPES.get(name, "gauge")
            help_text = HELP[name].replace("\\", r"\\").replace("\n", r"\n")
            parts.append(f"# HELP {PREFIX}{name} {help_text}\n# TYPE {PREFIX}{name} {typ}\n")
            parts.extend(lines)
        return "".join(parts)


_TYPES = {"probe_latency_seconds": "histogram", "probes_total": "counter"}


class SchedulerCollector(Collector):
    """The exporter's own health: how late probes start against their schedule."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler

    def collect(self) -> Iterator[Metric]:
        from exporter.scheduler import LAG_BUCKETS

        sch = self._scheduler
        lag = HistogramMetricFamily(
            f"{PREFIX}scheduler_lag_seconds",
            "Actual minus planned start of each scheduled probe (event loop or CPU overload)",
            labels=[],
        )
        buckets = [(repr(b), c) for b, c in zip(LAG_BUCKETS, sch.lag_buckets, strict=True)]
        buckets.append(("+Inf", sch.lag_count))
        lag.add_metric([], buckets, sch.lag_sum)
        yield lag


def make_registry(store: Store, *, scheduler: Scheduler | None = None) -> CollectorRegistry:
    """A private registry with this store's collector and the standard process and Python
    collectors (nothing goes on prometheus_client's global registry)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    if scheduler is not None:
        registry.register(SchedulerCollector(scheduler))
    register_runtime_collectors(registry)
    return registry


def make_runtime_registry(*, scheduler: Scheduler | None = None) -> CollectorRegistry:
    """The exporter's own metrics without the store's: scheduler lag, process, Python."""
    registry = CollectorRegistry(auto_describe=False)
    if scheduler is not None:
        registry.register(SchedulerCollector(scheduler))
    register_runtime_collectors(registry)
    return registry


def register_runtime_collectors(registry: CollectorRegistry) -> None:
    """Add `process_*` (CPU, memory, open files, start time), `python_info` and
    `python_gc_*` to `registry`; the SMS bridge does the same (smsbridge/metrics.py)."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
