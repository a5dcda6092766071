"""The exporter as a service: /metrics, status page, reload (HTTP and SIGHUP), demo, secrets."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.app import Exporter
from exporter.config import load_config
from simulator import Simulator
from tests.support import reaper
from tests.support.net import free_port

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}




def samples(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name:
                out[frozenset(s.labels.items())] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    for key, v in samples(text, name).items():
        if set(labels.items()) <= set(key):
            return v
    return None


def write_config(path: Path, sim: Simulator, ca: str, *, extra_target: str = "") -> None:
    sso_port = sim.sso_url.rsplit(":", 1)[1]
    path.write_text(f"""
vantage: test-vantage
defaults: {{interval: 1s, timeout: 800ms}}
targets:
  - name: parichay
    role: sso
    kind: http
    url: {sim.sso_url}/pnv1/assets/login?sid=eOfficeUKSec
    expect: {{body_contains: Parichay}}
    tls: {{ca_file: {ca}}}
  - name: eoffice-root
    role: app
    kind: http
    url: {sim.app_url}/
    follow_redirects: false
    expect: {{status: [302], redirect_host: "127.0.0.1:{sso_port}"}}
    tls: {{ca_file: {ca}}}
{extra_target}""")


async def wait_for(check, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


@pytest.fixture
async def running(sim: Simulator, ca_file: str, tmp_path: Path) -> AsyncIterator[Exporter]:
    cfg = tmp_path / "exporter.yml"
    write_config(cfg, sim, ca_file)
    token = tmp_path / "admin-token"
    token.write_text(ADMIN_TOKEN + "\n")
    exp = Exporter(config=load_config(cfg), config_path=cfg, admin_token_file=str(token))
    await exp.start(listen="127.0.0.1:0")
    try:
        yield exp
    finally:
        await exp.stop()


async def wait_for_success(c: httpx.AsyncClient, expected: dict[str, int]) -> None:
    """Until /metrics shows each target's parichay_probe_success at the value given."""

    async def reached() -> bool:
        text = (await c.get("/metrics")).text
        return all(
            value(text, "parichay_probe_success", target=target) == want
            for target, want in expected.items()
        )

    await wait_for(reached)


async def test_metrics_and_status_page_follow_a_parichay_outage(
    running: Exporter, sim: Simulator
) -> None:
    """Probes run on schedule; an SSO outage flips the metric and the bilingual headline, which
    never claims that ITDA was alerted (only the state-wide page can know)."""
    async with httpx.AsyncClient(base_url=running.url) as c:
        await wait_for_success(c, {"parichay": 1, "eoffice-root": 1})
        page = (await c.get("/")).text
        assert "Parichay and e-Office are working normally." in page
        assert "परिचय और ई-ऑफिस सामान्य रूप से काम कर रहे हैं।" in page
        sim.set_fault("sso", "http_503")
        await wait_for_success(c, {"parichay": 0})
        text = (await c.get("/metrics")).text
        assert value(text, "parichay_probes_total", target="parichay", result="http_5xx") >= 1  # type: ignore[operator]
        # The app check stops at the redirect, so e-Office stays up during a Parichay outage.
        assert value(text, "parichay_probe_success", target="eoffice-root") == 1
        page = (await c.get("/")).text
        assert "e-Office login is down because Parichay (NIC, Delhi) is down since" in page
        # The status page's sentence, word for word (servicekit.phrasebook.CENTRAL_DOWN).
        assert "से बंद है, इसलिए ई-ऑफिस में लॉगिन नहीं हो रहा है।" in page
        # The exporter cannot see Alertmanager: it never claims ITDA was told.
        assert "ITDA is checking" in page and "has been alerted" not in page
        status = (await c.get("/status.json")).json()
        assert status["level"] == "down"
        assert {t["target"]: t["reason"] for t in status["targets"]}["parichay"] == "http_5xx"
        assert (await c.get("/healthz")).status_code == 200


async def test_probes_run_on_schedule_not_on_scrape(running: Exporter, sim: Simulator) -> None:
    """Scraping many times in a second does not add probes."""
    async with httpx.AsyncClient(base_url=running.url) as c:
        await wait_for(lambda: _has_run(c))
        sim.reset_stats()
        for _ in range(20):
            await c.get("/metrics")
        hits = sim.stats().get("sso.login_page", 0)
        assert hits <= 2, f"{hits} login-page hits during 20 scrapes"


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        pytest.param("gzip", True, id="prometheus"),
        pytest.param("br, *;q=0.5", True, id="wildcard"),
        pytest.param("identity", False, id="identity"),
        pytest.param("gzip;q=0, identity", False, id="gzip-refused"),
        pytest.param(None, False, id="no-header"),
    ],
)
async def test_metrics_are_gzipped_only_when_the_client_asks(
    running: Exporter, accept_encoding: str | None, gzipped: bool
) -> None:
    """A client that accepts gzip (Prometheus sends `Accept-Encoding: gzip`) gets a gzip body
    that inflates to the metrics text; any other gets the plain text; both `Vary` on it."""
    async with httpx.AsyncClient(base_url=running.url) as c:
        await wait_for(lambda: _has_run(c))

    def fetch() -> tuple[dict[str, str], bytes]:
        # http.client: sends no Accept-Encoding unless given one, never decodes the body.
        assert running.bound is not None
        conn = http.client.HTTPConnection("127.0.0.1", running.bound[1], timeout=10)
        try:
            conn.putrequest("GET", "/metrics", skip_accept_encoding=True)
            if accept_encoding is not None:
                conn.putheader("Accept-Encoding", accept_encoding)
            conn.endheaders()
            resp = conn.getresponse()
            return {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    headers, body = await asyncio.to_thread(fetch)
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-length"] == str(len(body))
    if gzipped:
        assert headers["content-encoding"] == "gzip" and body[:2] == b"\x1f\x8b"
        text = gzip.decompress(body).decode()
        assert len(body) * 5 < len(text)
    else:
        assert "content-encoding" not in headers
        text = body.decode()
    assert value(text, "parichay_probe_success", target="parichay") is not None
    assert value(text, "parichay_scheduler_lag_seconds_count") is not None


async def _has_run(c: httpx.AsyncClient) -> bool:
    text = (await c.get("/metrics")).text
    return all(
        value(text, "parichay_probe_success", target=t) is not None
        for t in ("parichay", "eoffice-root")
    )


async def test_bad_reload_keeps_the_old_config_and_a_good_one_applies(
    running: Exporter, sim: Simulator, ca_file: str
) -> None:
    """POST /-/reload: a bad file is refused with its YAML path and the old targets keep running."""
    assert running.config_path is not None
    async with httpx.AsyncClient(base_url=running.url) as c:
        await wait_for(lambda: _has_run(c))
        good_text = running.config_path.read_text()
        running.config_path.write_text(
            good_text.replace(
                "kind: http\n    url: " + sim.app_url, "kind: http\n    url: ftp://nowhere"
            )
        )
        r = await c.post("/-/reload", headers=ADMIN)
        assert r.status_code == 400
        assert 'targets[1].url: not an http(s) URL: "ftp://nowhere/"' in r.text
        text = (await c.get("/metrics")).text
        assert value(text, "parichay_config_last_reload_successful") == 0
        assert value(text, "parichay_probe_success", target="eoffice-root") is not None
        # A good file: one target removed, one added; the reload flag recovers.
        write_config(
            running.config_path,
            sim,
            ca_file,
            extra_target=("  - {name: local-dns, role: control, kind: dns, host: localhost}\n"),
        )
        cfg = running.config_path.read_text().replace(
            "  - name: parichay\n", "  - name: sso-page\n"
        )
        running.config_path.write_text(cfg)
        r = await c.post("/-/reload", headers=ADMIN)
        assert r.status_code == 200, r.text
        await wait_for_success(c, {"local-dns": 1, "sso-page": 1})
        text = (await c.get("/metrics")).text
        assert value(text, "parichay_probe_success", target="parichay") is None
        assert value(text, "parichay_config_last_reload_successful") == 1
        assert (await c.get("/-/reload")).status_code == 405


def _exporter_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "exporter", *args]


async def test_sighup_reload_and_no_secret_anywhere(
    sim: Simulator, ca_file: str, tmp_path: Path
) -> None:
    """A real `run` process: SIGHUP reloads; the ${ENV} secret never shows in any output."""
    secret = "tok-Zq81-never-print-me"
    pw_file = tmp_path / "pw"
    pw_file.write_text("pw-never-print-me-42\n")
    cfg = tmp_path / "exporter.yml"
    extra = (
        "  - name: with-secrets\n    role: app\n    kind: http\n"
        f"    url: {sim.app_url}/eoffice/?probe=1\n"
        "    headers: {X-Api-Key: '${PARICHAY_TEST_SECRET}'}\n"
        f"    basic_auth: {{username: monitor, password_file: {pw_file}}}\n"
        "    expect: {body_contains: 'not-on-the-page'}\n"
        f"    tls: {{ca_file: {ca_file}}}\n"
    )
    write_config(cfg, sim, ca_file, extra_target=extra)
    port = free_port()
    env = {**os.environ, "PARICHAY_TEST_SECRET": secret}
    log = tmp_path / "exporter.log"
    with log.open("wb") as logf:
        proc = reaper.popen(
            _exporter_cmd(
                "--log-level", "debug", "run", "--config", str(cfg), "--listen", f"127.0.0.1:{port}"
            ),
            env=env,
            stdout=logf,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:

                async def ready() -> bool:
                    try:
                        text = (await c.get("/metrics")).text
                    except httpx.TransportError:
                        return False
                    return value(text, "parichay_probe_success", target="with-secrets") == 0

                await wait_for(ready, 15)
                outputs = [(await c.get(p)).text for p in ("/metrics", "/", "/status.json")]
                cfg.write_text(
                    cfg.read_text() + "  - {name: added-by-hup, role: control, "
                    "kind: dns, host: localhost}\n"
                )
                proc.send_signal(signal.SIGHUP)

                async def reloaded() -> bool:
                    text = (await c.get("/metrics")).text
                    return value(text, "parichay_probe_success", target="added-by-hup") == 1

                await wait_for(reloaded, 10)
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = await asyncio.to_thread(proc.wait, 15)
    # In a thread: the simulator runs on this test's event loop and must keep answering.
    probe_out = await asyncio.to_thread(
        subprocess.run,
        _exporter_cmd("probe", "--config", str(cfg), "with-secrets"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe_out.returncode == 1
    assert "FAILED (content_mismatch)" in probe_out.stdout
    assert rc == 0
    logs = log.read_text()
    assert "state=down reason=content_mismatch" in logs
    everything = "\n".join([*outputs, logs, probe_out.stdout, probe_out.stderr])
    assert secret not in everything
    assert "pw-never-print-me-42" not in everything


def test_demo_serves_metrics_for_the_simulator_within_ten_seconds() -> None:
    """`parichay-exporter demo` prints its URLs, has probe results within 10 s, and prints a
    reload command that works (bearer token from a file; the token itself is never printed)."""
    port = free_port()
    banner, token = "", "token not read"
    proc = reaper.popen(
        _exporter_cmd("demo", "--listen", f"127.0.0.1:{port}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started = time.monotonic()
    try:
        ok = False
        while time.monotonic() - started < 10 and not ok:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            ok = all(
                value(text, "parichay_probe_success", target=t) == 1
                for t in ("parichay-login-page", "eoffice-root", "eoffice-login")
            )
            if not ok:
                time.sleep(0.2)
        assert ok, "no successful probes of the simulator targets within 10 s"
        assert proc.stdout is not None
        banner = ""
        while "Press Ctrl-C" not in banner:
            banner += proc.stdout.readline()
        match = re.search(r"Bearer \$\(cat (\S+)\)", banner)
        assert match is not None, banner
        token = Path(match.group(1)).read_text().strip()
        base = f"http://127.0.0.1:{port}"
        assert httpx.post(f"{base}/-/reload", timeout=5).status_code == 401
        reload = httpx.post(
            f"{base}/-/reload", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert reload.status_code == 200, reload.text
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=15)
    out = banner + rest
    assert token not in out
    assert f"http://127.0.0.1:{port}/metrics" in out
    assert "Traceback" not in out
    # How to reload: the token file's path in a curl command, never the token itself.
    match = re.search(r'curl -X POST -H "Authorization: Bearer \$\(cat (\S+)\)" (\S+)/-/reload', out)
    assert match is not None, out
    assert match.group(2) == f"http://127.0.0.1:{port}"
    assert not Path(match.group(1)).exists(), "the demo's temporary directory is removed"
    assert proc.returncode == 0
