"""Shared defaults of every dashboard: THE one place for uids, tags, refresh, timezone,
datasources, the `$datasource` / `$vantage` / `$target` variables, links between the
dashboards and to the alert runbooks, and small panel helpers.

A dashboard builder only adds panels; everything a dashboard has in common comes from
`new_dashboard()`. Panels get explicit ids (`pid=`), because runbooks and docs link to
`/d/<uid>/?viewPanel=<id>`; `alert_panels()` lists which panel each alert points to.

Example::

    d = new_dashboard(key="overview", title="Overview", description="...")
    d.with_panel(stat_panel(pid=2, title="Firing alerts", queries=[prom("vector(0)")]))
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Required, TypedDict, Unpack

import yaml
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as pb
from grafana_foundation_sdk.builders import stat, statetimeline, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

REPO = Path(__file__).resolve().parent.parent
PROMETHEUS_YML = REPO / "prometheus" / "prometheus.yml"

# Datasources: fixed uids, provisioned by grafana/provisioning/datasources/datasources.yml
# (a test checks they agree), so dashboards never depend on a Grafana-generated uid.
PROMETHEUS_DS_NAME = "Prometheus"
PROMETHEUS_DS_UID = "parichay-prometheus"
ALERTMANAGER_DS_NAME = "Alertmanager"
ALERTMANAGER_DS_UID = "parichay-alertmanager"

TAG = "parichay"
TIMEZONE = "Asia/Kolkata"
REFRESH = "30s"
TIME_FROM = "now-6h"

# key -> (uid, title); uids are part of every link and runbook URL: never change them.
DASHBOARDS: dict[str, tuple[str, str]] = {
    "overview": ("parichay-overview", "Parichay & e-Office: overview"),
    "latency": ("parichay-latency", "Parichay & e-Office: latency"),
    "login": ("parichay-login", "Parichay & e-Office: synthetic login"),
    "monitor": ("parichay-monitor", "Parichay & e-Office: certificates and the monitor"),
}

# Panels query through the `$datasource` variable (default: the provisioned Prometheus).
PROM = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
ALERTMANAGER = dm.DataSourceRef(type_val="alertmanager", uid=ALERTMANAGER_DS_UID)

# Label matchers for the template variables, used by every query.
VANTAGE = 'vantage=~"$vantage"'
TARGET = 'target=~"$target"'
SEL = f"{TARGET}, {VANTAGE}"

# Colours (Grafana palette names).
GREEN, RED, ORANGE, YELLOW, BLUE, GREY = "green", "red", "orange", "yellow", "blue", "text"


def runbook_base() -> str:
    """The runbook base URL, read from prometheus.yml (its one definition)."""
    data = yaml.safe_load(PROMETHEUS_YML.read_text(encoding="utf-8"))
    return str(data["global"]["external_labels"]["runbook_base"]).rstrip("/")


def runbook_url(alert: str) -> str:
    return f"{runbook_base()}/{alert}.md"


# --------------------------------------------------------------------------- dashboards


def _variables(target_filter: str) -> list[db.QueryVariable | db.DatasourceVariable]:
    datasource = (
        db.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .current(dm.VariableOption(selected=True, text=PROMETHEUS_DS_NAME, value=PROMETHEUS_DS_UID))
        .description("The Prometheus that scrapes the exporters (default: the provisioned one).")
    )
    vantage = (
        db.QueryVariable("vantage")
        .label("Vantage")
        .description("Where the probes run from (one exporter per site).")
        .datasource(PROM)
        .query("label_values(parichay_exporter_build_info, vantage)")
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )
    selector = f"{target_filter}, {VANTAGE}" if target_filter else VANTAGE
    # No custom "all" value: All expands to the listed targets only, so a dashboard whose
    # target list is filtered (e.g. logins) never matches other targets through `.*`.
    target = (
        db.QueryVariable("target")
        .label("Target")
        .description("Probed targets (Parichay, e-Office and control references).")
        .datasource(PROM)
        .query(f"label_values(parichay_probe_success{{{selector}}}, target)")
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        .multi(True)
        .include_all(True)
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )
    return [datasource, vantage, target]


def new_dashboard(*, key: str, description: str, target_filter: str = "") -> db.Dashboard:
    """A dashboard with every shared default applied; `target_filter` narrows `$target`."""
    uid, title = DASHBOARDS[key]
    d = (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .timezone(TIMEZONE)
        .refresh(REFRESH)
        .time(TIME_FROM, "now")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .readonly()
        .week_start("monday")
        .timepicker(db.TimePicker().refresh_intervals(["30s", "1m", "5m", "15m", "1h"]))
        .link(
            db.DashboardLink("Parichay dashboards")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    for var in _variables(target_filter):
        d.with_variable(var)
    return d


def dashboard_url(key: str, *, panel: int | None = None) -> str:
    uid, _ = DASHBOARDS[key]
    return f"/d/{uid}/?viewPanel={panel}" if panel is not None else f"/d/{uid}/"


# --------------------------------------------------------------------------- queries


def prom(
    expr: str, legend: str = "", *, instant: bool = False, fmt: str | None = None, ref: str = "A"
) -> pb.Dataquery:
    """A Prometheus query through `$datasource`; `legend` uses Grafana's {{label}}."""
    q = pb.Dataquery().expr(expr).ref_id(ref).datasource(PROM)
    if legend:
        q.legend_format(legend)
    q.instant() if instant else q.range()
    if fmt is not None:
        q.format(fmt)  # type: ignore[arg-type]
    return q


def _with_refs(queries: Sequence[pb.Dataquery]) -> list[pb.Dataquery]:
    for i, q in enumerate(queries):
        q.ref_id(chr(ord("A") + i))
    return list(queries)


# --------------------------------------------------------------------------- field config


def thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    """Absolute thresholds; the first step's value is None (the base colour)."""
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for v, c in steps])
    )


def value_text(mapping: dict[str, tuple[str, str]]) -> list[dm.ValueMapping]:
    """Value -> (text, colour) mappings, e.g. {"1": ("Up", "green")}."""
    return [
        dm.ValueMap(
            options={
                k: dm.ValueMappingResult(text=t, color=c, index=i)
                for i, (k, (t, c)) in enumerate(mapping.items())
            }
        )
    ]


UP_DOWN = value_text({"1": ("Up", GREEN), "0": ("Down", RED)})
OK_FAULT = value_text({"1": ("OK", GREEN), "0": ("FAULT", RED)})


def runbook_links(alerts: Iterable[str]) -> list[cogbuilder.Builder[dm.DashboardLink]]:
    return [
        db.DashboardLink(f"Runbook: {a}").url(runbook_url(a)).target_blank(True) for a in alerts
    ]


def dashboard_links(keys: Iterable[str]) -> list[cogbuilder.Builder[dm.DashboardLink]]:
    """Panel links to other dashboards, keeping the time range and variables."""
    out: list[cogbuilder.Builder[dm.DashboardLink]] = []
    for key in keys:
        uid, title = DASHBOARDS[key]
        out.append(
            db.DashboardLink(title.split(": ", 1)[-1].capitalize()).url(
                f"/d/{uid}/?${{__url_time_range}}&${{__all_variables}}"
            )
        )
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class PanelLinks:
    """What a panel links to: the runbooks of the alerts it explains, other dashboards."""

    alerts: tuple[str, ...] = ()
    dashboards: tuple[str, ...] = ()


class PanelCommon(TypedDict, total=False):
    """What every panel builder takes: its id, title, help text and queries, its size (the
    default depends on the kind of panel) and its links."""

    pid: Required[int]
    title: Required[str]
    description: Required[str]
    queries: Required[Sequence[pb.Dataquery]]
    w: int
    h: int
    links: PanelLinks | None


def _common(p: Any, size: tuple[int, int], unit: str | None, common: PanelCommon) -> None:
    w, h = common.get("w", size[0]), common.get("h", size[1])
    p.id(common["pid"]).title(common["title"]).description(common["description"])
    p.span(w).height(h).datasource(PROM)
    p.targets(_with_refs(common["queries"]))
    _set_given(p, unit=unit)
    links = common.get("links")
    if links is not None:
        p.links(runbook_links(links.alerts) + dashboard_links(links.dashboards))


def _set_given(p: Any, **options: object) -> None:
    """Set each option that is given on the panel builder (`p.<option>(value)`); an option
    that is None keeps Grafana's default."""
    for name, value in options.items():
        if value is not None:
            getattr(p, name)(value)


def stat_panel(
    *,
    unit: str | None = None,
    steps: db.ThresholdsConfig | None = None,
    mappings: list[dm.ValueMapping] | None = None,
    decimals: int | None = None,
    no_value: str | None = None,
    color_background: bool = True,
    text_mode: cm.BigValueTextMode = cm.BigValueTextMode.AUTO,
    time_from: str | None = None,
    **common: Unpack[PanelCommon],
) -> stat.Panel:
    p = stat.Panel()
    _common(p, (6, 4), unit, common)
    p.reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    p.graph_mode(cm.BigValueGraphMode.NONE)
    p.color_mode(
        cm.BigValueColorMode.BACKGROUND if color_background else cm.BigValueColorMode.VALUE
    )
    p.text_mode(text_mode)
    p.justify_mode(cm.BigValueJustifyMode.AUTO)
    p.orientation(cm.VizOrientation.AUTO)
    p.thresholds(steps or thresholds((None, GREEN)))
    if mappings:
        p.mappings(mappings)
    _set_given(p, decimals=decimals, no_value=no_value, time_from=time_from)
    return p


def state_timeline_panel(
    *,
    mappings: list[dm.ValueMapping],
    steps: db.ThresholdsConfig | None = None,
    no_value: str | None = None,
    **common: Unpack[PanelCommon],
) -> statetimeline.Panel:
    p = statetimeline.Panel()
    _common(p, (24, 6), None, common)
    p.mappings(mappings)
    p.thresholds(steps or thresholds((None, RED), (1, GREEN)))
    p.color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
    p.show_value(cm.VisibilityMode.NEVER)
    p.merge_values(True)
    p.row_height(0.9)
    p.fill_opacity(80)
    p.line_width(0)
    p.align_value(cm.TimelineValueAlignment.LEFT)
    p.legend(
        cb.VizLegendOptions()
        .show_legend(False)
        .display_mode(cm.LegendDisplayMode.LIST)
        .placement(cm.LegendPlacement.BOTTOM)
    )
    p.tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.SINGLE).sort(cm.SortOrder.NONE))
    _set_given(p, no_value=no_value)
    return p


def timeseries_panel(
    *,
    unit: str | None = None,
    stack: bool = False,
    bars: bool = False,
    steps: db.ThresholdsConfig | None = None,
    show_thresholds: bool = False,
    min_val: float | None = None,
    max_val: float | None = None,
    decimals: int | None = None,
    legend_calcs: Sequence[str] = ("lastNotNull", "max"),
    overrides: Sequence[tuple[str, list[dm.DynamicConfigValue]]] = (),
    **common: Unpack[PanelCommon],
) -> timeseries.Panel:
    p = timeseries.Panel()
    _common(p, (12, 8), unit, common)
    p.draw_style(cm.GraphDrawStyle.BARS if bars else cm.GraphDrawStyle.LINE)
    p.line_width(1)
    p.fill_opacity(70 if stack or bars else 10)
    p.show_points(cm.VisibilityMode.NEVER)
    p.span_nulls(False)
    p.stacking(
        cb.StackingConfig()
        .mode(cm.StackingMode.NORMAL if stack else cm.StackingMode.NONE)
        .group("A")
    )
    p.legend(
        cb.VizLegendOptions()
        .show_legend(True)
        .display_mode(cm.LegendDisplayMode.TABLE)
        .placement(cm.LegendPlacement.BOTTOM)
        .calcs(list(legend_calcs))
    )
    p.tooltip(
        cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)
    )
    p.color_scheme(db.FieldColor().mode(dm.FieldColorModeId.PALETTE_CLASSIC))
    p.thresholds(steps or thresholds((None, GREEN)))
    if show_thresholds:
        p.thresholds_style(cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED))
    _set_given(p, min=min_val, max=max_val, decimals=decimals)
    for name, props in overrides:
        p.override_by_name(name, props)
    return p


def row(title: str, *, pid: int, repeat: str | None = None) -> db.Row:
    r = db.Row(title).id(pid).collapsed(False)
    if repeat is not None:
        r.repeat(repeat)
    return r


# --------------------------------------------------------------------------- rendering


def alert_panels(dashboards: dict[str, dm.Dashboard]) -> dict[str, tuple[str, int, str]]:
    """alert name -> (dashboard key, panel id, panel title), from the panels' runbook links.

    A panel that explains an alert links to the alert's runbook; the same relation,
    reversed, is what a runbook links to (see docs/dashboards.md).
    """
    prefix = "Runbook: "
    out: dict[str, tuple[str, int, str]] = {}
    # The specialised dashboards first: they explain an alert in the most detail.
    order = sorted(dashboards, key=lambda k: k == "overview")
    for key in order:
        d = dashboards[key]
        for panel in d.panels or []:
            for link in getattr(panel, "links", None) or []:
                if link.title.startswith(prefix):
                    alert = link.title[len(prefix) :]
                    out.setdefault(alert, (key, int(panel.id_val or 0), str(panel.title)))
    return dict(sorted(out.items()))


def slo_objective() -> float:
    """The availability objective, read from its one definition in prometheus/rules/slo.yml."""
    rules = yaml.safe_load((REPO / "prometheus" / "rules" / "slo.yml").read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("record") == "parichay:slo_availability_objective:ratio":
                m = re.fullmatch(r"\s*vector\(([0-9.]+)\)\s*", rule["expr"])
                if m:
                    return float(m.group(1))
    raise LookupError("parichay:slo_availability_objective:ratio not found in slo.yml")
