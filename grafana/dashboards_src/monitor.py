"""Certificates and the monitor itself: days until each TLS certificate expires, whether
probes still run (staleness), whether Prometheus can scrape every component, config
reloads and exporter versions per vantage.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, table
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from grafana.common import (
    GREEN,
    ORANGE,
    PROM,
    RED,
    SEL,
    TARGET,
    UP_DOWN,
    VANTAGE,
    PanelLinks,
    new_dashboard,
    prom,
    row,
    runbook_links,
    stat_panel,
    state_timeline_panel,
    thresholds,
    timeseries_panel,
    value_text,
)

# ProbesStale fires after 180 s without a probe (three times the longest interval).
STALE_AFTER_S = 180


def _table(
    *,
    pid: int,
    title: str,
    description: str,
    expr: str,
    w: int,
    h: int,
    unit: str | None,
    hide: list[str],
    rename: dict[str, str],
    alerts: tuple[str, ...] = (),
) -> table.Panel:
    p = (
        table.Panel()
        .id(pid)
        .title(title)
        .description(description)
        .span(w)
        .height(h)
        .datasource(PROM)
        .targets([prom(expr, instant=True, fmt="table")])
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {name: True for name in hide},
                    "renameByName": rename,
                },
            )
        )
        .show_header(True)
        .cell_height(cm.TableCellHeight.SM)
        .footer(cb.TableFooterOptions().show(False).reducer(["sum"]))
        .thresholds(thresholds((None, GREEN)))
    )
    if unit is not None:
        p.unit(unit)
    if alerts:
        p.links(runbook_links(alerts))
    return p


def build() -> db.Dashboard:
    d = new_dashboard(
        key="monitor",
        description=(
            "TLS certificates of Parichay and e-Office, and the health of the monitoring "
            "itself: probe staleness, scrapes, config reloads, exporter versions."
        ),
    )
    d.with_row(row("Certificates", pid=100))
    d.with_panel(
        bargauge.Panel()
        .id(1)
        .title("Days until the certificate expires")
        .span(12)
        .height(8)
        .description(
            "Earliest expiry of the leaf certificate each target serves, as seen from any "
            "vantage. Orange under 30 days; red under 14, when "
            "TLSCertificateExpiringSoon opens a ticket. Parichay's certificate is NIC's "
            "to renew, e-Office's the state data centre's."
        )
        .datasource(PROM)
        .targets(
            [
                prom(
                    "(target:parichay_tls_cert_not_after_timestamp_seconds:min"
                    f"{{{TARGET}}} - time()) / 86400",
                    "{{target}}",
                    instant=True,
                )
            ]
        )
        .unit("d")
        .decimals(1)
        .min(0)
        .thresholds(thresholds((None, RED), (14, ORANGE), (30, GREEN)))
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .value_mode(cm.BarGaugeValueMode.COLOR)
        .show_unfilled(True)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .links(runbook_links(("TLSCertificateExpiringSoon",)))
    )
    d.with_panel(
        _table(
            pid=2,
            title="Certificate expiry per vantage",
            w=12,
            h=8,
            description=(
                "When each vantage's view of the leaf certificate expires. Different dates "
                "for one target mean a renewal has not reached every server yet."
            ),
            expr=f"parichay_tls_cert_not_after_timestamp_seconds{{{SEL}}} * 1000",
            unit="dateTimeFromNow",
            hide=["Time", "instance", "job"],
            rename={"target": "Target", "vantage": "Vantage", "Value": "Expires"},
            alerts=("TLSCertificateExpiringSoon",),
        )
    )

    d.with_row(row("The monitor itself", pid=200))
    d.with_panel(
        state_timeline_panel(
            pid=3,
            title="Can Prometheus scrape every component?",
            w=12,
            h=7,
            description=(
                "Prometheus' own `up` for every scrape job: exporters (one per vantage), the "
                "SMS bridge, Alertmanager, Prometheus. A red exporter lane means that "
                "vantage is blind: Parichay could be down without an alert."
            ),
            queries=[prom("up", "{{job}} {{instance}}")],
            mappings=UP_DOWN,
            # The monitoring chain's own alerts: a red lane here is often their cause.
            links=PanelLinks(
                alerts=(
                    "ExporterDown",
                    "Watchdog",
                    "SMSDeliveryFailing",
                    "AlertmanagerNotificationsFailing",
                    "PrometheusRuleFailures",
                    "PrometheusNotificationsFailing",
                    "ConfigReloadFailed",
                )
            ),
        )
    )
    d.with_panel(
        timeseries_panel(
            pid=4,
            title="Seconds since the last probe",
            w=12,
            h=7,
            description=(
                f"Age of the last scheduled probe of each target. ProbesStale pages above "
                f"{STALE_AFTER_S} s (dashed line): the exporter still answers scrapes but its "
                "scheduler is stuck. Suspended logins stop on purpose and are not stale."
            ),
            queries=[
                prom(
                    f"time() - parichay_probe_last_run_timestamp_seconds{{{SEL}}}",
                    "{{target}} @ {{vantage}}",
                )
            ],
            unit="s",
            min_val=0,
            show_thresholds=True,
            steps=thresholds((None, GREEN), (STALE_AFTER_S, RED)),
            links=PanelLinks(alerts=("ProbesStale",)),
        )
    )
    d.with_panel(
        stat_panel(
            pid=5,
            title="Last config reload",
            w=6,
            h=5,
            description=(
                "Whether each exporter accepted its last config reload. A rejected reload "
                "keeps the previous config running; the exporter log names the YAML path."
            ),
            queries=[
                prom(
                    f"parichay_config_last_reload_successful{{{VANTAGE}}}",
                    "{{vantage}}",
                    instant=True,
                )
            ],
            mappings=value_text({"1": ("OK", GREEN), "0": ("Rejected", RED)}),
            steps=thresholds((None, RED), (1, GREEN)),
        )
    )
    d.with_panel(
        _table(
            pid=6,
            title="Exporter version per vantage",
            w=6,
            h=5,
            description="Which exporter version runs at each vantage.",
            expr=f"parichay_exporter_build_info{{{VANTAGE}}}",
            unit=None,
            hide=["Time", "Value", "__name__", "instance", "job"],
            rename={"vantage": "Vantage", "version": "Version"},
        )
    )
    d.with_panel(
        timeseries_panel(
            pid=7,
            title="Probes per second",
            w=6,
            h=5,
            description="Probes run per second at each vantage (all results), over 5 minutes.",
            queries=[
                prom(
                    f"sum by (vantage) (target_vantage:parichay_probes:rate5m{{{VANTAGE}}})",
                    "{{vantage}}",
                )
            ],
            unit="ops",
            min_val=0,
            legend_calcs=("lastNotNull",),
        )
    )
    d.with_panel(
        timeseries_panel(
            pid=8,
            title="Scrape duration",
            w=6,
            h=5,
            description=(
                "How long Prometheus takes to scrape each component. Scrapes only read the "
                "last results, so an exporter scrape should stay far below a second."
            ),
            queries=[prom("scrape_duration_seconds", "{{job}} {{instance}}")],
            unit="s",
            min_val=0,
            legend_calcs=("lastNotNull",),
        )
    )
    return d
