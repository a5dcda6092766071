"""The /metrics endpoint: gzip by `Accept-Encoding`, and targets kept rendered after a scrape."""

from __future__ import annotations

import httpx
import pytest

from exporter.app import PRERENDER_INTERVAL_S, Exporter, accepts_gzip
from exporter.config import load_config_text
from exporter.probes import ProbeContext
from exporter.result import PHASES, ProbeResult
from servicekit.clock import FakeClock


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("gzip", True, id="prometheus"),
        pytest.param("GZIP", True, id="case-insensitive"),
        pytest.param("gzip, deflate, br, zstd", True, id="httpx"),
        pytest.param("deflate, gzip;q=1.0, *;q=0.5", True, id="curl-style-q"),
        pytest.param("x-gzip", True, id="x-gzip"),
        pytest.param("*", True, id="wildcard"),
        pytest.param("", False, id="empty"),
        pytest.param("identity", False, id="identity"),
        pytest.param("br, deflate", False, id="others-only"),
        pytest.param("gzip;q=0", False, id="refused"),
        pytest.param("gzip; q=0.000", False, id="refused-spaced"),
        pytest.param("*;q=1, gzip;q=0", False, id="refused-despite-wildcard"),
        pytest.param("*;q=0", False, id="wildcard-refused"),
        pytest.param("gzip;q=abc", False, id="bad-q"),
        pytest.param("gzipx, xgzip", False, id="not-a-substring-match"),
    ],
)
def test_accepts_gzip(header: str, expected: bool) -> None:
    """gzip is sent only where the header allows it with q > 0, by token, not by substring."""
    assert accepts_gzip(header) is expected


def _result(name: str, at: float) -> ProbeResult:
    return ProbeResult(target=name, success=True, reason=None, duration=0.002, started_at=at,
                       phases=dict.fromkeys(PHASES, 0.0004))  # fmt: skip


async def test_after_a_scrape_changed_targets_are_rendered_in_the_background() -> None:
    """Before any scrape nothing is rendered ahead; once /metrics has been scraped, targets
    changed since are re-rendered within PRERENDER_INTERVAL_S, so the next scrape only joins
    ready text, and that text is current."""
    lines = ["vantage: v", "targets:"] + [
        f"  - {{name: t{i}, role: control, kind: tcp, host: 127.0.0.1, port: 9}}" for i in range(5)
    ]
    clock = FakeClock()
    exp = Exporter(config=load_config_text("\n".join(lines) + "\n"), ctx=ProbeContext(clock=clock))
    await exp.start(listen="127.0.0.1:0")
    try:
        async with httpx.AsyncClient(base_url=exp.url) as c:
            # The store is written by this test alone: no probes (healthz says so).
            exp.scheduler.stop()
            for _ in range(100):
                if (await c.get("/healthz")).status_code == 503:
                    break
            assert (await c.get("/healthz")).status_code == 503
            for i in range(5):
                exp.store.record(_result(f"t{i}", clock.now()))
            await clock.advance(PRERENDER_INTERVAL_S * 2)
            assert exp.renderer.refresh(limit=0) is True  # no scrape yet: nothing ahead
            first = (await c.get("/metrics")).content
            exp.store.record(_result("t3", 1_700_000_123.0))
            assert exp.renderer.refresh(limit=0) is True
            await clock.advance(PRERENDER_INTERVAL_S)
            assert exp.renderer.refresh(limit=0) is False
            second = (await c.get("/metrics")).content
        assert first.count(b"parichay_probe_success{") == 5
        assert second.startswith(exp.renderer.render())
        assert (
            b'parichay_probe_last_run_timestamp_seconds{target="t3",vantage="v"} 1.700000123e+09'
            in second
        )
    finally:
        await exp.stop()
