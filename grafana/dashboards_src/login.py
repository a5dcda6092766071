"""Synthetic login: does logging in to e-Office through Parichay work end to end, how long
each step takes, why it fails, and whether logins are suspended to protect the account.
`$target` lists login targets only (kind="login").
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from grafana.common import (
    GREEN,
    ORANGE,
    RED,
    SEL,
    PanelLinks,
    new_dashboard,
    prom,
    row,
    slo_objective,
    stat_panel,
    state_timeline_panel,
    thresholds,
    timeseries_panel,
    value_text,
)

LOGIN = 'kind="login"'


def success_share(window: str) -> str:
    """Share of the window during which the last login had succeeded.

    Over the login gauge, not the probe counters: a login runs once a minute (and not at
    all while suspended), so a counter rate over a short window is often 0/0 (NaN); the
    gauge has a value at every scrape.
    """
    return f"avg_over_time(parichay_probe_success{{{SEL}, {LOGIN}}}[{window}])"


SUSPENDED = value_text({"0": ("Running", GREEN), "1": ("Suspended", RED)})
# `or ... vector(0)`: a healthy login has no failure series; the panel then says so.
FAILURE_REASONS = (
    f"sum by (result) (target_vantage_result:parichay_probes_failed:increase5m{{{SEL}}})"
    ' or on () label_replace(vector(0), "result", "no failures", "", "")'
)
REJECTIONS = (
    "sum(target_vantage_result:parichay_probes_failed:increase5m"
    f'{{{SEL}, result=~"login_rejected|otp_rejected"}}) or vector(0)'
)


def build() -> db.Dashboard:
    objective = slo_objective()
    d = new_dashboard(
        key="login",
        target_filter=LOGIN,
        description=(
            "The synthetic login (e-Office -> Parichay password + OTP -> back to the "
            "e-Office inbox): success, per-step duration, failure reasons, suspension."
        ),
    )
    d.with_row(row("Now", pid=100))
    d.with_panel(
        stat_panel(
            pid=1,
            title="Login works now?",
            w=6,
            h=5,
            description=(
                "Result of the last synthetic login from each vantage. When Parichay or the "
                "e-Office pages are down the login fails too: see the overview for where."
            ),
            queries=[
                prom(
                    f"parichay_probe_success{{{SEL}, {LOGIN}}}",
                    "{{target}} @ {{vantage}}",
                    instant=True,
                )
            ],
            mappings=value_text({"1": ("Works", GREEN), "0": ("Fails", RED)}),
            steps=thresholds((None, RED), (1, GREEN)),
            links=PanelLinks(alerts=("EOfficeLoginFailing",), dashboards=("overview",)),
        )
    )
    d.with_panel(
        stat_panel(
            pid=2,
            title="Login success rate (1 h)",
            w=6,
            h=5,
            description=(
                "Share of the last hour during which the synthetic login worked, per vantage "
                "(time-weighted: logins run once a minute)."
            ),
            queries=[prom(success_share("1h"), "{{target}} @ {{vantage}}", instant=True)],
            unit="percentunit",
            decimals=1,
            steps=thresholds((None, RED), (0.9, ORANGE), (objective, GREEN)),
            links=PanelLinks(alerts=("EOfficeLoginFailing",)),
        )
    )
    d.with_panel(
        stat_panel(
            pid=3,
            title="Logins suspended?",
            w=6,
            h=5,
            description=(
                "The exporter pauses logins after the account is rejected (wrong password, "
                "OTP seed out of sync) so Parichay does not lock the monitoring account out. "
                "Fix the credentials, then reload the exporter."
            ),
            queries=[
                prom(f"parichay_login_suspended{{{SEL}}}", "{{target}} @ {{vantage}}", instant=True)
            ],
            mappings=SUSPENDED,
            steps=thresholds((None, GREEN), (1, RED)),
            links=PanelLinks(alerts=("LoginAccountRejected",)),
        )
    )
    d.with_panel(
        stat_panel(
            pid=4,
            title="Account rejections (5 min)",
            w=6,
            h=5,
            description=(
                "Logins refused because of the monitoring account itself (login_rejected, "
                "otp_rejected) in the last 5 minutes. Not an outage: a ticket for the team "
                "that owns the account."
            ),
            queries=[prom(REJECTIONS, "rejections", instant=True)],
            steps=thresholds((None, GREEN), (1, RED)),
            decimals=0,
            links=PanelLinks(alerts=("LoginAccountRejected",)),
        )
    )

    d.with_row(row("Over time", pid=200))
    d.with_panel(
        timeseries_panel(
            pid=5,
            title="Login success rate",
            w=12,
            h=8,
            description=(
                "Share of each 5-minute window during which the login worked, per vantage."
            ),
            queries=[prom(success_share("5m"), "{{target}} @ {{vantage}}")],
            unit="percentunit",
            min_val=0,
            max_val=1,
            decimals=1,
            steps=thresholds((None, RED), (objective, GREEN)),
            show_thresholds=True,
            links=PanelLinks(alerts=("EOfficeLoginFailing",)),
        )
    )
    d.with_panel(
        timeseries_panel(
            pid=6,
            title="Failure reasons",
            w=12,
            h=8,
            bars=True,
            stack=True,
            description=(
                "Failed logins in the last 5 minutes by reason (login_flow_broken, "
                "login_rejected, otp_rejected, timeout, http_5xx, ...). 'no failures' when "
                "every login passed."
            ),
            queries=[prom(FAILURE_REASONS, "{{result}}")],
            min_val=0,
            decimals=0,
            links=PanelLinks(alerts=("EOfficeLoginFailing", "LoginAccountRejected")),
        )
    )
    steps = timeseries_panel(
        pid=7,
        title="Duration of each login step: $vantage",
        w=12,
        h=8,
        stack=True,
        description=(
            "Time taken by each named step of the last login (stacked: the top is the "
            "whole login). A step that grows alone shows which hop is slow: the "
            "e-Office redirect, the Parichay login page, password, OTP or the callback."
        ),
        queries=[prom(f"parichay_login_step_duration_seconds{{{SEL}}}", "{{step}} ({{target}})")],
        unit="s",
        min_val=0,
        links=PanelLinks(dashboards=("latency",)),
    )
    steps.repeat("vantage").repeat_direction("h")
    d.with_panel(steps)
    d.with_panel(
        state_timeline_panel(
            pid=8,
            title="Suspension",
            w=12,
            h=8,
            description="When logins were paused to protect the monitoring account.",
            queries=[prom(f"parichay_login_suspended{{{SEL}}}", "{{target}} @ {{vantage}}")],
            mappings=SUSPENDED,
            steps=thresholds((None, GREEN), (1, RED)),
            links=PanelLinks(alerts=("LoginAccountRejected",)),
        )
    )
    return d
