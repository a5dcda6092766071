"""Latency: where the time goes (resolve, connect, TLS, processing, transfer), the
percentiles from the latency histogram against the alert threshold, and a heatmap; one
repeated row per `$target`, the phase breakdown repeated per `$vantage`.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import heatmap
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import heatmap as hm

from grafana.common import (
    PROM,
    SEL,
    PanelLinks,
    new_dashboard,
    prom,
    row,
    timeseries_panel,
)

PHASES = ("resolve", "connect", "tls", "processing", "transfer")
BUCKETS = f"target_vantage_le:parichay_probe_latency_seconds_bucket:rate5m{{{SEL}}}"
SLOW_ALERTS = ("ParichaySlow", "EOfficeSlow")

_DASHED = [
    dm.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
    dm.DynamicConfigValue(id_val="custom.fillOpacity", value=0),
    dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": "red"}),
]


def build() -> db.Dashboard:
    d = new_dashboard(
        key="latency",
        description=(
            "Probe latency of Parichay, e-Office and the control targets: phases of the "
            "last probe, percentiles and the distribution from the latency histogram."
        ),
    )
    d.with_row(row("All targets", pid=100))
    p95 = timeseries_panel(
        pid=1,
        title="p95 latency against the alert threshold",
        w=24,
        h=8,
        description=(
            "95th percentile of probe latency over 5 minutes, per target and vantage "
            "(recording rule). Dashed red: the threshold of that target's probe kind; "
            "ParichaySlow / EOfficeSlow fire when it is exceeded for 10 minutes."
        ),
        queries=[
            prom(
                f"target_vantage:parichay_probe_latency_seconds:p95_rate5m{{{SEL}}}",
                "{{target}} @ {{vantage}}",
            ),
            prom(
                f"target_vantage:parichay_probe_latency_threshold_seconds:p95{{{SEL}}}",
                "threshold {{target}} @ {{vantage}}",
            ),
        ],
        unit="s",
        min_val=0,
        links=PanelLinks(alerts=SLOW_ALERTS),
    )
    p95.override_by_regexp("^threshold .*", _DASHED)
    d.with_panel(p95)

    d.with_row(row("Latency: $target", pid=200, repeat="target"))
    phases = timeseries_panel(
        pid=10,
        title="Phases of the last probe: $target from $vantage",
        w=12,
        h=8,
        description=(
            "Where the time of each probe goes, stacked: DNS resolve, TCP connect, TLS "
            "handshake, processing (request sent to first byte) and transfer (the body). "
            "A slow resolve or connect points to the network; slow processing to the "
            "server. One panel per vantage."
        ),
        queries=[
            prom(f'parichay_probe_phase_duration_seconds{{{SEL}, phase="{ph}"}}', ph)
            for ph in PHASES
        ],
        unit="s",
        stack=True,
        min_val=0,
        links=PanelLinks(alerts=SLOW_ALERTS),
    )
    phases.repeat("vantage").repeat_direction("h")
    d.with_panel(phases)
    d.with_panel(
        timeseries_panel(
            pid=11,
            title="Latency percentiles (histogram, 5 min)",
            w=12,
            h=8,
            description=(
                "p50, p90, p95 and p99 of all probes of $target over 5 minutes, per vantage, "
                "from the parichay_probe_latency_seconds histogram."
            ),
            queries=[
                prom(f"histogram_quantile(0.5, {BUCKETS})", "p50 @ {{vantage}}"),
                prom(f"histogram_quantile(0.9, {BUCKETS})", "p90 @ {{vantage}}"),
                prom(
                    f"target_vantage:parichay_probe_latency_seconds:p95_rate5m{{{SEL}}}",
                    "p95 @ {{vantage}}",
                ),
                prom(f"histogram_quantile(0.99, {BUCKETS})", "p99 @ {{vantage}}"),
            ],
            unit="s",
            min_val=0,
            links=PanelLinks(alerts=SLOW_ALERTS),
        )
    )
    hmap = (
        heatmap.Panel()
        .id(12)
        .title("Latency distribution (heatmap)")
        .span(12)
        .height(8)
        .description(
            "How many probes of $target per second fell in each latency bucket (all "
            "selected vantages). A second band appearing above the usual one is a "
            "partial slowdown that a percentile can hide."
        )
        .datasource(PROM)
        .targets([prom(f"sum by (le) ({BUCKETS})", "{{le}}", fmt="heatmap")])
        .calculate(False)
        .color(
            heatmap.HeatmapColorOptions()
            .mode(hm.HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .scale(hm.HeatmapColorScale.EXPONENTIAL)
            .exponent(0.5)
            .fill("dark-orange")
            .steps(64)
        )
        .y_axis(heatmap.YAxisConfig().unit("s").axis_placement(cm.AxisPlacement.LEFT))
        .cell_values(heatmap.CellValues().unit("reqps"))
        .rows_frame(heatmap.RowsHeatmapOptions().layout(cm.HeatmapCellLayout.LE))
        .show_legend()
        .mode(cm.TooltipDisplayMode.SINGLE)
        .filter_values(heatmap.FilterValueRange().le(1e-9))
    )
    d.with_panel(hmap)
    d.with_panel(
        timeseries_panel(
            pid=13,
            title="End-to-end duration of the last probe",
            w=12,
            h=8,
            description="Duration of each scheduled probe of $target, per vantage.",
            queries=[prom(f"parichay_probe_duration_seconds{{{SEL}}}", "{{vantage}}")],
            unit="s",
            min_val=0,
        )
    )
    return d
