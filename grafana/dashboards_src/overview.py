"""Overview: is anything down, where is the fault, and how has each target done.

Top: the fault location now and over time (central Parichay / the state's e-Office / a
vantage's own network), firing alerts, and the error-budget burn. Below, one repeated row
per `$target`: up/down from each vantage, latency now, availability today / 7 d / 30 d,
error budget left and the target's firing alerts.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import alertgroups
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm

from grafana.common import (
    ALERTMANAGER,
    ALERTMANAGER_DS_NAME,
    GREEN,
    OK_FAULT,
    ORANGE,
    RED,
    SEL,
    TARGET,
    UP_DOWN,
    VANTAGE,
    YELLOW,
    PanelLinks,
    new_dashboard,
    prom,
    row,
    slo_objective,
    stat_panel,
    state_timeline_panel,
    thresholds,
    timeseries_panel,
)

FAULT_ALERTS = (
    "ParichayDown",
    "EOfficeDown",
    "VantageNetworkDown",
    "VantageResolverDown",
    "EOfficeLoginFailing",
)
# Alerts read from the per-vantage up/down lanes: which sites fail, and how often.
LANE_ALERTS = (
    "ParichayDown",
    "EOfficeDown",
    "ParichayPartiallyUnreachable",
    "EOfficePartiallyUnreachable",
    "ParichayIntermittent",
    "EOfficeIntermittent",
)

# "Where is the fault?" as three kinds of lanes; the recording rules already drop vantages
# whose own network is down, so a broken site link never paints Parichay red.
HEALTHY = "target:parichay_probe_success:max_network_healthy"
# The app lane follows the alerts' attribution: e-Office pages always count; the synthetic
# login only while Parichay is up (otherwise the login fails because of Parichay), and a
# login suspended to protect the account is an account problem, not an outage.
APP_FAULT = (
    f'min(({HEALTHY}{{role="app", kind!="login"}}'
    f' or ({HEALTHY}{{role="app", kind="login"}}'
    f' unless on () (min({HEALTHY}{{role="sso"}}) == 0)))'
    " unless on (target) (max by (target) (parichay_login_suspended) == 1))"
)
FAULT_QUERIES = (
    (f'min({HEALTHY}{{role="sso"}})', "Central: Parichay SSO (NIC)"),
    (APP_FAULT, "App: e-Office (state)"),
    (f"vantage:parichay_control_probe_success:max{{{VANTAGE}}}", "Local network: {{vantage}}"),
)
FAULT_HELP = (
    "Central = every Parichay SSO target fails from all vantages whose own network works "
    "(call the NIC service desk). App = an e-Office page fails from all healthy vantages, "
    "or the synthetic login does while Parichay is up (the state data centre). Local "
    "network = every control target fails from that vantage: the site's own link, firewall "
    "or resolver; its other probes prove nothing meanwhile. 'Unknown' means no vantage with "
    "a working network probes it."
)


def _availability(window: str) -> str:
    # From the SLI recording rules: failures counted only from vantages whose network works.
    return (
        f"1 - sum_over_time(target:parichay_probes_failed:rate5m{{{TARGET}}}[{window}])"
        f" / sum_over_time(target:parichay_probes:rate5m{{{TARGET}}}[{window}])"
    )


def build() -> db.Dashboard:
    objective = slo_objective()
    slo_steps = thresholds((None, RED), (objective, GREEN))
    no_slo = "No SLO (control target)"
    d = new_dashboard(
        key="overview",
        description=(
            "Is Parichay or e-Office down, where is the fault (central, app or a site's own "
            "network), and how available has each target been against its SLO."
        ),
    )
    d.with_row(row("Now: where is the fault?", pid=100))
    d.with_panel(
        stat_panel(
            pid=1,
            title="Where is the fault now?",
            w=10,
            h=6,
            description=FAULT_HELP,
            queries=[prom(e, legend, instant=True) for e, legend in FAULT_QUERIES],
            mappings=OK_FAULT,
            steps=thresholds((None, RED), (1, GREEN)),
            no_value="Unknown",
            text_mode=cm.BigValueTextMode.VALUE_AND_NAME,
            links=PanelLinks(alerts=FAULT_ALERTS, dashboards=("login",)),
        )
    )
    d.with_panel(
        stat_panel(
            pid=2,
            title="Firing alerts",
            w=4,
            h=6,
            description=(
                "Alerts firing in Prometheus now (all vantages; pending ones are not counted). "
                "The list beside it is Alertmanager's view, with silences and inhibitions."
            ),
            queries=[
                prom('count(ALERTS{alertstate="firing"}) or vector(0)', "firing", instant=True)
            ],
            steps=thresholds((None, GREEN), (1, RED)),
            decimals=0,
        )
    )
    d.with_panel(
        alertgroups.Panel()
        .id(3)
        .title("Active alerts (Alertmanager)")
        .span(10)
        .height(6)
        .description(
            "Alert groups as Alertmanager holds them (silenced and inhibited alerts "
            "included). Each alert carries its runbook_url annotation."
        )
        .datasource(ALERTMANAGER)
        .alertmanager(ALERTMANAGER_DS_NAME)
        .expand_all(False)
        .labels("")
    )
    d.with_panel(
        state_timeline_panel(
            pid=4,
            title="Where was the fault?",
            w=12,
            h=7,
            description=FAULT_HELP,
            queries=[prom(e, legend) for e, legend in FAULT_QUERIES],
            mappings=OK_FAULT,
            no_value="Unknown",
            links=PanelLinks(alerts=FAULT_ALERTS),
        )
    )
    d.with_panel(
        state_timeline_panel(
            pid=5,
            title="Up / down: every target from every vantage",
            w=12,
            h=7,
            description=(
                "Result of the last scheduled probe of each target (one lane per target and "
                "vantage). Control targets are neutral references for the site's own network."
            ),
            queries=[prom(f"parichay_probe_success{{{SEL}}}", "{{target}} @ {{vantage}}")],
            mappings=UP_DOWN,
            links=PanelLinks(alerts=LANE_ALERTS),
        )
    )
    d.with_panel(
        timeseries_panel(
            pid=6,
            title="Error budget burn rate (1 h)",
            w=24,
            h=7,
            description=(
                "How fast each SSO/app target spends its 30-day error budget, over the last "
                "hour: 1x spends it exactly in 30 days. The fast-burn page needs 14.4x "
                "(1 h) or 6x (6 h); the dashed lines mark them."
            ),
            queries=[
                prom(
                    f"target:parichay_probes:failure_ratio_rate1h{{{TARGET}}}"
                    " / on () group_left () parichay:slo_error_budget:ratio",
                    "{{target}}",
                )
            ],
            unit="x",
            min_val=0,
            decimals=1,
            steps=thresholds((None, GREEN), (6, ORANGE), (14.4, RED)),
            show_thresholds=True,
            links=PanelLinks(alerts=("ParichayErrorBudgetBurn", "EOfficeErrorBudgetBurn")),
        )
    )

    d.with_row(row("Target: $target", pid=200, repeat="target"))
    d.with_panel(
        state_timeline_panel(
            pid=10,
            title="Up / down from each vantage",
            w=12,
            h=5,
            description="Result of the last scheduled probe of $target, one lane per vantage.",
            queries=[prom(f"parichay_probe_success{{{SEL}}}", "{{vantage}}")],
            mappings=UP_DOWN,
            links=PanelLinks(alerts=(*LANE_ALERTS, "EOfficeLoginFailing")),
        )
    )
    d.with_panel(
        stat_panel(
            pid=11,
            title="Latency now (last probe)",
            w=6,
            h=5,
            description=(
                "End-to-end duration of the last probe of $target from each vantage. "
                "Yellow from 1 s, red from 3 s (the p95 alert threshold for a page fetch)."
            ),
            queries=[
                prom(f"parichay_probe_duration_seconds{{{SEL}}}", "{{vantage}}", instant=True)
            ],
            unit="s",
            steps=thresholds((None, GREEN), (1, YELLOW), (3, RED)),
            text_mode=cm.BigValueTextMode.VALUE_AND_NAME,
            color_background=False,
            links=PanelLinks(alerts=("ParichaySlow", "EOfficeSlow"), dashboards=("latency",)),
        )
    )
    d.with_panel(
        stat_panel(
            pid=12,
            title="Firing alerts for this target",
            w=6,
            h=5,
            description="Alerts firing now whose target label is $target.",
            queries=[
                prom(
                    f'count(ALERTS{{alertstate="firing", {TARGET}}}) or vector(0)',
                    "firing",
                    instant=True,
                )
            ],
            steps=thresholds((None, GREEN), (1, RED)),
            decimals=0,
        )
    )
    pct = "percentunit"
    d.with_panel(
        stat_panel(
            pid=13,
            title="Availability today",
            w=6,
            h=4,
            description=(
                f"Share of successful probes of $target since midnight (IST), counted "
                f"only from vantages whose own network works. Green from the "
                f"{objective:.1%} objective."
            ),
            queries=[prom(_availability("$__range"), "{{target}}", instant=True)],
            unit=pct,
            decimals=3,
            steps=slo_steps,
            no_value=no_slo,
            time_from="now/d",
            links=PanelLinks(alerts=("ParichayErrorBudgetBurn", "EOfficeErrorBudgetBurn")),
        )
    )
    d.with_panel(
        stat_panel(
            pid=14,
            title="Availability 7 days",
            w=6,
            h=4,
            description="As 'today', over the last 7 days.",
            queries=[prom(_availability("7d"), "{{target}}", instant=True)],
            unit=pct,
            decimals=3,
            steps=slo_steps,
            no_value=no_slo,
        )
    )
    d.with_panel(
        stat_panel(
            pid=15,
            title="Availability 30 days (SLO)",
            w=6,
            h=4,
            description=(
                f"The SLI the {objective:.1%} objective is measured on: 30 days, healthy "
                "vantages only (the SLO report rule, target:parichay_slo_availability:"
                "ratio_rate30d)."
            ),
            queries=[
                prom(
                    f"target:parichay_slo_availability:ratio_rate30d{{{TARGET}}}",
                    "{{target}}",
                    instant=True,
                )
            ],
            unit=pct,
            decimals=3,
            steps=slo_steps,
            no_value=no_slo,
        )
    )
    d.with_panel(
        stat_panel(
            pid=16,
            title="Error budget left (30 days)",
            w=6,
            h=4,
            description=(
                "Share of the 30-day error budget not yet spent: 100 % untouched, 0 % "
                "exhausted, negative = the SLO is missed."
            ),
            queries=[
                prom(
                    f"target:parichay_slo_error_budget_remaining:ratio_rate30d{{{TARGET}}}",
                    "{{target}}",
                    instant=True,
                )
            ],
            unit=pct,
            decimals=1,
            no_value=no_slo,
            steps=thresholds((None, RED), (0, ORANGE), (0.25, GREEN)),
            links=PanelLinks(alerts=("ParichayErrorBudgetBurn", "EOfficeErrorBudgetBurn")),
        )
    )
    return d
