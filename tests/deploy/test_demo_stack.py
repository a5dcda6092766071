"""The compose demo without Docker: deploy/demo_init.py, deploy/simulator_demo.py,
deploy/exporter-demo.yml, deploy/smsbridge-demo.yml and deploy/sms_gateway_standin.py run
here as the containers would run them (loopback instead of service names), plus the
production exporter config the `prod` profile mounts."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pyotp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from exporter import demo
from exporter.app import Exporter
from exporter.config import load_config
from smsbridge import providers
from smsbridge.config import load_config as load_bridge_config
from smsbridge.providers.base import OutgoingSms
from tests.support import reaper
from tests.support.demo import BRIDGE_DEMO, bridge_config_for, run_demo_init
from tests.support.net import free_port
from tests.support.yaml_tree import suffixed

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
EXPORTER_DEMO = DEPLOY / "exporter-demo.yml"
FAKE_SECRET = "Dummy-Value-0123456789abcdef-9a"
FAKE_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"




def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), DEPLOY / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def samples(text: str, name: str) -> dict[str, float]:
    return {
        s.labels["target"]: s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == name
    }


def test_demo_init_generates_every_demo_secret_once(tmp_path: Path) -> None:
    """Random values for every demo secret; a second run keeps them (restarts are stable)."""
    out = run_demo_init(tmp_path)
    names = set(script("demo_init.py").generators())
    assert names <= {p.name for p in tmp_path.iterdir()}
    first = {n: (tmp_path / n).read_text() for n in names}
    assert "Grafana (demo)" in out and first["grafana_admin_password"].strip() in out
    pyotp.TOTP(first["sim_totp_secret"].strip()).now()  # a valid base32 TOTP seed
    run_demo_init(tmp_path)
    assert {n: (tmp_path / n).read_text() for n in names} == first
    other = tmp_path / "other"
    run_demo_init(other)
    assert (other / "smsbridge_token").read_text() != first["smsbridge_token"]


def test_demo_init_split_gives_each_consumer_only_its_files(tmp_path: Path) -> None:
    """--split: one directory per demo volume with exactly its files; the SMS token is the
    same for Alertmanager and the bridge, and a second run changes nothing."""
    subprocess.run(
        [sys.executable, str(DEPLOY / "demo_init.py"), "--split", str(tmp_path)],
        capture_output=True, text=True, timeout=30, check=True,
    )
    consumers = script("demo_init.py").CONSUMERS
    files = {d.name: {f.name for f in d.iterdir()} for d in tmp_path.iterdir()}
    assert files == {c: set(names) for c, names in consumers.items()}
    assert files["grafana"] == {"grafana_admin_password"}
    token = (tmp_path / "smsbridge" / "smsbridge_token").read_text()
    assert (tmp_path / "alertmanager" / "smsbridge_token").read_text() == token
    before = {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    subprocess.run(
        [sys.executable, str(DEPLOY / "demo_init.py"), "--split", str(tmp_path)],
        capture_output=True, text=True, timeout=30, check=True,
    )
    assert {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()} == before


def demo_config_for(
    tmp: Path, *, secrets: Path, sso: int = 8443, app: int = 8444, control: int = 8090
) -> Path:
    """deploy/exporter-demo.yml with the container names and paths mapped to this host."""
    text = EXPORTER_DEMO.read_text(encoding="utf-8")
    for old, new in [
        ("simulator:8443", f"127.0.0.1:{sso}"),
        ("simulator:8444", f"127.0.0.1:{app}"),
        ("host: simulator\n    port: 8090", f"host: 127.0.0.1\n    port: {control}"),
        ("host: simulator", "host: localhost"),
        ("/run/secrets", str(secrets)),
        ("/var/lib/parichay-exporter", str(tmp)),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    assert not re.search(r"(//|host: |\")simulator\b", text), text
    path = tmp / "exporter.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_exporter_config_has_the_builtin_demo_targets(tmp_path: Path) -> None:
    """The compose demo probes what `parichay-exporter demo` probes (same dashboards)."""
    run_demo_init(tmp_path)
    (tmp_path / "simulator-ca.pem").write_text("placeholder\n")
    config = load_config(demo_config_for(tmp_path, secrets=tmp_path))
    rendered = yaml.safe_load(
        demo.render_demo_config(
            sso="https://a:1",
            app="https://b:2",
            control="http://c:3",
            ca="/ca.pem",
            listen="0.0.0.0:10071",
            org="UKSec",
            state_file="/state.json",
        )
    )
    assert {(t.name, t.kind, str(t.role)) for t in config.targets} == {
        (t["name"], t["kind"], t["role"]) for t in rendered["targets"]
    }
    assert config.vantage == rendered["vantage"]


async def test_compose_demo_probes_are_healthy_without_docker(tmp_path: Path) -> None:
    """demo-init + simulator_demo.py + exporter-demo.yml: every target up, login included."""
    secrets = tmp_path / "secrets"
    run_demo_init(secrets)
    sso, app, control = free_port(), free_port(), free_port()
    log = tmp_path / "simulator.log"
    with log.open("wb") as out:
        sim = reaper.popen(
            [
                sys.executable,
                str(DEPLOY / "simulator_demo.py"),
                "--host",
                "127.0.0.1",
                "--secrets",
                str(secrets),
                "--sso-port",
                str(sso),
                "--app-port",
                str(app),
                "--control-port",
                str(control),
            ],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    exporter: Exporter | None = None
    try:
        deadline = time.monotonic() + 15
        while not (secrets / "simulator-ca.pem").exists():
            assert sim.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            await asyncio.sleep(0.1)
        cfg = demo_config_for(tmp_path, secrets=secrets, sso=sso, app=app, control=control)
        config = load_config(cfg)
        exporter = Exporter(config=config, config_path=cfg)
        await exporter.start(listen="127.0.0.1:0")
        wanted = {t.name for t in config.targets}
        async with httpx.AsyncClient(trust_env=False) as client:
            up: dict[str, float] = {}
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                text = (await client.get(f"{exporter.url}/metrics")).text
                up = samples(text, "parichay_probe_success")
                if set(up) == wanted and all(v == 1 for v in up.values()):
                    break
                await asyncio.sleep(0.2)
            status = (await client.get(f"{exporter.url}/status.json")).json()
        assert set(up) == wanted and all(v == 1 for v in up.values()), (up, status)
    finally:
        if exporter is not None:
            await exporter.stop()
        sim.terminate()
        await asyncio.to_thread(sim.wait, 15)
    assert sim.returncode == 0, log.read_text()


def _secret_files(node: Any, tmp: Path) -> None:
    """Point every *_file of a config tree at a dummy file (TOTP seeds get base32)."""
    for mapping, key, value in list(suffixed(node, "_file")):
        dummy = tmp / f"{key}-{abs(hash(value))}"
        dummy.write_text(FAKE_TOTP if "totp" in key else FAKE_SECRET)
        mapping[key] = str(dummy)


def _secret_envs(node: Any) -> dict[str, str]:
    """A dummy value for every environment variable a `*_env` setting names."""
    return {
        value: FAKE_TOTP if "totp" in key else FAKE_SECRET
        for _, key, value in suffixed(node, "_env")
    }


def test_production_exporter_config_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """config/exporter.yml, mounted by the prod profile, loads (secrets replaced by dummies)."""
    data = yaml.safe_load((REPO / "config" / "exporter.yml").read_text(encoding="utf-8"))
    _secret_files(data, tmp_path)
    for name, value in _secret_envs(data).items():
        monkeypatch.setenv(name, value)
    for ref in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", yaml.safe_dump(data)):
        monkeypatch.setenv(ref, FAKE_SECRET)
    path = tmp_path / "exporter.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = load_config(path)
    assert {str(t.role) for t in config.targets} >= {"sso", "app", "control"}


def test_demo_bridge_config_keeps_the_production_templates_and_routes(tmp_path: Path) -> None:
    """The demo SMS bridge sends the registered DLT texts, only through the stand-in."""
    run_demo_init(tmp_path)
    demo_cfg = load_bridge_config(bridge_config_for(tmp_path, BRIDGE_DEMO))
    prod = yaml.safe_load((REPO / "config" / "smsbridge.yml").read_text(encoding="utf-8"))
    raw = yaml.safe_load(BRIDGE_DEMO.read_text(encoding="utf-8"))
    assert raw["templates"] == prod["templates"]
    assert [(r["match"], r["templates"]) for r in raw["routes"]] == [
        (r["match"], r["templates"]) for r in prod["routes"] if r["name"] == "on-call-pages"
    ]
    assert set(demo_cfg.providers) == {"standin"}
    # The bridge reads the same token file Alertmanager sends (credentials_file).
    am = yaml.safe_load((REPO / "alertmanager" / "alertmanager.yml").read_text("utf-8"))
    (sms,) = [r for r in am["receivers"] if r["name"] == "ops-sms"]
    token = sms["webhook_configs"][0]["http_config"]["authorization"]["credentials_file"]
    assert Path(token).name == Path(raw["auth"]["token_file"]).name


async def test_stand_in_gateway_accepts_what_the_demo_bridge_sends(tmp_path: Path) -> None:
    """The bridge's own http provider, configured as in the demo, succeeds on the stand-in,
    which reads the accepted SMS back on GET /messages and refuses a body that is no object."""
    run_demo_init(tmp_path)
    port = free_port()
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        gateway = reaper.popen(
            [sys.executable, str(DEPLOY / "sms_gateway_standin.py"), str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        cfg = load_bridge_config(
            bridge_config_for(tmp_path, BRIDGE_DEMO, url=f"http://127.0.0.1:{port}/send")
        )
        provider = providers.create(name="standin", config=cfg.providers["standin"])
        sms = OutgoingSms(
            message_id=7,
            number="+919000000001",
            text="ITDA ALERT FIRING: Parichay down",
            dlt_template_id="1107160000000000001",
            unicode=False,
        )
        async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
            deadline = time.monotonic() + 10
            while True:
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log.read_text()
                    await asyncio.sleep(0.1)
            before = time.time()
            result = await provider.send(sms, client=client)
            sent = (await client.get(f"http://127.0.0.1:{port}/messages")).json()["messages"]
            refused = await client.post(f"http://127.0.0.1:{port}/send", content=b"[1]")
    finally:
        gateway.terminate()
        await asyncio.to_thread(gateway.wait, 10)
    assert result.ok, result.detail
    assert result.gateway_ref == "demo-1"
    assert "to +919000000001" in log.read_text() and "Parichay down" in log.read_text()
    # GET /messages reads back what was accepted (tools/compose-smoke counts the SMS so).
    (got,) = sent
    assert before <= got.pop("received_at") <= time.time()
    assert got == {
        "id": "demo-1",
        "to": "+919000000001",
        "sender": "ITDAUK",
        "template": "1107160000000000001",
        "text": "ITDA ALERT FIRING: Parichay down",
    }
    assert refused.status_code == 400
