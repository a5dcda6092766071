"""The exporter's details, `probe` output and logs carry no form of a login secret, even when
the server puts the password, percent-encoded or base64-encoded, into the URL it redirects to."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web

from exporter.app import Exporter
from exporter.config import load_config
from exporter.probes import ProbeContext, run_probe
from tests.support.net import serving

USER = "monitor@uk.gov.in"
# Space, '+', '/', '"' and non-ASCII: every encoder writes this password differently.
PASSWORD = 'Redact me +/"é-Pw-4711'


@pytest.fixture
async def echoing_sso() -> AsyncIterator[str]:
    """After the password post, redirects to a path holding the password in two encodings."""

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        pw = str(form["p"])
        basic = base64.urlsafe_b64encode(f"{USER}:{pw}".encode()).decode()
        location = f"/welcome/{quote(pw, safe='')}/{basic}/done"
        raise web.HTTPFound(location)

    async def welcome(request: web.Request) -> web.Response:
        return web.Response(text="Welcome")

    app = web.Application()
    app.router.add_post("/login", login)
    app.router.add_get("/welcome/{rest:.*}", welcome)
    async with serving(app) as url:
        yield url


def _config(tmp_path: Path, base: str) -> Path:
    (tmp_path / "pw").write_text(PASSWORD + "\n", encoding="utf-8")
    cfg = tmp_path / "exporter.yml"
    cfg.write_text(
        f"""
vantage: redaction-test
targets:
  - name: echo-login
    role: app
    kind: login
    interval: 1m
    timeout: 5s
    credentials: {{username_env: REDACT_USER, password_file: {tmp_path / "pw"}}}
    steps:
      - name: password
        method: POST
        url: "{base}/login"
        form: {{u: "{{{{username}}}}", p: "{{{{password}}}}"}}
        expect: {{final_host: sso.example.gov.in}}
""",
        encoding="utf-8",
    )
    return cfg


def _leaks(text: str) -> list[str]:
    forms = {
        "raw": PASSWORD,
        "percent": quote(PASSWORD, safe=""),
        "base64": base64.urlsafe_b64encode(f"{USER}:{PASSWORD}".encode()).decode().rstrip("="),
        "fragment": "Pw-4711",
        "fragment-b64": base64.b64encode(b"Pw-4711").decode()[:8],
    }
    return [name for name, form in forms.items() if form in text]


async def test_detail_probe_output_and_logs_carry_no_encoded_password(
    echoing_sso: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The failing step's detail names the URL it ended at, with the secret parts redacted."""
    monkeypatch.setenv("REDACT_USER", USER)
    cfg = _config(tmp_path, echoing_sso)
    target = load_config(cfg).target("echo-login")
    assert target is not None
    result = await run_probe(target, ProbeContext())
    assert result.reason == "login_flow_broken"
    assert "ended at http://127.0.0.1:" in result.detail and "/welcome/<secret>" in result.detail
    assert _leaks(result.detail) == [] and _leaks(result.final_url or "") == []

    # The exporter's own loggers; `run` keeps httpx's request logging at WARNING (URLs of a
    # login may carry one-time codes), as the CLI run below shows at --log-level debug.
    caplog.set_level(logging.DEBUG, logger="exporter")
    exp = Exporter(config=load_config(cfg), config_path=cfg)
    await exp.start(listen="127.0.0.1:0")
    try:
        for _ in range(50):
            if "state=down" in caplog.text:
                break
            await asyncio.sleep(0.1)
    finally:
        await exp.stop()
    assert "state=down reason=login_flow_broken step=password" in caplog.text
    assert _leaks(caplog.text) == []

    env = {**os.environ, "REDACT_USER": USER}
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "exporter", "--log-level", "debug", "probe", "--config", str(cfg),
         "echo-login"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 1, out.stderr
    assert "FAILED (login_flow_broken)" in out.stdout and "<secret>" in out.stdout
    assert _leaks(out.stdout + out.stderr) == []
