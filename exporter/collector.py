"""Prometheus metrics written at scrape time from the store (the metric contract).

`MetricsRenderer` writes the store's families as exposition text; `Exporter` serves that
text on /metrics followed by `make_runtime_registry()`'s (the scheduler's lag, and
prometheus_client's standard `process_*`, `python_gc_*`, `python_info`, as every
exporter serves them). There is no other path to these metrics: tests parse the same text.
Nothing here is updated by the probes directly, so a target removed by a reload vanishes
from the output at once. Known label values (every phase, every result) are written even
when zero, so `rate()` sees a counter's first increment. Values come from the last
*scheduled* probe: scraping never triggers a probe.
"""

from __future__ import annotations

import operator
import typing
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
)
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString as _untyped_float_to_go

from exporter import __version__
from exporter.config import Target
from exporter.kinds import kind_of
from exporter.result import PHASES
from exporter.store import LATENCY_BUCKETS, RESULTS, Store, TargetState
from servicekit.metrics import register_runtime_collectors

if TYPE_CHECKING:
    from exporter.scheduler import Scheduler

# prometheus_client's number format (Go's), declared here because the library is untyped.
_float_to_go = typing.cast(typing.Callable[[float], str], _untyped_float_to_go)

PREFIX = "parichay_"
_LAST = " (from the last scheduled probe)"
# HELP texts, in the order the families are written (the metric contract: names, labels,
# HELP and TYPE are what dashboards, rules and the status page read).
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


def _esc(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _labels(**labels: str) -> str:
    """Label pairs sorted by name, as prometheus_client writes them."""
    return ",".join(f'{k}="{_esc(v)}"' for k, v in sorted(labels.items()))


_TYPES = {"probe_latency_seconds": "histogram", "probes_total": "counter"}
# The families in the order they are written; all but the last two are per target.
_FAMILIES = tuple(HELP)
_PER_TARGET = _FAMILIES[:-2]
(_SUCCESS, _DURATION, _PHASE, _LATENCY, _TOTAL, _STATUS, _CERT, _STEP, _SUSPENDED, _INFO,
 _UNTIL, _LAST_RUN) = range(len(_PER_TARGET))  # fmt: skip
# Below this, prometheus_client's number format is plain `repr(float(d))` (no exponent).
_PLAIN_BELOW = 1_000_000.0


def float_to_go(d: float) -> str:
    """prometheus_client's `floatToGoString(d)`, the same text for every value, about twice
    as fast for the usual |d| < 1e6 (where it is `repr`); NaN fails both comparisons."""
    d = float(d)
    if -_PLAIN_BELOW < d < _PLAIN_BELOW:
        return repr(d)
    return _float_to_go(d)


def _plain_ints(values: tuple[int, ...]) -> bool:
    """True if `"%d.0" % n` is `float_to_go(n)` for every count: all within +-1e6 (from
    1e6 up Go's format switches to an exponent)."""
    return max(values) < _PLAIN_BELOW and min(values) > -_PLAIN_BELOW


def _lines(name: str, labels: list[str], slot: str) -> str:
    """A %-template of one sample per label string, each value written by `slot`."""
    # Label values come from config (names are validated), but a `%` must stay a `%`.
    return "".join(f"{PREFIX}{name}{{{lb.replace('%', '%%')}}} {slot}\n" for lb in labels)


def _count_templates(target: Target, vantage: str, *, count: str, dur: str) -> tuple[str, str]:
    """The %-templates of a target's latency histogram and its probes_total counters."""
    name, role = target.name, str(target.role)
    trv = _labels(target=name, role=role, vantage=vantage)
    les = [*(repr(b) for b in LATENCY_BUCKETS), "+Inf"]
    buckets = [_labels(target=name, role=role, vantage=vantage, le=le) for le in les]
    results = [_labels(target=name, role=role, vantage=vantage, result=r) for r in RESULTS]
    latency = (
        _lines("probe_latency_seconds_bucket", buckets, count)
        + _lines("probe_latency_seconds_count", [trv], count)
        + _lines("probe_latency_seconds_sum", [trv], dur)
    )
    return latency, _lines("probes_total", results, count)


_counts_of = operator.itemgetter(*RESULTS)


class _Entry:
    """One target's %-templates (built once per target and vantage) and its rendered
    samples per family (redone when the store's version of the target moves).

    Counts and the latency sum, most of the numbers, go into the text by `%d.0` and `%r`
    in C: prometheus_client's format while they are below 1e6 (`_plain_ints`). Past that,
    templates with `%s` take `float_to_go` of each value; they are built on first need
    only (each template set is ~3.5 KB a target).
    """

    __slots__ = ("chunks", "exact", "kind", "latency", "phase", "target", "tkv", "total",
                 "tv", "vantage", "version")  # fmt: skip

    def __init__(self, target: Target, vantage: str) -> None:
        self.target, self.vantage, self.version = target, vantage, -1
        self.kind = kind_of(target)
        name = target.name
        self.tkv = _labels(target=name, role=str(target.role), kind=target.kind, vantage=vantage)
        self.tv = _labels(target=name, vantage=vantage)
        phases = [_labels(target=name, vantage=vantage, phase=p) for p in PHASES]
        self.phase = _lines("probe_phase_duration_seconds", phases, "%s")
        self.latency, self.total = _count_templates(target, vantage, count="%d.0", dur="%r")
        self.exact: tuple[str, str] | None = None
        self.chunks: tuple[bytes, ...] = ()

    def _exact(self) -> tuple[str, str]:
        if self.exact is None:
            self.exact = _count_templates(self.target, self.vantage, count="%s", dur="%s")
        return self.exact

    def render(self, st: TargetState) -> None:
        """Rewrite `chunks` (one bytes per family of `_PER_TARGET`) from `st`."""
        f = float_to_go
        out = [""] * len(_PER_TARGET)
        n = st.latency_count
        ints = (*st.buckets, n, n)
        counts: tuple[int, ...] = _counts_of(st.counts)
        lsum = float(st.latency_sum)
        if _plain_ints(ints) and -_PLAIN_BELOW < lsum < _PLAIN_BELOW:
            out[_LATENCY] = self.latency % (*ints, lsum)
        else:
            out[_LATENCY] = self._exact()[0] % (*map(f, ints), f(lsum))
        if _plain_ints(counts):
            out[_TOTAL] = self.total % counts
        else:
            out[_TOTAL] = self._exact()[1] % tuple(map(f, counts))
        name, v, tv = self.target.name, self.vantage, self.tv
        if self.kind.can_pause:
            out[_SUSPENDED] = (
                f"{PREFIX}login_suspended{{{tv}}} {'1.0' if st.suspended else '0.0'}\n"
            )
            if st.suspension is not None:
                info = _labels(target=name, vantage=v, reason=st.suspension.reason)
                out[_INFO] = f"{PREFIX}login_suspension_info{{{info}}} 1.0\n"
                out[_UNTIL] = (
                    f"{PREFIX}login_suspended_until_timestamp_seconds{{{tv}}} "
                    f"{f(st.suspension.until)}\n"
                )
        r = st.latest
        if r is None:
            self.chunks, self.version = tuple([c.encode() for c in out]), st.version
            return
        tkv = self.tkv
        out[_SUCCESS] = f"{PREFIX}probe_success{{{tkv}}} {'1.0' if r.success else '0.0'}\n"
        out[_DURATION] = f"{PREFIX}probe_duration_seconds{{{tkv}}} {f(r.duration)}\n"
        get = r.phases.get
        out[_PHASE] = self.phase % tuple([f(get(ph, 0.0)) for ph in PHASES])
        if self.kind.has_http_status:
            out[_STATUS] = f"{PREFIX}http_status_code{{{tv}}} {f(r.http_status)}\n"
        if r.cert_not_after is not None:
            out[_CERT] = (
                f"{PREFIX}tls_cert_not_after_timestamp_seconds{{{tv}}} {f(r.cert_not_after)}\n"
            )
        if r.steps:
            out[_STEP] = "".join(
                f"{PREFIX}login_step_duration_seconds"
                f"{{{_labels(target=name, vantage=v, step=sr.name)}}} {f(sr.duration)}\n"
                for sr in r.steps
            )
        out[_LAST_RUN] = f"{PREFIX}probe_last_run_timestamp_seconds{{{tv}}} {f(r.started_at)}\n"
        # Bytes now, so a scrape is one join: no 4 MB str to build and encode each time.
        self.chunks, self.version = tuple([c.encode() for c in out]), st.version


def _header(name: str) -> bytes:
    help_text = HELP[name].replace("\\", r"\\").replace("\n", r"\n")
    typ = _TYPES.get(name, "gauge")
    return f"# HELP {PREFIX}{name} {help_text}\n# TYPE {PREFIX}{name} {typ}\n".encode()


_HEADERS = {name: _header(name) for name in _FAMILIES}


class MetricsRenderer:
    """Writes the store's metric families as Prometheus text: the text that /metrics serves,
    in prometheus_client's exposition format (labels sorted by name, numbers as Go writes
    them), without building its metric objects.

    Each target's samples are kept rendered, per family, as bytes, and redone only when
    the store's `version` of that target moved (a probe result, a pause, a reload), from
    %-templates built once per target. A scrape then joins the families in order: one
    memory copy of the text. Call it on the event loop that writes the store: it reads the
    store without locks, so a half-done `record()` is never seen. `refresh(limit=...)`
    lets a caller spread the re-rendering over several loop iterations:

        while renderer.refresh(limit=200):
            await asyncio.sleep(0)   # let probes run between slices
        body = renderer.render()     # redoes only what changed meanwhile
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._entries: dict[str, _Entry] = {}

    def refresh(self, *, limit: int | None = None) -> bool:
        """Re-render up to `limit` (None: all) changed targets; True if changed ones remain."""
        v = self._store.vantage
        entries = self._entries
        left = -1 if limit is None else limit
        for st in self._store.states():
            e = entries.get(st.target.name)
            if (
                e is not None
                and e.version == st.version
                and e.target is st.target
                and e.vantage == v
            ):
                continue
            if left == 0:
                return True
            left -= 1
            if e is None or e.target is not st.target or e.vantage != v:
                e = entries[st.target.name] = _Entry(st.target, v)
            e.render(st)
        return False

    def render(self) -> bytes:
        """The store's families as Prometheus text (UTF-8)."""
        return b"".join(self.parts())

    def parts(self) -> list[bytes]:
        """The text of `render()` in pieces, for the caller to join: a list of references to
        immutable bytes, so it stays a consistent snapshot while the store moves on, and
        `b"".join` of megabytes can run in a thread (it copies without the GIL)."""
        s = self._store
        self.refresh()
        states = s.states()
        entries = self._entries
        if len(entries) > len(states):  # targets removed by a reload
            live = {st.target.name for st in states}
            for gone in entries.keys() - live:
                del entries[gone]
        rows = [entries[st.target.name].chunks for st in states]
        parts: list[bytes] = []
        for i, name in enumerate(_PER_TARGET):
            parts.append(_HEADERS[name])
            parts.extend([row[i] for row in rows])
        v = s.vantage
        reload_ok = "1.0" if s.reload_ok else "0.0"
        build = _labels(version=__version__, vantage=v)
        parts += (
            _HEADERS["config_last_reload_successful"],
            f"{PREFIX}config_last_reload_successful{{{_labels(vantage=v)}}} {reload_ok}\n".encode(),
            _HEADERS["exporter_build_info"],
            f"{PREFIX}exporter_build_info{{{build}}} 1.0\n".encode(),
        )
        return parts


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


def make_runtime_registry(*, scheduler: Scheduler | None = None) -> CollectorRegistry:
    """The exporter's own metrics without the store's: scheduler lag, process, Python."""
    registry = CollectorRegistry(auto_describe=False)
    if scheduler is not None:
        registry.register(SchedulerCollector(scheduler))
    register_runtime_collectors(registry)
    return registry
