"""/metrics is written by `MetricsRenderer`: its text is pinned byte for byte for one store
(tests/exporter/golden/store_metrics.txt), its cache must always equal a fresh rendering,
and every number must be written as prometheus_client writes it."""

from __future__ import annotations

import math
import random
import re
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.utils import floatToGoString

from exporter import __version__
from exporter.account import Suspension
from exporter.collector import MetricsRenderer, float_to_go, make_runtime_registry
from exporter.config import load_config_text
from exporter.probes import ProbeContext
from exporter.result import PHASES, ProbeResult, Reason, StepResult
from exporter.scheduler import Scheduler
from exporter.store import Store
from tests.support.metrics import parse

GOLDEN = Path(__file__).parent / "golden" / "store_metrics.txt"

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


_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)\{(?P<labels>.*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(?P<key>[a-z_]+)="(?P<value>(?:[^"\\]|\\.)*)"(?:,|$)')


def _checked(store: Store, text: bytes) -> bytes:
    """`text` after checking it as prometheus_client would have written it: it parses,
    a fresh renderer writes the same (the cache is never stale), every sample's labels are
    sorted by name and every number is `floatToGoString` of itself."""
    assert text == MetricsRenderer(store).render()
    parse(text)
    for line in text.decode().splitlines():
        if line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m is not None, line
        keys = [lb["key"] for lb in _LABEL.finditer(m["labels"])]
        assert keys and keys == sorted(keys), line
        assert floatToGoString(float(m["value"])) == m["value"], line
    return text


def _golden() -> bytes:
    return GOLDEN.read_bytes().replace(b"@VERSION@", __version__.encode())


def test_renderer_writes_the_pinned_text() -> None:
    """Byte for byte (names, labels, HELP, TYPE, number format): a suspended login with
    steps, a target that never ran, a step name with quotes and backslashes, odd float
    values; and after more probes and a reload, a text that still checks out."""
    store = _store()
    renderer = MetricsRenderer(store)
    assert _checked(store, renderer.render()) == _golden()
    store.record(_result("never-ran", reason=Reason.CONNECT_REFUSED, duration=0.001))
    cfg = load_config_text(CFG.replace("role: sso, kind: http", "role: app, kind: http"))
    store.set_targets(cfg.targets[:2])  # a reload: parichay changes role, two targets go
    text = _checked(store, renderer.render())
    assert b'role="app",target="parichay"' in text
    assert b"never-ran" not in text and b'target="login"' not in text


def test_cached_text_follows_every_kind_of_store_write() -> None:
    """Each target's text is cached between scrapes, yet after a probe result, a pause set
    or lifted, a reload (changed role, removed and re-added targets, a new vantage) the
    output is still a fresh rendering's, byte for byte, and unchanged targets are reused."""
    store = _store()
    renderer = MetricsRenderer(store)
    renderer.render()
    assert renderer.refresh() is False  # nothing changed: nothing to re-render
    rejected = Suspension(reason="login_rejected", since=1.7e9, until=1.7e9 + 60)
    other_role = CFG.replace("role: control, kind: dns", "role: app, kind: dns")
    steps: list[tuple[str, Callable[[], None]]] = [
        ("record", lambda: store.record(_result("resolver", reason=None, duration=0.004))),
        ("lift the pause", lambda: store.set_suspension("login", None)),
        ("remove two targets", lambda: store.set_targets(load_config_text(CFG).targets[:2])),
        ("add them back", lambda: store.set_targets(load_config_text(CFG).targets)),
        (
            "change a role and the vantage",
            lambda: store.set_targets(load_config_text(other_role).targets, vantage="dc-2"),
        ),
        ("pause again", lambda: store.set_suspension("login", rejected)),
        ("record again", lambda: store.record(_result("never-ran", reason=None, duration=2.0))),
    ]
    for what, write in steps:
        write()
        assert renderer.render() == MetricsRenderer(store).render(), what
        _checked(store, renderer.render())
    text = renderer.render()
    assert b'role="app",target="resolver",vantage="dc-2"' in text
    assert b'reason="login_rejected",target="login",vantage="dc-2"' in text
    # The same pause again is no write: the cached text stays valid.
    store.set_suspension(
        "login", Suspension(reason="login_rejected", since=1.7e9, until=1.7e9 + 60)
    )
    assert renderer.refresh() is False
    _checked(store, renderer.render())


def test_refresh_in_slices_then_render_equals_a_fresh_rendering() -> None:
    """`refresh(limit=n)` re-renders at most n changed targets and says whether more are
    left; a target changed between slices is still current in the final text."""
    store = _store()
    renderer = MetricsRenderer(store)
    renderer.render()
    for name in ("parichay", "resolver", "never-ran"):
        store.record(_result(name, reason=None, duration=0.003))
    assert renderer.refresh(limit=1) is True
    assert renderer.refresh(limit=1) is True
    store.record(_result("parichay", reason=Reason.TIMEOUT, duration=5.0))  # between slices
    assert renderer.refresh(limit=1) is True  # never-ran, then parichay again
    assert renderer.refresh(limit=1) is False
    _checked(store, renderer.render())


def _odd_floats() -> list[float]:
    """Values where the number format has edge cases, plus random bit patterns."""
    rng = random.Random(20261130)
    edges = [0.0, -0.0, 1.0, -1.0, 0.1, 1e-7, 5e-324, 2.2250738585072014e-308, 1e6,
             -1e6, 999_999.9999999999, 1e6 - 1e-10, 1_000_000.5, 1_234_567.0, 1e15,
             9.999999999999999e15, 1e16, 1.7976931348623157e308, -1.7976931348623157e308,
             1_700_000_000.123, 2e9, 12345678.9, math.inf, -math.inf, math.nan,
             0.30000000000000004, 123456.789, -123456.789, 2**53, 2**53 + 1.0]  # fmt: skip
    rnd = [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(3000)]
    scaled = [rng.uniform(-2e6, 2e6) for _ in range(3000)]
    small = [rng.expovariate(100.0) for _ in range(3000)]
    return edges + rnd + scaled + small


_ODD_INTS = [0, 1, 7, 999_999, 1_000_000, 1_000_001, 12_345_678, 2**53 + 1, 10**20, -5,
             -1_000_000, True]  # fmt: skip


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(_odd_floats(), id="floats"),
        pytest.param(_ODD_INTS, id="ints"),
    ],
)
def test_float_to_go_is_prometheus_clients_format(values: list[float]) -> None:
    """`float_to_go` writes every value as `floatToGoString` does: NaN, both infinities,
    negative zero, subnormals, the switch to an exponent at 1e6, huge ints."""
    for value in values:
        assert float_to_go(value) == floatToGoString(value), value


def test_counts_and_durations_past_the_fast_format_still_match() -> None:
    """Counts from 1e6 up and NaN, infinite, negative-zero or huge durations leave the
    fast path, and every number is still written as prometheus_client writes it."""
    store = _store()
    renderer = MetricsRenderer(store)
    renderer.render()
    st = store.get("parichay")
    assert st is not None
    # A long-running exporter: counts cross 1e6 (set directly; record() adds one more).
    st.counts["success"] = 1_999_999
    st.buckets[:] = [1_000_000 + i for i in range(len(st.buckets))]
    st.latency_count = 2_500_000
    store.record(_result("parichay", reason=None, duration=0.0123, http_status=200))
    text = _checked(store, renderer.render())
    rl = {"target": "parichay", "role": "sso", "vantage": "secretariat-dehradun"}
    assert b'result="success",role="sso",target="parichay",vantage="secretariat-dehradun"} 2e+06' in text
    assert parse(text).value("parichay_probe_latency_seconds_count", rl) == 2_500_001
    odd = {"resolve": -0.0, "connect": 1.0, "tls": math.nan, "processing": math.inf,
           "transfer": 5e-324}  # fmt: skip
    store.record(ProbeResult(target="resolver", success=False, reason=Reason.TIMEOUT,
                             duration=2e6, started_at=-0.0, phases=odd))  # fmt: skip
    _checked(store, renderer.render())
    # A NaN after smaller values, which `max` alone would not notice.
    store.record(ProbeResult(target="never-ran", success=True, reason=None,
                             duration=math.nan, started_at=math.inf,
                             phases={**dict.fromkeys(PHASES, 1e-7), "tls": math.nan}))  # fmt: skip
    _checked(store, renderer.render())
    assert b"NaN" in renderer.render() and b"+Inf" in renderer.render()


def test_metrics_text_parses_and_carries_the_scheduler_lag() -> None:
    """The runtime part of /metrics has the scheduler lag histogram, its buckets cumulative."""
    store = _store()
    scheduler = Scheduler(store=store, ctx=ProbeContext(), max_concurrency=4)
    for lag in (0.0002, 0.003, 0.04, 7.0):
        scheduler._record_lag(lag)
    text = MetricsRenderer(store).render() + generate_latest(
        make_runtime_registry(scheduler=scheduler)
    )
    families = parse(text).families
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
    assert text.count(b"parichay_probe_success{") == 1000
