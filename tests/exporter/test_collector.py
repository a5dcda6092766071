"""The metric contract as /metrics serves it, parsed back with prometheus_client's parser."""

from __future__ import annotations

from exporter.app import Exporter
from exporter.collector import HELP, PREFIX, MetricsRenderer
from exporter.config import load_config_text
from exporter.result import PHASES, ProbeResult, Reason
from exporter.store import Store
from tests.support.metrics import Metrics, parse

CFG = """
vantage: secretariat-dehradun
targets:
  - {name: parichay, role: sso, kind: http, url: "https://parichay.nic.in/"}
  - {name: resolver, role: control, kind: dns, host: parichay.nic.in}
"""


def _result(target: str, ok: bool, duration: float, started: float = 1000.0) -> ProbeResult:
    phases = dict.fromkeys(PHASES, 0.0)
    phases["processing"] = duration
    return ProbeResult(
        target=target,
        success=ok,
        reason=None if ok else Reason.HTTP_5XX,
        duration=duration,
        started_at=started,
        phases=phases,
        http_status=200 if ok else 503,
        cert_not_after=2e9,
    )


def _store_and_renderer() -> tuple[Store, MetricsRenderer]:
    """A store holding CFG's targets, and the renderer of /metrics over it."""
    cfg = load_config_text(CFG)
    store = Store(vantage=cfg.vantage)
    store.set_targets(cfg.targets)
    return store, MetricsRenderer(store)


def test_every_contract_metric_is_rendered_with_its_labels() -> None:
    """Success, durations, phases, counters, histogram, status, cert, last run, meta."""
    store, renderer = _store_and_renderer()
    store.record(_result("parichay", True, 0.2))
    store.record(_result("parichay", False, 3.0, started=1030.0))
    reg = parse(renderer.render())
    v = {"vantage": "secretariat-dehradun"}
    t = {"target": "parichay", **v}
    tl = {**t, "role": "sso", "kind": "http"}
    assert reg.value("parichay_probe_success", tl) == 0.0
    assert reg.value("parichay_probe_duration_seconds", tl) == 3.0
    for phase in PHASES:
        assert (
            reg.value("parichay_probe_phase_duration_seconds", {**t, "phase": phase})
            is not None
        )
    rl = {**t, "role": "sso"}
    assert reg.value("parichay_probes_total", {**rl, "result": "success"}) == 1
    assert reg.value("parichay_probes_total", {**rl, "result": "http_5xx"}) == 1
    assert reg.value("parichay_probes_total", {**rl, "result": "dns_error"}) == 0
    assert reg.value("parichay_probe_latency_seconds_bucket", {**rl, "le": "0.25"}) == 1
    assert reg.value("parichay_probe_latency_seconds_bucket", {**rl, "le": "2.5"}) == 1
    assert reg.value("parichay_probe_latency_seconds_bucket", {**rl, "le": "5.0"}) == 2
    assert reg.value("parichay_probe_latency_seconds_bucket", {**rl, "le": "+Inf"}) == 2
    assert reg.value("parichay_probe_latency_seconds_count", rl) == 2
    assert reg.value("parichay_probe_latency_seconds_sum", rl) == 3.2
    assert reg.value("parichay_http_status_code", t) == 503
    assert reg.value("parichay_tls_cert_not_after_timestamp_seconds", t) == 2e9
    assert reg.value("parichay_probe_last_run_timestamp_seconds", t) == 1030.0
    assert reg.value("parichay_config_last_reload_successful", v) == 1
    assert reg.value("parichay_exporter_build_info", {**v, "version": "0.1.0"}) == 1
    # The dns target has not run yet: no success sample, but its counters exist at zero.
    dl = {"target": "resolver", "role": "control", "kind": "dns", **v}
    assert reg.value("parichay_probe_success", dl) is None
    assert (
        reg.value(
            "parichay_probes_total",
            {"target": "resolver", "role": "control", **v, "result": "success"},
        )
        == 0
    )
    # dns targets have no HTTP status series at all.
    assert reg.value("parichay_http_status_code", {"target": "resolver", **v}) is None


def test_a_removed_target_disappears_and_a_kept_one_keeps_its_counters() -> None:
    """After a reload drops a target, its series vanish with no other bookkeeping."""
    store, renderer = _store_and_renderer()
    store.record(_result("parichay", True, 0.1))
    store.record(_result("resolver", True, 0.01))
    renderer.render()
    store.set_targets(load_config_text(CFG).targets[:1])
    reg = parse(renderer.render())
    v = {"vantage": "secretariat-dehradun"}
    assert (
        reg.value(
            "parichay_probe_success", {"target": "resolver", "role": "control", "kind": "dns", **v}
        )
        is None
    )
    assert (
        reg.value(
            "parichay_probes_total", {"target": "parichay", "role": "sso", **v, "result": "success"}
        )
        == 1
    )


def _exporter() -> Exporter:
    return Exporter(config=load_config_text(CFG))


def test_library_code_leaves_the_global_registry_alone() -> None:
    """Making an exporter registers nothing in prometheus_client's default REGISTRY."""
    from prometheus_client import REGISTRY

    def families() -> set[str]:
        return {family.name for family in REGISTRY.collect()}

    before = families()
    _exporter()
    assert families() == before


def test_metrics_serve_process_and_python_metrics_beside_the_contract() -> None:
    """/metrics has process_*, python_gc_* and python_info, the scheduler lag, and the
    contract's families, each with its HELP and TYPE, and nothing else."""
    reg: Metrics = parse(b"".join(_exporter().metrics_parts()))
    cpu = reg.value("process_cpu_seconds_total")
    assert cpu is not None and cpu > 0
    assert reg.value("process_open_fds") is not None
    assert reg.value("process_start_time_seconds") is not None
    assert reg.value("python_gc_objects_collected_total", {"generation": "0"}) is not None
    info = reg.families["python_info"]
    assert info.samples[0].labels["implementation"] == "CPython"
    contract = {f"{PREFIX}{name}" for name in HELP} | {f"{PREFIX}scheduler_lag_seconds"}
    # prometheus_client's parser names a counter family without its `_total`.
    contract = {n.removesuffix("_total") for n in contract}
    assert {n for n in reg.families if n.startswith("parichay_")} == contract
    assert set(reg.families) - contract == {
        n for n in reg.families if n.startswith(("process_", "python_"))
    }
    for name, text in HELP.items():
        family = reg.families[f"{PREFIX}{name}".removesuffix("_total")]
        assert family.documentation == text
        want = {"probe_latency_seconds": "histogram", "probes_total": "counter"}
        assert family.type == want.get(name, "gauge")
