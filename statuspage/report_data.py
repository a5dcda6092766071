"""The report as data: `to_json` (schema `parichay-report/1`) and `to_csv` (one row per
service, one per event: paged incident, incident in maintenance, maintenance window, gap).
Times are ISO 8601 in IST, minutes whole numbers, as in the HTML.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC
from typing import Any

from statuspage.history import ist
from statuspage.report import (
    Report,
    ReportIncident,
    ServiceFigures,
)

SCHEMA = "parichay-report/1"


def iso(ts: float) -> str:
    """Unix seconds as ISO 8601 in IST, to the second."""
    return ist(ts).isoformat(timespec="seconds")


def minutes(seconds: float) -> int:
    """Seconds as whole minutes (rounded)."""
    return round(seconds / 60)




def to_json(report: Report) -> dict[str, Any]:
    """Everything in the report as plain data (times ISO 8601 in IST, minutes as integers)."""
    return {
        "schema": SCHEMA,
        "period": {
            "first": report.period.first.isoformat(),
            "last": report.period.last.isoformat(),
            "label": report.period.label.en,
            "start": report.period.start.isoformat(),
            "end": report.period.end.isoformat(),
            "complete": report.complete,
        },
        "generated_at": report.generated_at.astimezone(UTC).isoformat(timespec="seconds"),
        "source": {"prometheus": report.source},
        "objective": report.objective,
        "objective_source": report.objective_source,
        "group_wait_seconds": report.group_wait_s,
        "group_wait_source": report.group_wait_source,
        "summary": {"en": report.summary.en, "hi": report.summary.hi},
        "services": [_service_json(report, s) for s in report.services],
        "incidents": [_incident_json(i) for i in report.incidents],
        # Inside maintenance windows: nobody was paged, so no time to page.
        "maintenance_incidents": [
            {k: v for k, v in _incident_json(i).items() if k != "time_to_page_seconds"}
            for i in report.maintenance_incidents
        ],
        "maintenance": [
            {
                "service": w.service,
                "start": iso(w.start),
                "end": iso(w.end),
                "duration_minutes": minutes(w.duration),
            }
            for w in report.maintenance
        ],
        "gaps": [
            {"start": iso(g.start), "end": iso(g.end), "duration_minutes": minutes(g.duration)}
            for g in report.gaps
        ],
        "previous_period": {
            "first": report.previous_period.first.isoformat(),
            "last": report.previous_period.last.isoformat(),
            "label": report.previous_period.label.en,
        },
    }


def _incident_json(i: ReportIncident) -> dict[str, Any]:
    return {
        "alertname": i.alertname,
        "scope": i.scope,
        "start": iso(i.start),
        "end": None if i.ongoing else iso(i.end),
        "ongoing": i.ongoing,
        "duration_minutes": minutes(i.duration),
        "services": list(i.services),
        "targets": list(i.targets),
        "vantages": list(i.vantages),
        "reason": i.reason,
        "reason_share": None if i.reason_share is None else round(i.reason_share, 4),
        "time_to_page_seconds": round(i.time_to_page),
        "for_seconds": round(i.paged_after_s),
    }


def _service_json(report: Report, s: ServiceFigures) -> dict[str, Any]:
    return {
        "service": s.service,
        "name": {"en": s.name.en, "hi": s.name.hi},
        "availability": None if s.availability is None else round(s.availability, 6),
        "objective": s.objective,
        "objective_met": s.met,
        "minutes": s.minutes,
        "eligible_minutes": s.eligible,
        "down_minutes": s.down,
        "gap_minutes": s.gap,
        "maintenance_minutes": s.maintenance,
        "error_budget_used": None if s.budget_used is None else round(s.budget_used, 4),
        "incidents": len(s.incidents),
        "incidents_in_maintenance": len(s.maintenance_incidents),
        "mttr_minutes": None if s.mttr is None else minutes(s.mttr),
        "longest_incident": None if s.longest is None else _incident_json(s.longest),
        "previous": _previous_json(report, s.service),
        "days": [
            {
                "day": d.day.isoformat(),
                "availability": None if d.availability is None else round(d.availability, 6),
                "down_minutes": d.down,
                "gap_minutes": d.gap,
                "maintenance_minutes": d.maintenance,
            }
            for d in s.days
        ],
    }


def _previous_json(report: Report, service: str) -> dict[str, Any] | None:
    prev = report.previous.get(service)
    if prev is None:
        return None
    return {
        "availability": None if prev.availability is None else round(prev.availability, 6),
        "down_minutes": prev.down,
        "incidents": prev.incidents,
        "gap_minutes": prev.gap,
    }


SERVICE_COLUMNS = (
    "service", "name", "availability_percent", "objective_percent", "objective_met",
    "down_minutes", "eligible_minutes", "gap_minutes", "maintenance_minutes",
    "error_budget_used_percent", "incidents", "mttr_minutes", "longest_incident_minutes",
    "previous_availability_percent", "incidents_in_maintenance",
)  # fmt: skip
EVENT_COLUMNS = (
    "kind", "start_ist", "end_ist", "duration_minutes", "alertname", "scope", "services",
    "vantages", "reason", "time_to_page_seconds",
)  # fmt: skip


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.4f}"


def to_csv(report: Report) -> tuple[str, str]:
    """Two CSV texts: one row per service, and one per event, in time order.

    Event kinds: `incident` (paged), `incident_in_maintenance` (nobody paged; no time to
    page), `maintenance` (a window) and `gap`.
    """
    services = io.StringIO()
    w = csv.writer(services, lineterminator="\r\n")
    w.writerow(SERVICE_COLUMNS)
    for s in report.services:
        prev = report.previous.get(s.service)
        w.writerow(
            (
                s.service,
                s.name.en,
                _pct(s.availability),
                _pct(s.objective),
                "" if s.met is None else ("yes" if s.met else "no"),
                s.down,
                s.eligible,
                s.gap,
                s.maintenance,
                "" if s.budget_used is None else f"{s.budget_used * 100:.1f}",
                len(s.incidents),
                "" if s.mttr is None else minutes(s.mttr),
                "" if s.longest is None else minutes(s.longest.duration),
                _pct(prev.availability) if prev else "",
                len(s.maintenance_incidents),
            )
        )
    events = io.StringIO()
    w = csv.writer(events, lineterminator="\r\n")
    w.writerow(EVENT_COLUMNS)
    rows: list[tuple[float, tuple[Any, ...]]] = []
    for i in (*report.incidents, *report.maintenance_incidents):
        rows.append(
            (
                i.start,
                (
                    "incident_in_maintenance" if i.in_maintenance else "incident",
                    iso(i.start),
                    "" if i.ongoing else iso(i.end),
                    minutes(i.duration),
                    i.alertname,
                    i.scope,
                    " ".join(i.services),
                    " ".join(i.vantages),
                    i.reason or "",
                    "" if i.in_maintenance else round(i.time_to_page),
                ),
            )
        )
    for m in report.maintenance:
        rows.append(
            (
                m.start,
                (
                    "maintenance",
                    iso(m.start),
                    iso(m.end),
                    minutes(m.duration),
                    "",
                    "",
                    m.service,
                    "",
                    "",
                    "",
                ),
            )
        )
    for g in report.gaps:
        rows.append(
            (
                g.start,
                ("gap", iso(g.start), iso(g.end), minutes(g.duration)) + ("",) * 6,
            )
        )
    for _, row in sorted(rows, key=lambda r: r[0]):
        w.writerow(row)
    return services.getvalue(), events.getvalue()


