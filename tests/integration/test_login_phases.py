"""A login's phases add up to its duration; the always-run logout is timed apart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from exporter.cli import format_result
from exporter.collector import MetricsRenderer
from exporter.config import load_config_text
from exporter.login_config import LoginTarget
from exporter.probes import ProbeContext, run_probe
from exporter.result import PHASES
from exporter.store import Store
from tests.support.metrics import parse
from tests.support.net import serving

LOGOUT_DELAY = 0.4


@pytest.fixture
async def slow_logout_server() -> AsyncIterator[str]:
    """A tiny login flow over a real socket whose logout takes LOGOUT_DELAY seconds."""

    async def start(request: web.Request) -> web.Response:
        return web.Response(
            text='<form><input type="hidden" name="csrf_token" value="c-1"></form>',
            content_type="text/html",
        )

    async def login(request: web.Request) -> web.Response:
        await request.post()
        return web.json_response({"status": "ok"})

    async def logout(request: web.Request) -> web.Response:
        await asyncio.sleep(LOGOUT_DELAY)
        return web.Response(text="bye")

    app = web.Application()
    app.router.add_get("/start", start)
    app.router.add_post("/login", login)
    app.router.add_get("/logout", logout)
    async with serving(app) as url:
        yield url


def _target(base: str) -> LoginTarget:
    cfg = load_config_text(f"""
vantage: it
targets:
  - name: slow-logout
    role: app
    kind: login
    interval: 1m
    timeout: 5s
    credentials: {{username_env: PH_USER, password_env: PH_PW}}
    steps:
      - name: open
        url: "{base}/start"
        extract: {{csrf: {{form_field: csrf_token}}}}
      - name: password
        method: POST
        url: "{base}/login"
        form: {{u: "{{{{username}}}}", p: "{{{{password}}}}", csrf: "{{{{csrf}}}}"}}
      - name: logout
        url: "{base}/logout"
        always_run: true
""")
    t = cfg.targets[0]
    assert isinstance(t, LoginTarget)
    return t


async def test_phases_add_up_to_the_duration_and_the_logout_is_reported_apart(
    slow_logout_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 0.4 s logout is in its step gauge only; the phases sum to the duration within 1 ms."""
    monkeypatch.setenv("PH_USER", "monitor@uk.gov.in")
    monkeypatch.setenv("PH_PW", "Phase-Pw-12345")
    target = _target(slow_logout_server)
    result = await run_probe(target, ProbeContext())
    assert result.success, result.detail
    assert [s.name for s in result.steps] == ["open", "password", "logout"]
    assert result.duration < LOGOUT_DELAY, result.duration
    assert abs(sum(result.phases.values()) - result.duration) < 0.001
    store = Store(vantage="it")
    store.set_targets((target,))
    store.record(result)
    reg = parse(MetricsRenderer(store).render())
    labels = {"target": "slow-logout", "vantage": "it"}
    duration = reg.value(
        "parichay_probe_duration_seconds", {**labels, "role": "app", "kind": "login"}
    )
    phases = [
        reg.value("parichay_probe_phase_duration_seconds", {**labels, "phase": p})
        for p in PHASES
    ]
    assert duration is not None and all(p is not None for p in phases)
    assert abs(sum(p for p in phases if p is not None) - duration) < 0.001
    logout = reg.value(
        "parichay_login_step_duration_seconds", {**labels, "step": "logout"}
    )
    assert logout is not None and logout >= LOGOUT_DELAY
    measured = sum(s.duration for s in result.steps if not s.cleanup)
    assert measured <= result.duration + 0.001
    text = format_result(result, role="app", kind="login", vantage="it")
    assert "logout" in text and "clean-up, not in duration or phases" in text
