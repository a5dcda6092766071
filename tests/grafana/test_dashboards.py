"""Dashboards as code: committed JSON equals the code's output, shared defaults, datasource
uids match provisioning, panels are complete, and every alert has a panel and a runbook."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from grafana import build, common

REPO = Path(__file__).resolve().parents[2]
DASH_DIR = REPO / "grafana" / "dashboards"
DATASOURCES = REPO / "grafana" / "provisioning" / "datasources" / "datasources.yml"
PROVIDERS = REPO / "grafana" / "provisioning" / "dashboards" / "parichay.yml"
# Panels that legitimately carry no PromQL: layout rows, and Alertmanager's own view.
NON_PROMQL_PANEL_TYPES = {"row", "alertGroups"}


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASH_DIR.glob("*.json"))
    }


def panels(d: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in d["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))  # collapsed rows hold their panels
    return out


def provisioned_datasources() -> list[dict[str, Any]]:
    return list(yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"])


def test_committed_json_is_what_the_code_generates() -> None:
    """`make dashboards` output is committed: no drift, no stale or missing file."""
    assert build.drift() == []


def test_build_check_command_agrees() -> None:
    """`python -m grafana.build --check` exits 0 on the committed tree (the CI-facing form)."""
    proc = subprocess.run(
        [sys.executable, "-m", "grafana.build", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_dashboard_has_the_shared_defaults() -> None:
    """uid, tag, timezone, refresh, variables and the dashboard links come from one place."""
    got = dashboards()
    assert set(got) == set(common.DASHBOARDS)
    for key, d in got.items():
        uid, title = common.DASHBOARDS[key]
        assert (d["uid"], d["title"]) == (uid, title)
        assert d["tags"] == [common.TAG]
        assert d["timezone"] == "Asia/Kolkata"
        assert d["refresh"] == common.REFRESH
        assert d["editable"] is False
        names = [v["name"] for v in d["templating"]["list"]]
        assert names == ["datasource", "vantage", "target"], key
        assert d["links"][0]["type"] == "dashboards"
        assert d["links"][0]["tags"] == [common.TAG]
        assert d["links"][0]["keepTime"] and d["links"][0]["includeVars"]


def test_datasource_uids_match_provisioning() -> None:
    """Every datasource a dashboard names is provisioned with that uid and type."""
    provisioned = {ds["uid"]: ds for ds in provisioned_datasources()}
    prom = provisioned[common.PROMETHEUS_DS_UID]
    assert (prom["type"], prom["name"], prom["isDefault"]) == (
        "prometheus",
        common.PROMETHEUS_DS_NAME,
        True,
    )
    am = provisioned[common.ALERTMANAGER_DS_UID]
    assert (am["type"], am["name"]) == ("alertmanager", common.ALERTMANAGER_DS_NAME)
    for key, d in dashboards().items():
        var = d["templating"]["list"][0]
        assert var["type"] == "datasource" and var["query"] == "prometheus"
        assert var["current"]["value"] == common.PROMETHEUS_DS_UID, key
        refs = [v["datasource"] for v in d["templating"]["list"][1:]]
        for p in panels(d):
            refs.append(p.get("datasource"))
            refs.extend(t.get("datasource") for t in p.get("targets", []))
            if p["type"] == "alertGroups":
                # The Alertmanager panel selects its source by datasource name.
                assert p["options"]["alertmanager"] == am["name"], (key, p["title"])
        for ref in filter(None, refs):
            if ref["uid"] == "${datasource}":
                assert ref["type"] == "prometheus"
            else:
                assert ref["uid"] in provisioned, (key, ref)
                assert provisioned[ref["uid"]]["type"] == ref["type"], (key, ref)


def test_dashboard_provider_loads_the_generated_folder() -> None:
    """The file provider refuses UI edits (the JSON is generated) and reads one folder."""
    providers = yaml.safe_load(PROVIDERS.read_text(encoding="utf-8"))["providers"]
    assert len(providers) == 1
    (p,) = providers
    assert p["type"] == "file" and p["allowUiUpdates"] is False
    assert p["options"]["path"].startswith("/")


def test_panels_are_complete() -> None:
    """Unique ids, a title and description, PromQL with unique refIds, units where numeric."""
    for key, d in dashboards().items():
        ids = [p["id"] for p in panels(d)]
        assert len(ids) == len(set(ids)), (key, ids)
        assert all(isinstance(i, int) and i > 0 for i in ids), (key, ids)
        for p in panels(d):
            where = (key, p["title"])
            assert p["title"].strip(), where
            if p["type"] == "row":
                continue
            assert len(p.get("description", "")) >= 20, where
            assert 0 < p["gridPos"]["w"] <= 24 and p["gridPos"]["h"] > 0, where
            targets = p.get("targets", [])
            if p["type"] in NON_PROMQL_PANEL_TYPES:
                continue
            assert targets, where
            refs = [t["refId"] for t in targets]
            assert len(refs) == len(set(refs)), where
            assert all(t["expr"].strip() for t in targets), where
            if p["type"] == "heatmap":
                assert p["options"]["yAxis"]["unit"] == "s", where
                continue
            if p["type"] == "table" and "Value" in str(p["transformations"]):
                continue  # a table of labels, or its Value column carries the unit
            defaults = p["fieldConfig"]["defaults"]
            # A number without a unit needs a mapping (Up/Down...) or is a plain count.
            assert (
                defaults.get("unit") or defaults.get("mappings") or defaults.get("decimals") == 0
            ), where


def test_up_down_panels_map_values_to_words() -> None:
    """State timelines say Up/Down (or OK/FAULT...), never a bare 1 or 0."""
    for key, d in dashboards().items():
        for p in panels(d):
            if p["type"] == "state-timeline":
                options = p["fieldConfig"]["defaults"]["mappings"][0]["options"]
                assert set(options) == {"0", "1"}, (key, p["title"])
                assert all(o["text"] and o["color"] for o in options.values())


def test_queries_use_the_template_variables() -> None:
    """Per-target/per-vantage queries filter on $target / $vantage."""
    global_panels = {
        ("overview", 1),
        ("overview", 2),
        ("overview", 4),
        ("monitor", 3),
        ("monitor", 8),
    }
    for key, d in dashboards().items():
        for p in panels(d):
            for t in p.get("targets", []):
                if (key, p["id"]) in global_panels:
                    continue
                assert "$vantage" in t["expr"] or "$target" in t["expr"], (key, p["title"])


def _rule_alerts() -> set[str]:
    names = set()
    for path in (REPO / "prometheus" / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            names.update(r["alert"] for r in group["rules"] if "alert" in r)
    return names


def test_every_alert_links_to_a_panel_and_its_runbook() -> None:
    """Each alert of the rules has a panel linking to its runbook; the runbook exists."""
    mapping = common.alert_panels(build.build_models())
    alerts = _rule_alerts()
    assert alerts, "no alerts found in prometheus/rules"
    assert alerts <= set(mapping), sorted(alerts - set(mapping))
    assert set(mapping) <= alerts, sorted(set(mapping) - alerts)
    base = common.runbook_base()
    for d in dashboards().values():
        for p in panels(d):
            for link in p.get("links", []):
                m = re.fullmatch(re.escape(base) + r"/(\w+)\.md", link["url"])
                if m:
                    assert (REPO / "docs" / "runbooks" / f"{m.group(1)}.md").is_file(), link


def test_docs_list_the_alert_panels() -> None:
    """docs/dashboards.md holds the generated alert -> panel table (drift-checked above)."""
    text = (REPO / "docs" / "dashboards.md").read_text(encoding="utf-8")
    for alert in _rule_alerts():
        assert f"| `{alert}` |" in text


@pytest.mark.parametrize("key", sorted(common.DASHBOARDS))
def test_links_between_dashboards_resolve(key: str) -> None:
    """Panel links to other dashboards name a uid that exists."""
    uids = {uid for uid, _ in common.DASHBOARDS.values()}
    for p in panels(dashboards()[key]):
        for link in p.get("links", []):
            if link["url"].startswith("/d/"):
                assert link["url"].split("/")[2] in uids, link


def test_panels_do_not_overlap_and_fit_the_grid() -> None:
    """The layout is a clean 24-column grid: no two panels share a cell."""
    for key, d in dashboards().items():
        taken: dict[tuple[int, int], str] = {}
        for p in panels(d):
            g = p["gridPos"]
            assert g["x"] + g["w"] <= 24, (key, p["title"])
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in taken, (key, p["title"], taken.get((x, y)))
                    taken[(x, y)] = p["title"]


def _exprs() -> list[str]:
    out = []
    for d in dashboards().values():
        out += [v["query"] for v in d["templating"]["list"] if v["type"] == "query"]
        out += [t["expr"] for p in panels(d) for t in p.get("targets", []) if "expr" in t]
    return out


def test_dashboards_use_only_existing_recording_rules() -> None:
    """Every `level:metric:operation` a panel reads is recorded in prometheus/rules."""
    recorded = set()
    for path in (REPO / "prometheus" / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            recorded.update(r["record"] for r in group["rules"] if "record" in r)
    used = {m for e in _exprs() for m in re.findall(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b", e)}
    assert used, "no recording rule used?"
    assert used <= recorded, sorted(used - recorded)


def test_dashboards_use_only_metrics_the_exporter_exposes() -> None:
    """Raw `parichay_*` names in queries are the exporter's metric contract."""
    from exporter.collector import MetricsRenderer
    from exporter.store import Store
    from tests.support.metrics import parse

    exposed = set()
    for family in parse(MetricsRenderer(Store(vantage="v")).render()).families.values():
        exposed.add(family.name)
        if family.type == "histogram":
            exposed.update(family.name + s for s in ("_bucket", "_sum", "_count"))
        if family.type == "counter":
            exposed.add(family.name + "_total")
    used = {m for e in _exprs() for m in re.findall(r"(?<![:\w])parichay_[a-z_]+(?![:\w])", e)}
    assert used, "no raw metric used?"
    assert used <= exposed, sorted(used - exposed)


def _alert_expr(name: str) -> str:
    for path in (REPO / "prometheus" / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == name:
                    return str(rule["expr"])
    raise LookupError(name)


def _steps(key: str, pid: int) -> list[float]:
    (p,) = [p for p in panels(dashboards()[key]) if p["id"] == pid]
    return [s["value"] for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"][1:]]


def test_panel_thresholds_agree_with_the_alert_rules() -> None:
    """Red lines on panels are the alerts' own limits (staleness, cert days, burn rates)."""
    stale = re.search(r"\)\s*>\s*(\d+)", _alert_expr("ProbesStale"))
    assert stale and _steps("monitor", 4) == [float(stale.group(1))]
    days = re.search(r"<\s*(\d+)", _alert_expr("TLSCertificateExpiringSoon"))
    assert days and float(days.group(1)) in _steps("monitor", 1)
    burns = {float(x) for x in re.findall(r"\(([\d.]+) \*", _alert_expr("ParichayErrorBudgetBurn"))}
    assert burns and burns <= set(_steps("overview", 6))
    assert _steps("overview", 13)[-1] == common.slo_objective()
