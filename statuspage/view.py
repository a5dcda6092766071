"""What the page says: headline, rows, incidents, banners; from Prometheus and Alertmanager.

The headline comes from the page alerts that fire (Prometheus `ALERTS`), worded by scope as
the SMS and email are, and says "ITDA has been alerted" only when Alertmanager holds that
alert active and neither silenced nor inhibited; otherwise "ITDA is checking". `Watchdog`
and other non-page alerts never reach the headline. An Alertmanager alert is matched to its
`ALERTS` series on the series' labels (`match_alerts`: Alertmanager's copy also carries
Prometheus's external labels). During maintenance of a row, that row, the rows that depend
on it (e-Office logins need Parichay) and the headline of their alerts say maintenance, and
incidents that fell within maintenance are listed apart from paged ones. If Prometheus or
Alertmanager cannot be read, the view is built from what could be read and `problems` says
what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from servicekit import phrasebook as words
from statuspage import reading
from statuspage.alertmanager import AlertmanagerAPI, AmAlert
from statuspage.history import IST as IST_TZ
from statuspage.history import (
    DayAvailability,
    Incident,
    human_duration,
    ist_day,
)
from statuspage.notices import Notice, list_notices, under_maintenance
from statuspage.paging import SHIPPED_GROUP_WAIT_S, paging_start, read_group_wait
from statuspage.sources import PrometheusClient, SourceError
from statuspage.wording import Name, incident_title, sentence, service_name

HISTORY_DAYS = 90
INCIDENT_DAYS = 30

@dataclass(frozen=True, slots=True)
class Headline:
    """One sentence about one firing page alert (or all is well), in both languages."""

    level: str  # ok | down | partial | local | monitoring | unknown
    en: str
    hi: str
    alertname: str = ""
    since: float | None = None
    alerted: bool = False


def _own(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k not in ("alertstate", "__name__")}


def match_alerts(
    series: Sequence[Mapping[str, str]], am_alerts: Sequence[AmAlert]
) -> list[AmAlert | None]:
    """The Alertmanager alert of each `ALERTS` series (None where Alertmanager has none).

    Prometheus adds its external labels (`runbook_base`, a replica label in HA) to an
    alert when it sends it, and `ALERTS` does not carry them; so an Alertmanager alert
    matches a series when it carries every label of the series, whatever it has besides.
    """
    by_name: dict[str, list[AmAlert]] = {}
    for a in am_alerts:
        by_name.setdefault(a.labels.get("alertname", ""), []).append(a)
    out: list[AmAlert | None] = []
    for lb in series:
        own = _own(lb).items()
        candidates = by_name.get(lb.get("alertname", ""), [])
        out.append(next((a for a in candidates if own <= a.labels.items()), None))
    return out


_ORDER = {"down": 0, "partial": 1, "local": 2, "maintenance": 3, "monitoring": 4}


def headlines(
    *,
    firing: Sequence[Mapping[str, str]] | None,
    am_alerts: Sequence[AmAlert] | None,
    incidents: Sequence[Incident] = (),
    names: Mapping[str, Name] | None = None,
    maintenance_ids: frozenset[str] = frozenset(),
    in_maintenance: frozenset[str] = frozenset(),
) -> list[Headline]:
    """The headline sentences, most severe first; `[ok]` when no page alert fires.

    An alert silenced by an active maintenance window (`maintenance_ids`: silence ids), or
    about a row in maintenance (`in_maintenance`: service ids, with the e-Office rows that
    need a Parichay in maintenance) says so instead of "ITDA is checking".

    `firing` are Prometheus's firing alerts (None if Prometheus could not be read: then
    Alertmanager's alerts stand in, and with none the headline is `unknown`, never `ok`);
    `am_alerts` None if Alertmanager could not be read.
    """
    # Without Prometheus, no page alert in Alertmanager proves nothing (Prometheus is what
    # sends them), so the page must not say all is well.
    unknown = firing is None
    if firing is None:
        firing = [dict(a.labels) for a in am_alerts or () if a.state != "unprocessed"]
    pages = [dict(lb) for lb in firing if lb.get("severity") == "page"]
    pages = [lb for lb in pages if lb.get("alertname") != "Watchdog"]
    # One sentence per alert name and scope; sites of per-vantage alerts are gathered.
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for lb in pages:
        scope = lb.get("scope", "")
        per_target = lb.get("target", "") if scope == "app" else ""
        groups.setdefault((lb.get("alertname", ""), scope, per_target), []).append(lb)
    out = []
    for (alertname, _scope, _), members in groups.items():
        matched = match_alerts(members, am_alerts or ())
        if matched and all(a is not None and a.inhibited_by for a in matched):
            # A symptom of another firing alert (e.g. a site's alerts while its network is
            # down): that alert's sentence says it; this one would blame the wrong party.
            continue
        alerted = any(a is not None and a.notified for a in matched)
        starts = [a.starts_at.timestamp() for a in matched if a is not None]
        if not starts:
            starts = [i.paged_at for i in incidents if i.ongoing and i.alertname == alertname]
        since = min(starts) if starts else None
        vantages = sorted({lb["vantage"] for lb in members if lb.get("vantage")})
        level, en, hi = sentence(members[0], vantages=vantages, since=since, names=names)
        planned = any(
            a is not None and set(a.silenced_by) & maintenance_ids for a in matched
        ) or any(set(reading.alert_services(lb)) & in_maintenance for lb in members)
        tail = words.ITDA_ALERTED if alerted else words.PLANNED if planned else words.ITDA_CHECKING
        if planned and not alerted:
            level = "maintenance"
        out.append(Headline(level, en + tail.en, hi + tail.hi, alertname, since, alerted))
    out.sort(key=lambda h: (_ORDER.get(h.level, 9), h.alertname))
    if not out:
        if unknown:
            return [Headline("unknown", words.STATE_UNKNOWN.en, words.STATE_UNKNOWN.hi)]
        return [Headline("ok", words.ALL_WORKING.en, words.ALL_WORKING.hi)]
    return out


@dataclass(frozen=True, slots=True)
class Row:
    """One service: its state now, since when, and its daily history."""

    service: str
    name: Name
    category: str
    up: bool | None
    since: float | None
    days: tuple[DayAvailability, ...]
    maintenance_now: bool = False

    @property
    def state(self) -> str:
        if self.maintenance_now:
            return "maintenance"
        return {True: "up", False: "down", None: "nodata"}[self.up]

    @property
    def availability(self) -> float | None:
        eligible = sum(d.eligible for d in self.days)
        if eligible == 0:
            return None
        return max(0.0, (eligible - sum(d.down for d in self.days)) / eligible)


@dataclass
class StatusView:
    """Everything the page, `/status.json` and the badges show."""

    now: datetime
    headlines: list[Headline]
    rows: list[Row]
    incidents: list[Incident]  # paged (or paging now), newest first
    active: list[Notice]
    upcoming: list[Notice]
    problems: list[str] = field(default_factory=list)
    names: Mapping[str, Name] = field(default_factory=dict)
    # Incidents within planned maintenance of their rows: nobody was paged.
    planned: list[Incident] = field(default_factory=list)

    def row(self, service: str) -> Row | None:
        return next((r for r in self.rows if r.service == service), None)


async def build_view(
    *,
    prom: PrometheusClient,
    am: AlertmanagerAPI,
    now: datetime,
    names: Mapping[str, Name] | None = None,
    history_days: int = HISTORY_DAYS,
    incident_days: int = INCIDENT_DAYS,
) -> StatusView:
    """Read both sources (each failure recorded in `problems`) and assemble the view."""
    problems: list[str] = []
    am_alerts: list[AmAlert] | None = None
    notices: list[Notice] = []
    group_wait = SHIPPED_GROUP_WAIT_S
    try:
        am_alerts = await am.alerts()
        notices = await list_notices(am)
        group_wait, _ = await read_group_wait(am)
    except SourceError as exc:
        problems.append(f"{exc} - maintenance notices and whether ITDA was alerted are not shown.")
    firing: list[dict[str, str]] | None = None
    rows: list[Row] = []
    found: tuple[list[Incident], list[Incident]] = ([], [])
    in_maintenance = under_maintenance(notices, now=now)
    try:
        firing = await reading.firing_alerts(prom, now=now)
        in_maintenance = under_maintenance(
            notices, now=now, sso_dependents=await reading.sso_dependents(prom, now=now)
        )
        found = await _incidents(
            prom, now=now, days=incident_days, firing=firing, group_wait=group_wait
        )
        rows = await _rows(
            prom, now=now, days=history_days, firing=firing, names=names, maintenance=in_maintenance
        )
    except SourceError as exc:
        problems.append(f"{exc} - current states, history and incidents are not shown.")
    paged, planned = found
    return StatusView(
        now=now,
        headlines=headlines(
            firing=firing,
            am_alerts=am_alerts,
            incidents=paged,
            names=names,
            maintenance_ids=frozenset(
                n.id for n in notices if n.kind == "maintenance" and n.active_at(now)
            ),
            in_maintenance=in_maintenance,
        ),
        rows=rows,
        incidents=paged,
        planned=planned,
        active=[n for n in notices if n.active_at(now)],
        upcoming=[n for n in notices if n.upcoming_at(now)],
        problems=problems,
        names=dict(names or {}),
    )


async def _incidents(
    prom: PrometheusClient,
    *,
    now: datetime,
    days: int,
    firing: Sequence[Mapping[str, str]],
    group_wait: float,
) -> tuple[list[Incident], list[Incident]]:
    """(paged, within maintenance) incidents of the last `days`, newest first."""
    since = now - timedelta(days=days)
    found = await reading.read_incidents(prom, start=since, end=now)
    # Samples cannot tell an incident that just ended from one between two evaluations;
    # what fires now can.
    now_firing = {(lb.get("alertname"), lb.get("scope")) for lb in firing}
    found = [
        replace(i, ongoing=False) if i.ongoing and (i.alertname, i.scope) not in now_firing else i
        for i in found
    ]
    windows = await reading.read_maintenance(prom, start=since, end=now)
    planned = [i for i in found if paging_start(i, windows, group_wait=group_wait) is None]
    return [i for i in found if i not in planned], planned


async def _rows(
    prom: PrometheusClient,
    *,
    now: datetime,
    days: int,
    firing: Sequence[Mapping[str, str]],
    names: Mapping[str, Name] | None,
    maintenance: frozenset[str],
) -> list[Row]:
    services = await reading.list_services(prom, now=now, lookback=timedelta(days=days))
    today = ist_day(now)
    daily = await reading.read_daily(
        prom, first=today - timedelta(days=days - 1), last=today, now=now, services=services
    )
    current = await reading.read_current(prom, now=now, services=services)
    # A row is down once its state was down for a whole minute, or as soon as a page alert
    # about it fires (the alert waited for its own `for:`): never "Working" under a
    # headline that says it is down.
    alerted = {
        s for lb in firing if lb.get("severity") == "page" for s in reading.alert_services(lb)
    }
    rows = []
    for service in services:
        state = current[service]
        up = False if service in alerted else state.up
        rows.append(
            Row(
                service=service,
                name=service_name(service, names),
                category=reading.category(service),
                up=up,
                since=state.since if up == state.up else None,
                days=tuple(daily.get(service, ())),
                maintenance_now=service in maintenance,
            )
        )
    return rows


def _day_json(d: DayAvailability) -> dict[str, Any]:
    return {
        "day": d.day.isoformat(),
        "availability": d.availability,
        "minutes_down": d.down,
        "minutes_maintenance": d.maintenance,
        "minutes_without_data": d.gap,
        "level": d.level,
    }


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts).astimezone(IST_TZ).isoformat()


def _notice_json(n: Notice) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind,
        "service": n.service,
        "note_en": n.note_en,
        "note_hi": n.note_hi,
        "start": n.start.astimezone(IST_TZ).isoformat(),
        "end": n.end.astimezone(IST_TZ).isoformat(),
    }


def to_json(view: StatusView) -> dict[str, Any]:
    """The view as plain JSON-able data (`/status.json`)."""
    return {
        "generated_at": view.now.astimezone(IST_TZ).isoformat(),
        "headline": [
            {
                "level": h.level,
                "en": h.en,
                "hi": h.hi,
                "alertname": h.alertname or None,
                "since": _iso(h.since),
                "itda_alerted": h.alerted,
            }
            for h in view.headlines
        ],
        "services": [
            {
                "service": r.service,
                "name_en": r.name.en,
                "name_hi": r.name.hi,
                "category": r.category,
                "state": r.state,
                "since": _iso(r.since),
                "availability": r.availability,
                "days": [_day_json(d) for d in r.days],
            }
            for r in view.rows
        ],
        "incidents": [_incident_json(i, view) for i in view.incidents],
        "incidents_in_maintenance": [_incident_json(i, view) for i in view.planned],
        "maintenance_active": [_notice_json(n) for n in view.active],
        "maintenance_upcoming": [_notice_json(n) for n in view.upcoming],
        "problems": view.problems,
    }


def _incident_json(i: Incident, view: StatusView) -> dict[str, Any]:
    return {
        "alertname": i.alertname,
        "title_en": incident_title(i, view.names).en,
        "title_hi": incident_title(i, view.names).hi,
        "scope": i.scope,
        "start": _iso(i.start),
        "end": None if i.ongoing else _iso(i.end),
        "ongoing": i.ongoing,
        "duration_minutes": round(i.duration / 60),
        "duration": human_duration(i.duration),
        "targets": list(i.targets),
        "sites": list(i.vantages),
    }
