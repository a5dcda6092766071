"""The monthly availability and incident report: figures computed from Prometheus.

This module owns the report's numbers and words, not their layout (`report_render` does
HTML, PDF, CSV and JSON). It reuses the status page's readers (`statuspage.reading`) and
definitions (`statuspage.history`), so the page and the report always agree:

- **SLI**: a service is *up* in a minute when its `service:parichay_up:min` series is 1 in
  every sample of that minute. Availability = up minutes / eligible minutes, where eligible
  minutes have data and lie outside maintenance windows. Minutes without data (gaps) are
  named and count neither as up nor as down.
- **Incident**: a page alert (`ALERTS{severity="page"}`) that fired; a blip shorter than
  the alert's `for:` never fires and so is down time but no incident.
- **Time to first page**: from the alert's first `ALERTS` sample (pending: the condition was
  first seen) to its first firing sample (the rule's `for:`), plus Alertmanager's
  `group_wait` for page alerts (read from Alertmanager when given, else the shipped 10 s).
- **During planned maintenance**: an incident whose alerts were firing only while a
  maintenance window silenced them (the silence `statuspage.notices.matchers_for` creates)
  paged nobody. It is listed apart and left out of paged counts, time to page and MTTR.
  It counts as paged when, outside every window that silences all of its alerts, it was
  firing for at least `group_wait` in one stretch (what Alertmanager needs to send a first
  page); its time to page then runs to the start of that stretch (`paging_start`).
- **Comparison**: the previous period goes through `period_figures` exactly as the current
  one does (the same incident rows, maintenance rule and minute counts).

Example::

    period = month_period("2024-09", today=date(2024, 10, 3))
    async with PrometheusClient(url=...) as prom:
        report = await build_report(prom, period=period, now=datetime.now(UTC))
    report.incidents               # paged incidents, oldest first
    report.maintenance_incidents   # incidents inside maintenance windows (nobody paged)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from servicekit import phrasebook
from statuspage import reading
from statuspage.alertmanager import AlertmanagerAPI
from statuspage.history import (
    DayAvailability,
    Incident,
    Window,
    ist,
    up_ratio,
)
from statuspage.paging import paging_start, read_group_wait
from statuspage.periods import Period, ReportError, span
from statuspage.sources import PrometheusClient
from statuspage.wording import Name, service_name, site_name

SCOPES = phrasebook.SCOPE_LONG
SCOPES_SHORT = phrasebook.SCOPE


@dataclass(frozen=True, slots=True)
class ReportIncident:
    """One incident as the report lists it: paged, or (`in_maintenance`) silenced throughout."""

    alertname: str
    scope: str
    start: float
    end: float
    ongoing: bool
    services: tuple[str, ...]
    targets: tuple[str, ...]
    vantages: tuple[str, ...]
    reason: str | None  # dominant failure reason, None when no probe data says
    reason_share: float | None  # its share of the failed probes (0..1)
    paged_after_s: float  # first unsilenced firing sample - first sample (the rule's `for:`)
    group_wait_s: float
    in_maintenance: bool = False  # firing only inside maintenance windows: nobody was paged

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def time_to_page(self) -> float:
        """Seconds from the start until the first page left Alertmanager."""
        return self.paged_after_s + self.group_wait_s


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    """One service's figures over the period."""

    service: str
    name: Name
    objective: float
    days: tuple[DayAvailability, ...]
    incidents: tuple[ReportIncident, ...]  # paged only
    maintenance_incidents: tuple[ReportIncident, ...] = ()  # inside windows, nobody paged

    @property
    def minutes(self) -> int:
        return sum(d.minutes for d in self.days)

    @property
    def eligible(self) -> int:
        return sum(d.eligible for d in self.days)

    @property
    def down(self) -> int:
        return sum(d.down for d in self.days)

    @property
    def gap(self) -> int:
        return sum(d.gap for d in self.days)

    @property
    def maintenance(self) -> int:
        return sum(d.maintenance for d in self.days)

    @property
    def availability(self) -> float | None:
        """Up minutes / eligible minutes; None when no minute is eligible."""
        return up_ratio(eligible=self.eligible, down=self.down)

    @property
    def budget_used(self) -> float | None:
        """Share of the error budget spent: down / ((1 - objective) x eligible)."""
        allowed = (1 - self.objective) * self.eligible
        if allowed <= 0:
            return None
        return self.down / allowed

    @property
    def met(self) -> bool | None:
        avail = self.availability
        return None if avail is None else avail >= self.objective

    @property
    def mttr(self) -> float | None:
        """Mean seconds from an incident's start to its end (finished incidents only)."""
        done = [i.duration for i in self.incidents if not i.ongoing]
        return sum(done) / len(done) if done else None

    @property
    def longest(self) -> ReportIncident | None:
        return max(self.incidents, key=lambda i: i.duration, default=None)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A service's figures in the previous period (None: no data then)."""

    availability: float | None
    down: int
    incidents: int
    gap: int


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the renderers show."""

    period: Period
    generated_at: datetime
    complete: bool  # False when the period reaches past `now` (a month to date)
    source: str
    objective: float
    objective_source: str  # "rule" (parichay:slo_availability_objective:ratio) or "default"
    group_wait_s: float
    group_wait_source: str
    services: tuple[ServiceFigures, ...]
    incidents: tuple[ReportIncident, ...]  # paged, oldest first
    maintenance: tuple[Window, ...]
    gaps: tuple[Window, ...]
    previous: Mapping[str, Comparison]
    previous_period: Period
    summary: Name = field(default=Name("", ""))
    # Inside maintenance windows (nobody was paged), oldest first.
    maintenance_incidents: tuple[ReportIncident, ...] = ()


# ---------------------------------------------------------------------------- reading


def incident_services(incident: Incident) -> tuple[str, ...]:
    """The rows an incident took down: those of its alerts (`reading.alert_services`: a
    site for `path` / `local`, the e-Office target of an app alert, none for the monitoring
    chain's own alerts, Parichay otherwise)."""
    own = {"alertname": incident.alertname, "scope": incident.scope}
    labels = incident.labels or tuple(
        {"vantage": v, "target": t}
        for v in incident.vantages or ("",)
        for t in incident.targets or ("",)
    )
    rows = {s for lb in labels for s in reading.alert_services({**own, **lb})}
    return tuple(sorted(rows, key=lambda s: (reading.category(s) != "sso", s)))


def concerns_parichay(incident: ReportIncident) -> bool:
    """Whether an incident was about reaching Parichay (central or over a path)."""
    if reading.SSO_SERVICE in incident.services:
        return True
    return incident.scope == "path" and incident.alertname.startswith("Parichay")


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """One period's rows, incidents and windows, as `period_figures` computes them."""

    period: Period
    services: tuple[ServiceFigures, ...]
    incidents: tuple[ReportIncident, ...]  # paged, oldest first
    maintenance_incidents: tuple[ReportIncident, ...]  # inside windows, oldest first
    maintenance: tuple[Window, ...]  # the windows of the rows reported
    gaps: tuple[Window, ...]

    def comparison(self) -> dict[str, Comparison]:
        """The figures the next period's report compares itself with."""
        return {
            s.service: Comparison(
                availability=s.availability, down=s.down, incidents=len(s.incidents), gap=s.gap
            )
            for s in self.services
        }


async def period_figures(
    prom: PrometheusClient,
    *,
    period: Period,
    now: datetime,
    rows: Sequence[str],
    only: bool,
    objective: float,
    group_wait: float,
    names: Mapping[str, Name] | None = None,
) -> PeriodFigures:
    """The figures of `rows` over one period; the report calls it for the period and the one before.

    `only` (a `--service` filter): incidents that took none of `rows` down are left out.
    Both periods go through this one function, so the rules (which rows an incident counts
    for, maintenance, minutes) can never differ between a month and its comparison.
    """
    end = min(period.end, now)
    daily = await reading.read_daily(
        prom, first=period.first, last=period.last, now=now, services=list(rows)
    )
    raw_incidents = await reading.read_incidents(prom, start=period.start, end=end)
    # Every window silences alerts, whichever rows are reported.
    windows = await reading.read_maintenance(prom, start=period.start, end=end)
    paged: list[ReportIncident] = []
    quiet: list[ReportIncident] = []
    for inc in sorted(raw_incidents, key=lambda i: i.start):
        affected = incident_services(inc)
        affected += tuple(
            a
            for a in await reading.also_down(prom, incident=inc, services=rows)
            if a not in affected
        )
        if only and not set(affected) & set(rows):
            continue
        reason, share = await reading.read_reason(prom, incident=inc)
        pages_at = paging_start(inc, windows, group_wait=group_wait)
        row = ReportIncident(
            alertname=inc.alertname,
            scope=inc.scope,
            start=inc.start,
            end=inc.end,
            ongoing=inc.ongoing,
            services=affected,
            targets=inc.targets,
            vantages=inc.vantages,
            reason=reason,
            reason_share=share,
            paged_after_s=max(0.0, (inc.paged_at if pages_at is None else pages_at) - inc.start),
            group_wait_s=group_wait,
            in_maintenance=pages_at is None,
        )
        (quiet if row.in_maintenance else paged).append(row)
    figures = tuple(
        ServiceFigures(
            service=s,
            name=service_name(s, names),
            objective=objective,
            days=tuple(daily.get(s, ())),
            incidents=tuple(i for i in paged if s in i.services),
            maintenance_incidents=tuple(i for i in quiet if s in i.services),
        )
        for s in rows
    )
    return PeriodFigures(
        period=period,
        services=figures,
        incidents=tuple(paged),
        maintenance_incidents=tuple(quiet),
        maintenance=tuple(w for w in windows if not only or w.service in rows),
        gaps=tuple(await reading.read_gaps(prom, start=period.start, end=end)),
    )


async def build_report(
    prom: PrometheusClient,
    *,
    period: Period,
    now: datetime,
    services: Sequence[str] = (),
    am: AlertmanagerAPI | None = None,
    names: Mapping[str, Name] | None = None,
) -> Report:
    """Read the period (and the one before) from Prometheus and compute the report.

    Raises `ReportError` when Prometheus holds no service data at all for the period,
    and `SourceError` when Prometheus (or the given Alertmanager) cannot be read.
    """
    if period.start >= now:
        raise ReportError(f"the period {period.label.en} has not started yet")
    end = min(period.end, now)
    known = await reading.list_services(prom, now=end, lookback=end - period.start)
    wanted = [s for s in known if not services or s in services]
    unknown = sorted(set(services) - set(wanted))
    if unknown and known:
        raise ReportError(
            f"--service {', '.join(unknown)}: no such service has data in "
            f"{period.label.en}; the services with data are {', '.join(known)}"
        )
    no_data = ReportError(
        f"Prometheus at {prom.public_url} has no data for {period.label.en} "
        f"({period.first} to {min(period.last, ist(now).date())} IST): no "
        f"{reading.SERVICE_METRIC} series. Check its retention "
        "(--storage.tsdb.retention.time) and that prometheus/rules/statuspage.yml is loaded"
    )
    if not wanted:
        raise no_data
    objective, objective_source = await reading.read_objective(prom, at=end)
    group_wait, group_wait_source = await read_group_wait(am)

    async def figures_of(p: Period) -> PeriodFigures:
        return await period_figures(
            prom,
            period=p,
            now=now,
            rows=wanted,
            only=bool(services),
            objective=objective,
            group_wait=group_wait,
            names=names,
        )

    current = await figures_of(period)
    if all(sum(d.covered for d in s.days) == 0 for s in current.services):
        raise no_data
    previous = await figures_of(period.previous())
    report = Report(
        period=period,
        generated_at=now,
        complete=period.end <= now,
        source=prom.public_url,
        objective=objective,
        objective_source=objective_source,
        group_wait_s=group_wait,
        group_wait_source=group_wait_source,
        services=current.services,
        incidents=current.incidents,
        maintenance=current.maintenance,
        gaps=current.gaps,
        previous=previous.comparison(),
        previous_period=previous.period,
        maintenance_incidents=current.maintenance_incidents,
    )
    return _with_summary(report, names=names)


# ---------------------------------------------------------------------------- words


def percent(value: float | None, *, digits: int = 2) -> str:
    """`99.44 %`, or `no data`."""
    return "no data" if value is None else f"{value * 100:.{digits}f} %"


def duration_hi(seconds: float) -> str:
    """`1 घंटा 45 मिनट`, `4 घंटे 02 मिनट`, `12 मिनट` (`servicekit.phrasebook.duration`)."""
    return phrasebook.duration(seconds).hi


def vantage_names(vantages: Sequence[str], names: Mapping[str, Name] | None) -> Name:
    parts = [site_name(v, names) for v in vantages]
    return Name(", ".join(p.en for p in parts), ", ".join(p.hi for p in parts))


def _with_summary(report: Report, *, names: Mapping[str, Name] | None) -> Report:
    return replace(report, summary=summary(report, names=names))


def summary(report: Report, *, names: Mapping[str, Name] | None = None) -> Name:
    """The one-paragraph summary, in English and Hindi, led by Parichay when it is reported
    (every sentence from `servicekit.phrasebook`)."""
    sso = next((s for s in report.services if s.service == reading.SSO_SERVICE), None)
    lead = sso or report.services[0]
    incidents = (
        [i for i in report.incidents if concerns_parichay(i)] if sso else list(lead.incidents)
    )
    quiet = (
        [i for i in report.maintenance_incidents if concerns_parichay(i)]
        if sso
        else list(lead.maintenance_incidents)
    )
    said = [
        phrasebook.REPORT_UNAVAILABLE.format(
            who=phrasebook.PARICHAY if sso else lead.name,
            down=phrasebook.duration(lead.down * 60),
            period=report.period.label,
            to_date=Name("", "") if report.complete else phrasebook.TO_DATE,
            availability=percent(lead.availability),
            objective=percent(lead.objective, digits=1),
        ),
        _paged_sentence(incidents) if incidents else phrasebook.REPORT_NOT_PAGED,
    ]
    if lead.maintenance:
        said.append(
            phrasebook.REPORT_MAINTENANCE.format(
                duration=phrasebook.duration(lead.maintenance * 60)
            )
        )
    if quiet:
        many = phrasebook.REPORT_QUIET_MANY.format(count=len(quiet))
        said.append(phrasebook.REPORT_QUIET_ONE if len(quiet) == 1 else many)
    gap_s = sum(g.duration for g in report.gaps)
    if gap_s:
        said.append(phrasebook.REPORT_GAPS.format(duration=phrasebook.duration(gap_s)))
    return Name(" ".join(p.en for p in said), " ".join(p.hi for p in said))


def _paged_sentence(incidents: Sequence[ReportIncident]) -> Name:
    """ "ITDA was paged for 3 incidents (2 central, 1 network path); the longest, ..."."""
    by_scope: dict[str, int] = {}
    for i in incidents:
        by_scope[i.scope] = by_scope.get(i.scope, 0) + 1

    def scope_word(scope: str) -> Name:
        return SCOPES_SHORT.get(scope, Name(scope, scope))

    if len(by_scope) == 1:
        kinds = scope_word(next(iter(by_scope)))
        if len(incidents) > 1:
            kinds = phrasebook.ALL_OF + kinds
    else:
        parts = [scope_word(s).format() for s in sorted(by_scope)]
        counts = sorted(by_scope.items())
        kinds = Name(
            ", ".join(f"{n} {p.en}" for (_, n), p in zip(counts, parts, strict=True)),
            ", ".join(f"{n} {p.hi}" for (_, n), p in zip(counts, parts, strict=True)),
        )
    longest = max(incidents, key=lambda i: i.duration)
    return phrasebook.REPORT_PAGED.format(
        count=len(incidents),
        incidents=phrasebook.INCIDENT_ONE if len(incidents) == 1 else phrasebook.INCIDENT_MANY,
        kinds=kinds,
        scope=scope_word(longest.scope),
        when=span(longest.start, longest.end),
        duration=phrasebook.duration(longest.duration),
    )
