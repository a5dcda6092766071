"""Every panel query of the committed dashboards, run against a real Prometheus that scrapes
a real exporter probing the simulator (the healthy demo) with the repository's rule files:
each query parses, and no panel would show "No data".

Template variables are resolved the way Grafana does: `label_values()` queries run
against the same Prometheus, "All" becomes the variable's allValue or the alternation of
every value; panels in a repeated row (or repeated themselves) are also checked once per
value, where an empty result is allowed only if the panel declares its own noValue text
(e.g. "No SLO (control target)"). The 5-minute interval of the SLO report group is
dropped, so its rules evaluate every second like the others.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import yaml

from exporter import demo
from exporter.app import Exporter
from exporter.config import load_config
from exporter.kinds import KINDS
from simulator import Simulator
from tests.support.net import free_port
from tests.support.stack import Prometheus

REPO = Path(__file__).resolve().parents[2]
DASH_DIR = REPO / "grafana" / "dashboards"
PROMETHEUS_YML = REPO / "prometheus" / "prometheus.yml"
RULES_DIR = REPO / "prometheus" / "rules"
# docker-compose service addresses in prometheus.yml that the test replaces.
EXPORTER_ADDR = "exporter:10071"
PROMETHEUS_ADDR = "localhost:9090"
DATA_DEADLINE_S = 40.0
# What Grafana would put in for its built-in variables.
BUILTINS = {"${__range}": "1h", "$__range": "1h", "$__rate_interval": "1m", "$__interval": "2s"}
# Panels allowed to return nothing in the healthy demo, with the reason. Keep it empty
# unless a panel really has no way to show a value.
MAY_BE_EMPTY: dict[tuple[str, int], str] = {}

pytestmark = [pytest.mark.e2e, pytest.mark.binaries]


def healthy_demo_config(
    sim: Simulator, *, ca: str, listen: str, tmp_path: Path
) -> tuple[str, dict[str, str]]:
    """The demo's own config (exporter.demo), probing every 1 s; logins keep their interval.

    A login target is included exactly when the demo has one and the exporter knows the
    `login` kind, so the login dashboard is checked as soon as both exist.
    """
    kwargs: dict[str, str] = dict(
        sso=sim.sso_url, app=sim.app_url, control=sim.control_url, ca=ca, listen=listen, org=sim.org
    )
    if "state_file" in inspect.signature(demo.render_demo_config).parameters:
        kwargs["state_file"] = str(tmp_path / "login-state.json")
    data = yaml.safe_load(demo.render_demo_config(**kwargs))
    env_of = getattr(demo, "demo_environment", None)
    env: dict[str, str] = env_of(sim) if env_of is not None else {}
    data["defaults"] = {"interval": "1s", "timeout": "800ms"}
    targets = []
    for t in data["targets"]:
        if t["kind"] not in KINDS:
            continue
        if t["kind"] != "login":  # a login must not run more than once a minute
            t.pop("interval", None)
            t.pop("timeout", None)
        targets.append(t)
    data["targets"] = targets
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True), env


def prometheus_config(tmp: Path, *, prom_port: int, exporter_port: int) -> Path:
    """prometheus.yml of the repo, 1 s intervals, loopback targets, the repo's rules."""
    cfg = yaml.safe_load(PROMETHEUS_YML.read_text(encoding="utf-8"))
    cfg["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="1s")
    cfg.pop("alerting", None)
    rules = tmp / "rules"
    rules.mkdir()
    for path in sorted(RULES_DIR.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in doc["groups"]:
            group.pop("interval", None)  # the 5 m report group would not run in time
        (rules / path.name).write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    cfg["rule_files"] = [str(rules / "*.yml")]
    jobs = []
    for job in cfg["scrape_configs"]:
        addrs = [a for sc in job.get("static_configs", []) for a in sc["targets"]]
        if EXPORTER_ADDR in addrs:
            job["static_configs"] = [{"targets": [f"127.0.0.1:{exporter_port}"]}]
        elif PROMETHEUS_ADDR in addrs:
            job["static_configs"] = [{"targets": [f"127.0.0.1:{prom_port}"]}]
        else:
            continue  # SMS bridge, Alertmanager: not part of this test
        jobs.append(job)
    assert any(f"127.0.0.1:{exporter_port}" in str(j) for j in jobs), (
        f"no scrape job for {EXPORTER_ADDR} in {PROMETHEUS_YML}"
    )
    cfg["scrape_configs"] = jobs
    out = tmp / "prometheus.yml"
    out.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return out


@dataclass
class Stack:
    prom_url: str
    prom_log: Path
    exporter_url: str
    login_targets: list[str]
    sim: Simulator = field(repr=False)
    client: httpx.AsyncClient = field(repr=False)

    async def query(self, expr: str, *, instant: bool) -> dict[str, Any]:
        now = time.time()
        if instant:
            r = await self.client.post(
                f"{self.prom_url}/api/v1/query", data={"query": expr, "time": now}
            )
        else:
            r = await self.client.post(
                f"{self.prom_url}/api/v1/query_range",
                data={"query": expr, "start": now - 60, "end": now, "step": 2},
            )
        body: dict[str, Any] = r.json()
        return body


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("dashboards-e2e")
    sim = Simulator(tls=True)
    await sim.start()
    mp = pytest.MonkeyPatch()
    prometheus: Prometheus | None = None
    exporter: Exporter | None = None
    prom_log = tmp / "prometheus.log"
    try:
        sim.write_ca(tmp / "ca.pem")
        exporter_port, prom_port = free_port(), free_port()
        text, env = healthy_demo_config(
            sim, ca=str(tmp / "ca.pem"), listen=f"127.0.0.1:{exporter_port}", tmp_path=tmp
        )
        for k, v in env.items():
            mp.setenv(k, v)
        cfg_path = tmp / "exporter.yml"
        cfg_path.write_text(text, encoding="utf-8")
        config = load_config(cfg_path)
        logins = [t.name for t in config.targets if t.kind == "login"]
        prom_cfg = prometheus_config(tmp, prom_port=prom_port, exporter_port=exporter_port)
        prometheus = Prometheus(config=prom_cfg, data=tmp / "tsdb", port=prom_port, log=prom_log)
        prometheus.spawn()
        exporter = Exporter(config=config, config_path=cfg_path)
        await exporter.start(listen=f"127.0.0.1:{exporter_port}")
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            await prometheus.wait_ready(within=20)
            yield Stack(
                prom_url=f"http://127.0.0.1:{prom_port}",
                prom_log=prom_log,
                exporter_url=exporter.url,
                login_targets=logins,
                sim=sim,
                client=client,
            )
    finally:
        if exporter is not None:
            await exporter.stop()
        if prometheus is not None:
            await prometheus.stop()
        await sim.stop()
        mp.undo()


def tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:]


# --------------------------------------------------------------------------- Grafana-ish


def grafana_escape(value: str) -> str:
    """How Grafana escapes a multi-value item inside a PromQL regex string."""
    return re.sub(r"[$^*{}\[\]'+?.()|\\]", lambda m: "\\\\" + m.group(0), value)


def substitute(expr: str, values: dict[str, str]) -> str:
    for key, val in BUILTINS.items():
        expr = expr.replace(key, val)
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    assert "$" not in expr, f"unresolved variable in {expr}"
    return expr


async def resolve_variables(
    stack: Stack, dash: dict[str, Any]
) -> tuple[dict[str, str], dict[str, list[str]], list[str]]:
    """(substitution for "All", every value per variable, problems)."""
    subs: dict[str, str] = {}
    options: dict[str, list[str]] = {}
    problems = []
    for var in dash["templating"]["list"]:
        if var["type"] == "datasource":
            continue
        query = var["query"] if isinstance(var["query"], str) else var["query"]["query"]
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
        assert m, f"{dash['uid']}: unsupported variable query {query}"
        expr = f"count by ({m.group(2)}) ({substitute(m.group(1), subs)})"
        body = await stack.query(expr, instant=True)
        if body.get("status") != "success":
            problems.append(f"{dash['uid']} ${var['name']}: {query}: {body.get('error')}")
            continue
        vals = sorted(r["metric"][m.group(2)] for r in body["data"]["result"])
        options[var["name"]] = vals
        if not vals:
            problems.append(f"{dash['uid']} ${var['name']}: {query} lists no values")
        alternation = "(" + "|".join(grafana_escape(v) for v in vals) + ")"
        subs[var["name"]] = var.get("allValue") or alternation
    return subs, options, problems


def has_value(body: dict[str, Any]) -> bool:
    for series in body["data"]["result"]:
        samples = series.get("values") or [series["value"]]
        if any(not math.isnan(float(v)) for _, v in samples):
            return True
    return False


def panels_with_repeat(dash: dict[str, Any]) -> list[tuple[dict[str, Any], str | None]]:
    """Every panel with the variable it is repeated over (its own or its row's)."""
    out: list[tuple[dict[str, Any], str | None]] = []
    row_repeat: str | None = None
    for p in dash["panels"]:
        if p["type"] == "row":
            row_repeat = p.get("repeat")
            out.extend((c, c.get("repeat") or p.get("repeat")) for c in p.get("panels", []))
            continue
        out.append((p, p.get("repeat") or row_repeat))
    return out


async def check_dashboard(stack: Stack, dash: dict[str, Any]) -> tuple[list[str], int]:
    """(problems, number of queries run)."""
    subs, options, problems = await resolve_variables(stack, dash)
    if problems:
        return problems, 0
    ran = 0
    for panel, repeat in panels_with_repeat(dash):
        where = f"{dash['uid']} panel {panel['id']} {panel['title']!r}"
        no_value = panel.get("fieldConfig", {}).get("defaults", {}).get("noValue")
        for t in panel.get("targets", []):
            if "expr" not in t:
                continue
            instant = bool(t.get("instant"))
            body = await stack.query(substitute(t["expr"], subs), instant=instant)
            ran += 1
            if body.get("status") != "success":
                problems.append(f"{where} {t['refId']}: {body.get('error')}: {t['expr']}")
                continue
            if not has_value(body) and (dash["uid"], panel["id"]) not in MAY_BE_EMPTY:
                problems.append(f"{where} {t['refId']}: no data: {t['expr']}")
                continue
            if repeat is None or len(options.get(repeat, [])) < 2:
                continue
            # Repeated: one copy per value; an empty copy needs a designed noValue text.
            for value in options[repeat]:
                one = {**subs, repeat: grafana_escape(value)}
                body = await stack.query(substitute(t["expr"], one), instant=instant)
                if not body["data"]["result"] and not no_value:
                    problems.append(f"{where} {t['refId']} with ${repeat}={value}: No data")
    return problems, ran


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("key", ["overview", "latency", "login", "monitor"])
async def test_every_panel_returns_data_in_the_healthy_demo(stack: Stack, key: str) -> None:
    """Each panel query parses and returns a value from Prometheus scraping the demo."""
    dash = json.loads((DASH_DIR / f"{key}.json").read_text(encoding="utf-8"))
    if key == "login":
        assert stack.login_targets, "the healthy demo must probe a login target for this dashboard"
    deadline = time.monotonic() + DATA_DEADLINE_S
    while True:
        problems, ran = await check_dashboard(stack, dash)
        if not problems or time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    expected = sum("expr" in t for p, _ in panels_with_repeat(dash) for t in p.get("targets", []))
    assert problems or ran == expected > 0
    if problems:
        log = tail(stack.prom_log)
        metrics = (await stack.client.get(f"{stack.exporter_url}/metrics")).text[-3000:]
        pytest.fail(
            "\n".join(
                [
                    *problems,
                    "--- prometheus log (tail):",
                    log,
                    "--- exporter /metrics (tail):",
                    metrics,
                ]
            )
        )


async def fault_lanes(
    stack: Stack, panel: dict[str, Any], subs: dict[str, str]
) -> dict[str, float]:
    """Lane name (legend) -> value, as the stat panel shows them now."""
    lanes = {}
    for t in panel["targets"]:
        body = await stack.query(substitute(t["expr"], subs), instant=True)
        for series in body["data"]["result"]:
            labels = series["metric"]
            legend = t["legendFormat"]
            for name in re.findall(r"\{\{(\w+)\}\}", legend):
                legend = legend.replace("{{" + name + "}}", labels.get(name, ""))
            lanes[legend] = float(series["value"][1])
    return lanes


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("app", "faulty"),
    [
        pytest.param("sso", "Central: Parichay SSO (NIC)", id="parichay-down"),
        pytest.param("app", "App: e-Office (state)", id="eoffice-down"),
    ],
)
async def test_fault_location_panel_names_the_faulty_side(
    stack: Stack, app: str, faulty: str
) -> None:
    """'Where is the fault now?' turns exactly the failing side to FAULT, then back to OK."""
    dash = json.loads((DASH_DIR / "overview.json").read_text(encoding="utf-8"))
    (panel,) = [p for p in dash["panels"] if p["id"] == 1]
    subs, _, problems = await resolve_variables(stack, dash)
    assert not problems, problems

    async def wait_for(want_faulty: str | None) -> dict[str, float]:
        deadline = time.monotonic() + 20
        while True:
            lanes = await fault_lanes(stack, panel, subs)
            wanted = {name: 0.0 if name == want_faulty else 1.0 for name in lanes}
            if len(lanes) >= 3 and lanes == wanted:
                return lanes
            if time.monotonic() > deadline:
                pytest.fail(f"expected only {want_faulty!r} at fault, panel shows {lanes}")
            await asyncio.sleep(0.5)

    await wait_for(None)
    stack.sim.set_fault(app, "http_503")  # type: ignore[arg-type]
    try:
        lanes = await wait_for(faulty)
        assert any(name.startswith("Local network: ") for name in lanes)
    finally:
        stack.sim.set_fault(app, "ok")  # type: ignore[arg-type]
    await wait_for(None)
