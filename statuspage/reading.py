"""The PromQL behind the page and the report, and the calls that feed `statuspage.history`.

Series read (names are part of the contract with `prometheus/rules/statuspage.yml`):

- `service:parichay_up:min{service}`: 1/0 per service row: `parichay` (every SSO target
  works from some healthy vantage), one per e-Office (app) target named after it, and
  `site:<vantage>` (the site's own network and its path to Parichay / e-Office work).
- `parichay_maintenance_active{service}`: 1 while a maintenance window of that service is
  active; exported by `parichay-status serve` from Alertmanager's silences and scraped by
  Prometheus, so windows stay in the TSDB after Alertmanager forgets them.
- `ALERTS{severity="page"}`: the alert history (pending and firing).
- `target_vantage_result:parichay_probes_failed:increase5m`: failure reasons.

Each function takes the client and keyword-only times; `now` is injected so tests and
reports can read the past as if it were the present.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from statuspage.history import (
    DayAvailability,
    Incident,
    Window,
    current_since,
    daily_availability,
    day_end,
    days_between,
    gaps,
    incidents,
    maintenance_windows,
    per_day,
)
from statuspage.sources import PrometheusClient

SERVICE_METRIC = "service:parichay_up:min"
MAINTENANCE_METRIC = "parichay_maintenance_active"
REASON_METRIC = "target_vantage_result:parichay_probes_failed:increase5m"
DEFAULT_OBJECTIVE = 0.995
PROBES_METRIC = "parichay_probes_total"
OBJECTIVE_METRIC = "parichay:slo_availability_objective:ratio"
SITE_PREFIX = "site:"
SSO_SERVICE = "parichay"

# Daily figures are evaluated 30 s after each IST midnight: the one-minute subquery steps
# then fall on the minute marks 00:01 ... 24:00 of that day and each counts the minute
# ending there (see `history`), with no minute counted on two days.
_DAY_OFFSET = timedelta(seconds=30)


def category(service: str) -> str:
    """`sso`, `site` or `app`, from a service id."""
    if service == SSO_SERVICE:
        return "sso"
    if service.startswith(SITE_PREFIX):
        return "site"
    return "app"


def alert_services(labels: Mapping[str, str]) -> tuple[str, ...]:
    """The rows one alert (its labels) is about.

    The site of a `path` / `local` alert; the e-Office target of an app alert; none for the
    monitoring chain's own alerts (`monitoring`, `config`: no service is down); Parichay
    otherwise (`central`).
    """
    scope = labels.get("scope", "")
    if scope in ("path", "local"):
        vantage = labels.get("vantage", "")
        return (f"{SITE_PREFIX}{vantage}",) if vantage else ()
    if scope in ("monitoring", "config"):
        return ()
    if labels.get("role") == "app" or labels.get("alertname", "").startswith("EOffice"):
        target = labels.get("target", "")
        return (target,) if target else ()
    return (SSO_SERVICE,)


_REGEX_META = re.compile(r"([.^$*+?()\[\]{}|\\])")


def alternation(values: Sequence[str]) -> str:
    """An anchored alternation matching exactly these values, quoted for a PromQL string."""
    escaped = (_REGEX_META.sub(r"\\\1", v) for v in values)
    # Then escape for the PromQL string literal itself.
    return "|".join(e.replace("\\", "\\\\").replace('"', '\\"') for e in escaped)


def _selector(metric: str, services: Sequence[str] | None) -> str:
    if not services:
        return metric
    return f'{metric}{{service=~"{alternation(services)}"}}'


def daily_queries(services: Sequence[str] | None = None) -> dict[str, str]:
    """The per-day minute counts by name: covered, down, maintenance, maintenance_covered."""
    up = _selector(SERVICE_METRIC, services)
    maint = f"max by (service) (max_over_time({_selector(MAINTENANCE_METRIC, services)}[1m]))"
    covered_min = f"(count_over_time({up}[1m]) > 0)"
    return {
        "covered": f"count_over_time({covered_min}[1d:1m])",
        "down": (
            f"count_over_time(((min_over_time({up}[1m]) == 0)"
            f" unless on (service) ({maint} == 1))[1d:1m])"
        ),
        "maintenance": f"count_over_time(({maint} == 1)[1d:1m])",
        "maintenance_covered": (
            f"count_over_time(({covered_min} and on (service) ({maint} == 1))[1d:1m])"
        ),
    }


async def list_services(
    prom: PrometheusClient, *, now: datetime, lookback: timedelta = timedelta(days=90)
) -> list[str]:
    """Service ids that have data in the lookback, Parichay first, then e-Office, then sites."""
    found = await prom.series([SERVICE_METRIC], start=now - lookback, end=now)
    ids = {s["service"] for s in found if s.get("service")}
    order = {"sso": 0, "app": 1, "site": 2}
    return sorted(ids, key=lambda s: (order[category(s)], s))


async def read_daily(
    prom: PrometheusClient,
    *,
    first: date,
    last: date,
    now: datetime,
    services: Sequence[str] | None = None,
) -> dict[str, list[DayAvailability]]:
    """Per-service daily availability for the IST days first..last (up to `now`)."""
    days = days_between(first, last)
    counts: dict[str, dict[str, dict[date, int]]] = {}
    for name, expr in daily_queries(services).items():
        result = await prom.query_range(
            expr,
            start=day_end(first) + _DAY_OFFSET,
            end=day_end(last) + _DAY_OFFSET,
            step=timedelta(days=1),
        )
        for series in result:
            service = series.labels.get("service", "")
            counts.setdefault(service, {})[name] = per_day(series.points)
    wanted = list(services) if services else sorted(counts)
    out = {}
    for service in wanted:
        c = counts.get(service, {})
        out[service] = daily_availability(
            days=days,
            now=now,
            covered=c.get("covered", {}),
            down=c.get("down", {}),
            maintenance=c.get("maintenance", {}),
            maintenance_covered=c.get("maintenance_covered", {}),
        )
    return out


async def read_incidents(
    prom: PrometheusClient, *, start: datetime, end: datetime, severity: str = "page"
) -> list[Incident]:
    """Incidents of `severity` alerts whose samples fall in (start, end], newest first."""
    series = await prom.samples(f'ALERTS{{severity="{severity}"}}', window=end - start, at=end)
    found = incidents(
        ((s.labels, s.points) for s in series), now=end.timestamp(), severity=severity
    )
    return found


async def read_maintenance(
    prom: PrometheusClient, *, start: datetime, end: datetime
) -> list[Window]:
    """Maintenance windows recorded in Prometheus between start and end."""
    series = await prom.samples(MAINTENANCE_METRIC, window=end - start, at=end)
    return maintenance_windows((s.labels, s.points) for s in series)


async def read_gaps(
    prom: PrometheusClient,
    *,
    start: datetime,
    end: datetime,
    min_gap: timedelta = timedelta(minutes=5),
) -> list[Window]:
    """Stretches with no service data at all (Prometheus or every exporter was down)."""
    begin = start.replace(second=0, microsecond=0)
    result = await prom.query_range(
        f"count(count_over_time({SERVICE_METRIC}[1m]))",
        start=begin + timedelta(minutes=1),
        end=end,
        step=timedelta(minutes=1),
    )
    points = result[0].points if result else ()
    return gaps(
        points,
        start=begin.timestamp(),
        end=end.timestamp(),
        min_gap=min_gap.total_seconds(),
    )


@dataclass(frozen=True, slots=True)
class CurrentState:
    """A service's state now: 1 up, 0 down, None no data; since when (unix s) if known."""

    service: str
    up: bool | None
    since: float | None


async def read_current(
    prom: PrometheusClient,
    *,
    now: datetime,
    services: Sequence[str],
    lookback: timedelta = timedelta(days=2),
) -> dict[str, CurrentState]:
    """Each service's state now and since when (looking back at most `lookback`)."""
    end = now.replace(second=0, microsecond=0)
    result = await prom.query_range(
        f"min_over_time({SERVICE_METRIC}[1m])",
        start=end - lookback,
        end=end,
        step=timedelta(minutes=1),
    )
    by_service = {s.labels.get("service", ""): s.points for s in result}
    # Down only after a whole minute of failure, as the alerts wait for two failed probes:
    # one failed probe never turns a row red.
    instant = await prom.query(f"max_over_time({SERVICE_METRIC}[1m])", at=now)
    values = {s.labels.get("service", ""): s.value for s in instant}
    out = {}
    for service in services:
        value = values.get(service)
        points = by_service.get(service, ())
        out[service] = CurrentState(
            service=service,
            up=None if value is None else value >= 1,
            since=current_since(points, now=end.timestamp()) if value is not None else None,
        )
    return out


async def sso_dependents(prom: PrometheusClient, *, now: datetime) -> list[str]:
    """e-Office rows that need Parichay: the app targets of kind `login`, which log in
    through it (the same rule `EOfficeLoginFailing` and `EOfficeDown` use)."""
    vector = await prom.query(
        "count by (target) (target:parichay_probe_success:max_network_healthy"
        '{role="app", kind="login"})',
        at=now,
    )
    return sorted({s.labels["target"] for s in vector if s.labels.get("target")})


async def firing_alerts(prom: PrometheusClient, *, now: datetime) -> list[dict[str, str]]:
    """Label sets of alerts firing now according to Prometheus (`ALERTS`)."""
    vector = await prom.query('ALERTS{alertstate="firing"}', at=now)
    return [dict(s.labels) for s in vector]


async def read_objective(prom: PrometheusClient, *, at: datetime) -> tuple[float, str]:
    """The SLO objective from the rules if Prometheus has it at `at`, else 99.5 %."""
    found = await prom.query(f"max(last_over_time({OBJECTIVE_METRIC}[30d]))", at=at)
    for sample in found:
        if 0 < sample.value < 1:
            return sample.value, "rule"
    return DEFAULT_OBJECTIVE, "default"


async def read_reason(
    prom: PrometheusClient, *, incident: Incident
) -> tuple[str | None, float | None]:
    """The dominant failure reason during an incident and its share of the failed probes.

    Exact counts come from `parichay_probes_total`; where that raw counter is no longer
    kept, the recording rule's 5-minute increases are summed instead (their ratio is the
    same, every failure being counted in as many windows as any other).
    """
    filters = []
    targets = [t for t in incident.targets if t]
    if targets:
        filters.append(f'target=~"{alternation(targets)}"')
    elif incident.scope == "local":
        # A site's own network: its control targets say why.
        filters.append('role="control"')
    if incident.vantages:
        filters.append(f'vantage=~"{alternation(incident.vantages)}"')
    window = max(60, round(incident.end - incident.start))
    at = datetime.fromtimestamp(incident.end, UTC)
    selector = ",".join(filters)
    queries = (
        f'sum by (result) (increase({PROBES_METRIC}{{result!="success",{selector}}}[{window}s]))',
        f"sum by (result) (sum_over_time({REASON_METRIC}{{{selector}}}[{window}s]))",
    )
    for expr in queries:
        counts = {
            s.labels.get("result", ""): s.value
            for s in await prom.query(expr, at=at)
            if s.value == s.value and s.value > 0
        }
        if counts:
            reason = max(sorted(counts), key=lambda r: counts[r])
            return reason, counts[reason] / sum(counts.values())
    return None, None


async def also_down(
    prom: PrometheusClient, *, incident: Incident, services: Sequence[str]
) -> tuple[str, ...]:
    """e-Office rows that were down during a central incident (their login needs Parichay)."""
    apps = [s for s in services if category(s) == "app"]
    if incident.scope != "central" or not apps:
        return ()
    window = max(60, round(incident.end - incident.start))
    expr = (
        f"min by (service) (min_over_time({SERVICE_METRIC}"
        f'{{service=~"{alternation(apps)}"}}[{window}s])) == 0'
    )
    found = await prom.query(expr, at=datetime.fromtimestamp(incident.end, UTC))
    return tuple(s for s in apps if s in {x.labels.get("service") for x in found})
