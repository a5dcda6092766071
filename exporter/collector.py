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

from collections.abc import Iterator

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

from exporter import __version__
from exporter.kinds import kind_of
from exporter.result import PHASES
from exporter.store import LATENCY_BUCKETS, Store

PREFIX = "parichay_"
_LAST = " (from the last scheduled probe)"


class StoreCollector(Collector):
    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        s = self._store
        v = s.vantage
        tl = ["target", "role", "kind", "vantage"]
        success = GaugeMetricFamily(
            f"{PREFIX}probe_success", "1 if the probe passed, else 0" + _LAST, labels=tl
        )
        duration = GaugeMetricFamily(
            f"{PREFIX}probe_duration_seconds", "End-to-end probe duration" + _LAST, labels=tl
        )
        phase = GaugeMetricFamily(
            f"{PREFIX}probe_phase_duration_seconds",
            "Time spent in each phase: resolve, connect, tls, processing, transfer" + _LAST,
            labels=["target", "vantage", "phase"],
        )
        latency = HistogramMetricFamily(
            f"{PREFIX}probe_latency_seconds",
            "Distribution of probe durations, all probes",
            labels=["target", "role", "vantage"],
        )
        total = CounterMetricFamily(
            f"{PREFIX}probes_total",
            "Probes run, by result: success or the failure reason",
            labels=["target", "role", "vantage", "result"],
        )
        status = GaugeMetricFamily(
            f"{PREFIX}http_status_code",
            "HTTP status, 0 when none" + _LAST,
            labels=["target", "vantage"],
        )
        cert = GaugeMetricFamily(
            f"{PREFIX}tls_cert_not_after_timestamp_seconds",
            "Expiry of the leaf TLS certificate" + _LAST,
            labels=["target", "vantage"],
        )
        step = GaugeMetricFamily(
            f"{PREFIX}login_step_duration_seconds",
            "Duration of each named step of the synthetic login" + _LAST,
            labels=["target", "vantage", "step"],
        )
        suspended = GaugeMetricFamily(
            f"{PREFIX}login_suspended",
            "1 while synthetic logins are paused to protect the monitoring account",
            labels=["target", "vantage"],
        )
        suspension_info = GaugeMetricFamily(
            f"{PREFIX}login_suspension_info",
            "1 while logins are paused, with the rejection that paused them "
            "(reason: login_rejected or otp_rejected)",
            labels=["target", "vantage", "reason"],
        )
        suspended_until = GaugeMetricFamily(
            f"{PREFIX}login_suspended_until_timestamp_seconds",
            "When a paused login target may try again by itself (present while paused)",
            labels=["target", "vantage"],
        )
        last_run = GaugeMetricFamily(
            f"{PREFIX}probe_last_run_timestamp_seconds",
            "Wall-clock start of the last scheduled probe",
            labels=["target", "vantage"],
        )
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
        reload_ok = GaugeMetricFamily(
            f"{PREFIX}config_last_reload_successful",
            "0 after a rejected config reload (the previous config keeps running)",
            labels=["vantage"],
        )
        reload_ok.add_metric([v], 1.0 if s.reload_ok else 0.0)
        build = GaugeMetricFamily(
            f"{PREFIX}exporter_build_info",
            "Always 1; the version in a label",
            labels=["version", "vantage"],
        )
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


def make_registry(store: Store) -> CollectorRegistry:
    """A private registry with this store's collector and the standard process and Python
    collectors (nothing goes on prometheus_client's global registry)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    register_runtime_collectors(registry)
    return registry


def register_runtime_collectors(registry: CollectorRegistry) -> None:
    """Add `process_*` (CPU, memory, open files, start time), `python_info` and
    `python_gc_*` to `registry`; the SMS bridge does the same (smsbridge/metrics.py)."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
