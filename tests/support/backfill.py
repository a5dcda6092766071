"""Synthetic history for the status page and report tests: a real Prometheus over a backfilled TSDB.

A `Scenario` declares what happened (`Outage`, `Maintenance`, `Gap`) over a period; its
`openmetrics()` text holds, one sample a `step` (a minute by default, at hh:mm:30), exactly the series the rules
and the status page would have written:

- `service:parichay_up:min{service}` (prometheus/rules/statuspage.yml) per row;
- `ALERTS{alertname, alertstate, severity, scope, ...}` for each outage: `pending` for the
  alert's `for` (one minute by default), then `firing` until it ends; an outage no longer
  than `for` (a blip) is pending only and so never an incident;
- `parichay_maintenance_active{service}` during maintenance windows;
- `target_vantage_result:parichay_probes_failed:increase5m{target, role, vantage, result}`
  for the failure reason;

and no sample at all inside a `Gap`. `create_blocks()` runs `promtool tsdb
create-blocks-from openmetrics` (about 2 s for 90 days) and `history_prometheus` /
`holding_alertmanager` run the real binaries (`tests/support/stack.py`) on free loopback ports.

Example (a month with the standard incidents)::

    scenario = Scenario(start=..., end=..., events=(
        Outage(start=mon_0940, end=mon_1340, scope="central"),
        Outage(start=t, end=t + timedelta(minutes=1), scope="central"),   # a blip
        Outage(start=t2, end=t2 + timedelta(hours=1), scope="path", vantages=("district-haridwar",)),
        Maintenance(start=..., end=..., service="parichay"),
        Gap(start=..., end=...),
    ))
    data_dir = create_blocks(scenario, tmp_path / "tsdb")
    async with history_prometheus(data_dir=data_dir, workdir=tmp_path) as prom:
        ...  # prom.url
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from tests.support.binaries import binary_path
from tests.support.stack import Alertmanager, Prometheus

Scope = Literal["central", "app", "path", "local"]


@dataclass(frozen=True)
class Topology:
    """What is monitored: SSO and app targets, and the vantages (sites)."""

    sso_targets: tuple[str, ...] = ("parichay-login-page",)
    app_targets: tuple[str, ...] = ("eoffice-web", "eoffice-login")
    # App targets whose check goes through Parichay (the synthetic login).
    sso_dependent: tuple[str, ...] = ("eoffice-login",)
    vantages: tuple[str, ...] = ("secretariat-dehradun", "district-haridwar", "cloud-mumbai")

    def services(self) -> list[str]:
        return ["parichay", *self.app_targets, *(f"site:{v}" for v in self.vantages)]


DEFAULT_ALERT = {
    "central": "ParichayDown",
    "app": "EOfficeDown",
    "path": "ParichayPartiallyUnreachable",
    "local": "VantageNetworkDown",
}


@dataclass(frozen=True)
class Outage:
    """A fault from start to end (aware datetimes).

    `scope` central: every SSO target fails from every site (and the SSO-dependent app
    targets with it); app: `target` (default: the first app target) fails; path: the SSO
    targets fail from `vantages` only; local: the networks of `vantages` are down.
    """

    start: datetime
    end: datetime
    scope: Scope
    target: str | None = None
    vantages: tuple[str, ...] = ()
    alertname: str | None = None
    reason: str = "http_5xx"
    alert_for: timedelta = timedelta(minutes=1)

    def covers(self, t: datetime) -> bool:
        return self.start <= t < self.end

    @property
    def pages(self) -> bool:
        """Whether it lasts long enough for its alert to fire."""
        return self.end - self.start > self.alert_for


def Blip(*, start: datetime, minutes: int = 1, scope: Scope = "central", **kw: object) -> Outage:
    """A short outage under the alert's `for`: down minutes in the history, no incident."""
    return Outage(start=start, end=start + timedelta(minutes=minutes), scope=scope, **kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Maintenance:
    """A maintenance window of one service row (`parichay`, an app target, `site:<vantage>`)."""

    start: datetime
    end: datetime
    service: str = "parichay"


@dataclass(frozen=True)
class Gap:
    """No data at all from start to end (Prometheus was down)."""

    start: datetime
    end: datetime


Event = Outage | Maintenance | Gap


@dataclass(frozen=True)
class Scenario:
    """A period of synthetic history; `end` is "now" for the page under test."""

    start: datetime
    end: datetime
    events: tuple[Event, ...] = ()
    topology: Topology = field(default_factory=Topology)
    # One sample a minute keeps 90 days small; production evaluates every 15 s.
    step: timedelta = timedelta(minutes=1)
    # The SLO objective rule (`parichay:slo_availability_objective:ratio`), if recorded.
    objective: float | None = None

    def samples(self) -> Iterator[datetime]:
        """Sample times: every `step`, half a step off the grid, so never on a minute mark."""
        step = self.step.total_seconds()
        first = (self.start.timestamp() // step) * step + step / 2
        if first < self.start.timestamp():
            first += step
        t = datetime.fromtimestamp(first, UTC)
        while t <= self.end:
            yield t
            t += self.step

    def outages(self) -> list[Outage]:
        return [e for e in self.events if isinstance(e, Outage)]

    def in_gap(self, t: datetime) -> bool:
        return any(isinstance(e, Gap) and e.start <= t < e.end for e in self.events)

    def service_up(self, service: str, t: datetime) -> int:
        topo = self.topology
        for o in self.outages():
            if not o.covers(t):
                continue
            if o.scope == "central" and (service == "parichay" or service in topo.sso_dependent):
                return 0
            if o.scope == "app" and service == (o.target or topo.app_targets[0]):
                return 0
            if o.scope in ("path", "local") and service in {f"site:{v}" for v in o.vantages}:
                return 0
        return 1

    def alert_labels(self, o: Outage) -> list[dict[str, str]]:
        topo = self.topology
        name = o.alertname or DEFAULT_ALERT[o.scope]
        base = {"alertname": name, "severity": "page", "scope": o.scope}
        if o.scope == "central":
            return [base | {"target": t, "role": "sso", "kind": "http"} for t in topo.sso_targets]
        if o.scope == "app":
            return [
                base | {"target": o.target or topo.app_targets[0], "role": "app", "kind": "http"}
            ]
        if o.scope == "path":
            return [
                base | {"target": t, "role": "sso", "kind": "http", "vantage": v}
                for t in topo.sso_targets
                for v in o.vantages
            ]
        return [base | {"vantage": v} for v in o.vantages]

    def openmetrics(self) -> str:
        """The whole history as OpenMetrics text for promtool."""
        out: list[str] = []
        times = [t for t in self.samples() if not self.in_gap(t)]
        stamps = [f"{t.timestamp():.3f}" for t in times]

        out.append("# TYPE service:parichay_up:min gauge")
        for service in self.topology.services():
            label = _labels({"service": service})
            for t, ts in zip(times, stamps, strict=True):
                out.append(f"service:parichay_up:min{label} {self.service_up(service, t)} {ts}")

        out.append("# TYPE ALERTS gauge")
        for o in self.outages():
            for labels in self.alert_labels(o):
                for state in ("pending", "firing"):
                    lb = _labels(labels | {"alertstate": state})
                    for t, ts in zip(times, stamps, strict=True):
                        if not o.covers(t):
                            continue
                        firing = t >= o.start + o.alert_for
                        if firing == (state == "firing"):
                            out.append(f"ALERTS{lb} 1 {ts}")

        out.append("# TYPE parichay_maintenance_active gauge")
        for m in self.events:
            if not isinstance(m, Maintenance):
                continue
            lb = _labels(
                {"service": m.service, "job": "statuspage", "instance": "statuspage:10073"}
            )
            for t, ts in zip(times, stamps, strict=True):
                if m.start <= t < m.end:
                    out.append(f"parichay_maintenance_active{lb} 1 {ts}")

        out.append("# TYPE target_vantage_result:parichay_probes_failed:increase5m gauge")
        for o in self.outages():
            for labels in self._reason_labels(o):
                lb = _labels(labels)
                for t, ts in zip(times, stamps, strict=True):
                    if o.covers(t):
                        out.append(
                            f"target_vantage_result:parichay_probes_failed:increase5m{lb} 20 {ts}"
                        )
        if self.objective is not None:
            out.append("# TYPE parichay:slo_availability_objective:ratio gauge")
            for ts in stamps:
                out.append(f"parichay:slo_availability_objective:ratio {self.objective} {ts}")
        out.append("# EOF")
        return "\n".join(out) + "\n"

    def _reason_labels(self, o: Outage) -> list[dict[str, str]]:
        topo = self.topology
        if o.scope == "central":
            pairs = [(t, "sso", v) for t in topo.sso_targets for v in topo.vantages]
        elif o.scope == "app":
            pairs = [(o.target or topo.app_targets[0], "app", v) for v in topo.vantages]
        elif o.scope == "path":
            pairs = [(t, "sso", v) for t in topo.sso_targets for v in o.vantages]
        else:
            pairs = []
        return [{"target": t, "role": r, "vantage": v, "result": o.reason} for t, r, v in pairs]


def _labels(labels: dict[str, str]) -> str:
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in sorted(labels.items())
    )
    return "{" + inner + "}"


def create_blocks(scenario: Scenario, data_dir: Path) -> Path:
    """Write the scenario as TSDB blocks into data_dir with promtool; return data_dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    source = data_dir.parent / f"{data_dir.name}.om"
    source.write_text(scenario.openmetrics(), encoding="utf-8")
    # Long blocks: the default 2 h blocks make 90 days take minutes instead of seconds.
    result = subprocess.run(
        [
            binary_path("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=2400h",
            "--quiet",
            str(source),
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"promtool create-blocks-from failed: {result.stderr[-2000:]}")
    source.unlink()
    return data_dir


def history_prometheus(*, data_dir: Path, workdir: Path) -> Prometheus:
    """A real `prometheus` over a data dir, no scrapes and no rules (history only)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus-history.yml"
    config.write_text("global: {evaluation_interval: 1m}\n", encoding="utf-8")
    return Prometheus(
        config=config,
        data=data_dir,
        log=workdir / "prometheus.log",
        extra_args=["--storage.tsdb.retention.time=400d"],
    )


ALERTMANAGER_CONFIG = """\
route: {receiver: blackhole, group_wait: 1s, group_interval: 1s}
receivers: [{name: blackhole}]
inhibit_rules:
  - source_matchers: [alertname="VantageNetworkDown"]
    target_matchers: [severity="page", alertname!="VantageNetworkDown"]
    equal: [vantage]
"""


def holding_alertmanager(*, workdir: Path) -> Alertmanager:
    """A real Alertmanager (no cluster) holding alerts and silences, notifying no one."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(ALERTMANAGER_CONFIG, encoding="utf-8")
    return Alertmanager(config=config, storage=workdir / "am-data", log=workdir / "alertmanager.log")


def last_monday(now: datetime, *, at_least: timedelta = timedelta(days=2)) -> datetime:
    """IST midnight starting the latest Monday at least `at_least` before now."""
    from statuspage.history import IST

    t = (now - at_least).astimezone(IST)
    day = t.date() - timedelta(days=t.weekday())
    return datetime(day.year, day.month, day.day, tzinfo=IST)


def standard_history(now: datetime, *, days: int = 90, extra: tuple[Event, ...] = ()) -> Scenario:
    """90 days ending at `now` with the incidents the status-page issue names.

    - a 4-hour central outage on a Monday 09:40-13:40 IST (`ParichayDown`);
    - the Wednesday after, 15:00-16:00 IST, Parichay unreachable from district-haridwar
      only (`ParichayPartiallyUnreachable`, scope path, reason `connect_timeout`);
    - the Saturday after, 20:00-23:00 IST, a Parichay maintenance window;
    - that Monday at 17:00 and the Thursday at 11:00 IST, one-minute blips (no page).
    """
    monday = last_monday(now, at_least=timedelta(days=6))
    h = timedelta(hours=1)
    m = timedelta(minutes=1)
    events: tuple[Event, ...] = (
        Outage(start=monday + 9 * h + 40 * m, end=monday + 13 * h + 40 * m, scope="central"),
        Outage(
            start=monday + timedelta(days=2, hours=15),
            end=monday + timedelta(days=2, hours=16),
            scope="path",
            vantages=("district-haridwar",),
            reason="connect_timeout",
        ),
        Maintenance(
            start=monday + timedelta(days=5, hours=20),
            end=monday + timedelta(days=5, hours=23),
            service="parichay",
        ),
        Blip(start=monday + 17 * h),
        Blip(start=monday + timedelta(days=3, hours=11)),
    )
    return Scenario(start=now - timedelta(days=days), end=now, events=events + extra)
