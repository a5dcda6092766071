"""/metrics is written by a fast renderer; it must say exactly what the collector says."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.collector import MetricsRenderer, StoreCollector, make_runtime_registry
from exporter.config import load_config_text
from exporter.probes import ProbeContext
from exporter.probes.login import Suspension
from exporter.result import PHASES, ProbeResult, Reason, StepResult
from exporter.scheduler import Scheduler
from exporter.store import Store

CFG = """
vantage: secretariat-dehradun
targets:
  - {name: parichay, role: sso, kind: http, url: "https://parichay.nic.in/"}
  - {name: resolver, role: control, kind: dns, host: parichay.nic.in}
  - {name: never-ran, role: control, kind: tcp, host: 127.0.0.1, port: 1}
  - name: login
    role: sso
    kind: login
    credentials: {username_env: T_USER, password_env: T_PW, totp_secret_env: T_TOTP}
    steps:
      - {name: open, url: "https://sso.example/login"}
      - {name: otp, url: "https://sso.example/otp"}
"""


@pytest.fixture(autouse=True)
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_USER", "monitor@uk.gov.in")
    monkeypatch.setenv("T_PW", "a-long-enough-bench-password")
    monkeypatch.setenv("T_TOTP", "JBSWY3DPEHPK3PXP")


def _result(target: str, *, reason: Reason | None, duration: float, **kw: object) -> ProbeResult:
    phases = dict.fromkeys(PHASES, duration / len(PHASES))
    return ProbeResult(
        target=target, success=reason is None, reason=reason, duration=duration,
        started_at=1_700_000_000.123, phases=phases, **kw,  # type: ignore[arg-type]
    )


def _store() -> Store:
    cfg = load_config_text(CFG)
    store = Store(vantage=cfg.vantage)
    store.set_targets(cfg.targets)
    store.record(_result("parichay", reason=None, duration=0.0123, http_status=200,
                         cert_not_after=2e9))
    store.record(_result("parichay", reason=Reason.HTTP_5XX, duration=31.5, http_status=503))
    store.record(_result("resolver", reason=Reason.DNS_ERROR, duration=1e-7))
    steps = (StepResult(name="open", duration=0.2, success=True, http_status=200),
             StepResult(name='o"tp\\x', duration=0.3, success=False, http_status=401))
    store.record(_result("login", reason=Reason.OTP_REJECTED, duration=0.5, steps=steps,
                         failed_step="otp", http_status=401))
    store.set_suspension(
        "login", Suspension(reason="otp_rejected", since=1_700_000_000.0, until=1_700_003_600.5)
    )
    return store


def _collector_text(store: Store) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return generate_latest(registry).decode()


def test_fast_renderer_writes_exactly_what_the_collector_writes() -> None:
    """Byte for byte,  a suspended login with steps, a target
    that never ran, a step name with quotes and backslashes, odd float values; and again after more probes and a reload."""
    store = _store()
    renderer = MetricsRenderer(store)
    assert renderer.render() == _collector_text(store)
    store.record(_result("never-ran", reason=Reason.CONNECT_REFUSED, duration=0.001))
    cfg = load_config_text(CFG.replace("role: sso, kind: http", "role: app, kind: http"))
    store.set_targets(cfg.targets[:2])  # a reload: parichay changes role, two targets go
    text = renderer.render()
    assert text == _collector_text(store)
    assert 'role="app",target="parichay"' in text
    assert "never-ran" not in text and 'target="login"' not in text


def test_metrics_text_parses_and_carries_the_scheduler_lag() -> None:
    """The runtime part of /metrics has the scheduler lag histogram, its buckets cumulative."""
    store = _store()
    scheduler = Scheduler(store=store, ctx=ProbeContext(), max_concurrency=4)
    for lag in (0.0002, 0.003, 0.04, 7.0):
        scheduler._record_lag(lag)
    text = MetricsRenderer(store).render() + generate_latest(
        make_runtime_registry(scheduler=scheduler)
    ).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    lag = {
        (s.name, s.labels.get("le")): s.value
        for s in families["parichay_scheduler_lag_seconds"].samples
    }
    assert lag[("parichay_scheduler_lag_seconds_bucket", "0.0005")] == 1
    assert lag[("parichay_scheduler_lag_seconds_bucket", "0.005")] == 2
    assert lag[("parichay_scheduler_lag_seconds_bucket", "0.05")] == 3
    assert lag[("parichay_scheduler_lag_seconds_bucket", "+Inf")] == 4
    assert lag[("parichay_scheduler_lag_seconds_count", None)] == 4
    assert lag[("parichay_scheduler_lag_seconds_sum", None)] == pytest.approx(7.0432)
    assert "parichay_probe_success" in families and "process_cpu_seconds" in families


def test_rendering_a_thousand_targets_is_fast() -> None:
    """A scrape of 1000 targets stays far below Prometheus' timeout (generous for CI load)."""
    lines = ["vantage: v", "targets:"] + [
        f'  - {{name: t{i}, role: control, kind: http, url: "http://127.0.0.1:9/{i}"}}'
        for i in range(1000)
    ]
    cfg = load_config_text("\n".join(lines) + "\n")
    store = Store(vantage=cfg.vantage)
    store.set_targets(cfg.targets)
    for t in cfg.targets:
        store.record(_result(t.name, reason=None, duration=0.001, http_status=200))
    renderer = MetricsRenderer(store)
    renderer.render()
    t0 = time.perf_counter()
    text = renderer.render()
    assert time.perf_counter() - t0 < 0.5
    assert text.count("parichay_probe_success{") == 1000
