"""The monthly report as files: HTML (with an inline SVG chart), PDF, CSV and JSON.

The HTML is one self-contained file (no external assets, every text escaped by Jinja2's
autoescape). The PDF is that HTML printed by Debian's Chromium through Playwright (never a
downloaded browser): Chromium shapes Devanagari with HarfBuzz and writes the text so that
`pdftotext`, search and copy-paste give back the Hindi exactly (docs/report.md says why it
was chosen over WeasyPrint). CSV is two files, services and events, for spreadsheets; JSON
carries everything, with a `schema` key. Incidents inside maintenance windows (nobody was
paged) have their own section, JSON key and CSV event kind, apart from paged incidents.

Writing is all or nothing: `write_report` renders every requested format into hidden
temporary files in the output folder, and only when all of them succeeded renames them into
place (a same-folder rename, atomic per file). On any failure the temporary files are
removed: nothing new is left behind, and an earlier report of the same period stays as it was.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from statuspage.history import DayAvailability, human_duration, ist
from statuspage.report import (
    SCOPES,
    Report,
    ReportError,
    ReportIncident,
    ServiceFigures,
    duration_hi,
    percent,
    span,
    vantage_names,
)
from statuspage.view import Name

FORMATS = ("html", "pdf", "csv", "json")
SCHEMA = "parichay-report/1"
DEFAULT_CHROMIUM = "/usr/bin/chromium"

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("statuspage", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


def _iso(ts: float) -> str:
    return ist(ts).isoformat(timespec="seconds")


def _minutes(seconds: float) -> int:
    return round(seconds / 60)


# ---------------------------------------------------------------------------- chart

CHART_W, CHART_H, PAD_L, PAD_B, PAD_T = 680, 96, 44, 20, 6
COLOURS = {
    "up": "#1a7f37",
    "degraded": "#bf8700",
    "down": "#cf222e",
    "maintenance": "#0969da",
    "nodata": "#8c959f",
}


def chart_svg(figures: ServiceFigures) -> Markup:
    """Daily availability of one service as an inline SVG bar chart with a tooltip per day."""
    days = figures.days
    known = [d.availability for d in days if d.availability is not None]
    low = min([*known, figures.objective - 0.005])
    # The axis starts at a round percentage under the worst day so small dips stay visible.
    floor = max(0.0, min(0.99, int(low * 100 - 0.5) / 100))
    plot_w = CHART_W - PAD_L - 4
    plot_h = CHART_H - PAD_B - PAD_T
    slot = plot_w / max(1, len(days))
    bar = max(1.0, slot * 0.8)

    def y(value: float) -> float:
        return PAD_T + plot_h * (1 - (value - floor) / (1 - floor))

    title = f"Daily availability of {figures.name.en}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {CHART_W} {CHART_H}"'
        f' role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        '<defs><pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="2" height="4" fill="#8c959f"/>'
        "</pattern></defs>",
    ]
    for value in (floor, (floor + 1) / 2, 1.0):
        yy = y(value)
        out.append(
            f'<line x1="{PAD_L}" x2="{CHART_W - 4}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#d0d7de"/>'
            f'<text x="{PAD_L - 4}" y="{yy + 3:.1f}" text-anchor="end" font-size="9">'
            f"{value * 100:.1f} %</text>"
        )
    for i, d in enumerate(days):
        x = PAD_L + i * slot + (slot - bar) / 2
        tip = _day_tip(d)
        avail = d.availability
        if avail is None:
            top, fill = float(PAD_T), "url(#hatch)"
        else:
            top, fill = y(max(floor, avail)), COLOURS.get(d.level, COLOURS["up"])
        height = max(1.0, PAD_T + plot_h - top)
        level = "nodata" if avail is None else d.level
        out.append(
            f'<rect class="day {level}" data-day="{d.day.isoformat()}" x="{x:.1f}" '
            f'y="{top:.1f}" width="{bar:.1f}" height="{height:.1f}" '
            f'fill="{fill}"><title>{escape(tip)}</title></rect>'
        )
        # Strips under the bar: maintenance (blue) and missing data (grey) on that day.
        for n, (kind, minutes) in enumerate((("maintenance", d.maintenance), ("nodata", d.gap))):
            if minutes:
                out.append(
                    f'<rect class="strip {kind}" data-day="{d.day.isoformat()}" x="{x:.1f}" '
                    f'y="{PAD_T + plot_h + 1 + 3 * n:.1f}" width="{bar:.1f}" '
                    f'height="2.5" fill="{COLOURS[kind]}"><title>{escape(tip)}</title></rect>'
                )
        if d.day.day == 1 or d.day.day % 5 == 0 or i == 0:
            out.append(
                f'<text x="{x + bar / 2:.1f}" y="{CHART_H - 2}" text-anchor="middle" '
                f'font-size="9">{d.day.day}</text>'
            )
    obj = y(figures.objective)
    out.append(
        f'<line x1="{PAD_L}" x2="{CHART_W - 4}" y1="{obj:.1f}" y2="{obj:.1f}" stroke="#24292f" '
        f'stroke-dasharray="4 3"><title>objective {escape(percent(figures.objective, digits=1))}'
        "</title></line>"
    )
    out.append("</svg>")
    return Markup("".join(out))


def _day_tip(d: DayAvailability) -> str:
    parts = [f"{d.day.isoformat()}: {percent(d.availability)}", f"{d.down} min down"]
    if d.gap:
        parts.append(f"{d.gap} min without data")
    if d.maintenance:
        parts.append(f"{d.maintenance} min maintenance")
    return ", ".join(parts)


# ---------------------------------------------------------------------------- HTML


def _incident_view(i: ReportIncident, report: Report, names: Any) -> dict[str, Any]:
    when = span(i.start, i.end)
    scope = SCOPES.get(i.scope, Name(i.scope, i.scope))
    return {
        "alertname": i.alertname,
        "when": when,
        "start": _short(i.start),
        "end": "ongoing" if i.ongoing else _short(i.end),
        "duration": human_duration(i.duration),
        "duration_hi": duration_hi(i.duration),
        "scope": scope,
        "services": ", ".join(_service_label(report, s) for s in i.services) or "—",
        "vantages": vantage_names(i.vantages, names).en if i.vantages else "all sites",
        "reason": i.reason or "unknown",
        "reason_share": "" if i.reason_share is None else f"{i.reason_share * 100:.0f} %",
        "time_to_page": _seconds(i.time_to_page),
        "paged_after": _seconds(i.paged_after_s),
    }


def _short(ts: float) -> str:
    when = ist(ts)
    return f"{when.day} {when:%b %H:%M}"


def _seconds(value: float) -> str:
    whole = round(value)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


def _service_label(report: Report, service: str) -> str:
    for s in report.services:
        if s.service == service:
            return s.name.en
    return service


def _change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "—"
    delta = (now - before) * 100
    return f"{delta:+.2f} points"


def render_html(report: Report, *, names: Any = None) -> str:
    """The report as one self-contained HTML page."""
    services = []
    for s in report.services:
        prev = report.previous.get(s.service)
        longest = s.longest
        services.append(
            {
                "f": s,
                "availability": percent(s.availability),
                "objective": percent(s.objective, digits=1),
                "met": s.met,
                "budget": "—" if s.budget_used is None else f"{s.budget_used * 100:.0f} %",
                "mttr": "—" if s.mttr is None else human_duration(s.mttr),
                "longest": "—"
                if longest is None
                else f"{human_duration(longest.duration)}, {span(longest.start, longest.end).en}",
                "chart": chart_svg(s),
                "prev_availability": percent(prev.availability) if prev else "no data",
                "prev_down": prev.down if prev else None,
                "prev_incidents": prev.incidents if prev else None,
                "change": _change(s.availability, prev.availability if prev else None),
            }
        )
    template = _env.get_template("report.html")
    return template.render(
        r=report,
        services=services,
        incidents=[_incident_view(i, report, names) for i in report.incidents],
        quiet=[_incident_view(i, report, names) for i in report.maintenance_incidents],
        maintenance=[
            {
                "service": _service_label(report, w.service),
                "when": span(w.start, w.end).en,
                "duration": human_duration(w.duration),
            }
            for w in report.maintenance
        ],
        gaps=[
            {"when": span(g.start, g.end).en, "duration": human_duration(g.duration)}
            for g in report.gaps
        ],
        generated=ist(report.generated_at).strftime("%d %b %Y %H:%M IST"),
        group_wait=_seconds(report.group_wait_s),
        colours=COLOURS,
    )


# ---------------------------------------------------------------------------- JSON / CSV


def to_json(report: Report) -> dict[str, Any]:
    """Everything in the report as plain data (times ISO 8601 in IST, minutes as integers)."""

    def incident(i: ReportIncident) -> dict[str, Any]:
        return {
            "alertname": i.alertname,
            "scope": i.scope,
            "start": _iso(i.start),
            "end": None if i.ongoing else _iso(i.end),
            "ongoing": i.ongoing,
            "duration_minutes": _minutes(i.duration),
            "services": list(i.services),
            "targets": list(i.targets),
            "vantages": list(i.vantages),
            "reason": i.reason,
            "reason_share": None if i.reason_share is None else round(i.reason_share, 4),
            "time_to_page_seconds": round(i.time_to_page),
            "for_seconds": round(i.paged_after_s),
        }

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
        "services": [
            {
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
                "mttr_minutes": None if s.mttr is None else _minutes(s.mttr),
                "longest_incident": None if s.longest is None else incident(s.longest),
                "previous": _previous_json(report, s.service),
                "days": [
                    {
                        "day": d.day.isoformat(),
                        "availability": None
                        if d.availability is None
                        else round(d.availability, 6),
                        "down_minutes": d.down,
                        "gap_minutes": d.gap,
                        "maintenance_minutes": d.maintenance,
                    }
                    for d in s.days
                ],
            }
            for s in report.services
        ],
        "incidents": [incident(i) for i in report.incidents],
        # Inside maintenance windows: nobody was paged, so no time to page.
        "maintenance_incidents": [
            {k: v for k, v in incident(i).items() if k not in ("time_to_page_seconds",)}
            for i in report.maintenance_incidents
        ],
        "maintenance": [
            {
                "service": w.service,
                "start": _iso(w.start),
                "end": _iso(w.end),
                "duration_minutes": _minutes(w.duration),
            }
            for w in report.maintenance
        ],
        "gaps": [
            {"start": _iso(g.start), "end": _iso(g.end), "duration_minutes": _minutes(g.duration)}
            for g in report.gaps
        ],
        "previous_period": {
            "first": report.previous_period.first.isoformat(),
            "last": report.previous_period.last.isoformat(),
            "label": report.previous_period.label.en,
        },
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
                "" if s.mttr is None else _minutes(s.mttr),
                "" if s.longest is None else _minutes(s.longest.duration),
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
                    _iso(i.start),
                    "" if i.ongoing else _iso(i.end),
                    _minutes(i.duration),
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
                    _iso(m.start),
                    _iso(m.end),
                    _minutes(m.duration),
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
                ("gap", _iso(g.start), _iso(g.end), _minutes(g.duration)) + ("",) * 6,
            )
        )
    for _, row in sorted(rows, key=lambda r: r[0]):
        w.writerow(row)
    return services.getvalue(), events.getvalue()


# ---------------------------------------------------------------------------- PDF


def chromium_path(explicit: str | None = None) -> str:
    """The Chromium binary to print with: the option, $PARICHAY_CHROMIUM, or Debian's."""
    candidate = explicit or os.environ.get("PARICHAY_CHROMIUM") or DEFAULT_CHROMIUM
    found = shutil.which(candidate)
    if found is None:
        raise ReportError(
            f"--chromium {candidate}: no Chromium there; the PDF needs Debian's `chromium` "
            "package (apt-get install chromium fonts-noto-core) or --chromium PATH"
        )
    return found


async def render_pdf(html: str, *, path: Path, chromium: str) -> None:
    """Print the HTML to an A4 PDF with Chromium (Playwright, `executable_path`)."""
    try:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import async_playwright
    except ImportError:
        raise ReportError(
            "--format pdf: the Python package playwright is missing; install the `report` "
            "extra (pip install 'parichay-exporter[report]')"
        ) from None
    footer = (
        '<div style="font-size:8px;width:100%;text-align:center;color:#57606a">'
        'Parichay &amp; e-Office monthly report: page <span class="pageNumber"></span> of '
        '<span class="totalPages"></span></div>'
    )
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium)
            try:
                page = await browser.new_page()
                await page.set_content(html, wait_until="load")
                await page.emulate_media(media="print")
                await page.pdf(
                    path=str(path),
                    format="A4",
                    print_background=True,
                    display_header_footer=True,
                    header_template="<div></div>",
                    footer_template=footer,
                    margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
                )
            finally:
                await browser.close()
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportError(f"--format pdf: Chromium at {chromium} failed: {first}") from None


# ---------------------------------------------------------------------------- files


def parse_formats(text: str) -> list[str]:
    """`html,pdf` -> ["html", "pdf"]; unknown names are an error naming the choices."""
    chosen = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in chosen if f not in FORMATS]
    if bad or not chosen:
        raise ReportError(
            f"--format: expected one or more of {', '.join(FORMATS)} separated by commas, "
            f"got {text!r}"
        )
    return list(dict.fromkeys(chosen))


async def write_report(
    report: Report,
    *,
    out: Path,
    formats: Sequence[str],
    chromium: str | None = None,
    names: Any = None,
) -> list[Path]:
    """Write the chosen formats into `out` (created if needed); return the files written.

    All or nothing: every format is rendered to a hidden temporary file in `out` first, and
    the files are renamed into place only when all succeeded. A failure (say Chromium cannot
    start) raises `ReportError` and leaves `out` as it was, earlier reports included.
    """
    _make_dir(out)
    stem = f"parichay-report-{report.period.slug}"
    html = render_html(report, names=names) if {"html", "pdf"} & set(formats) else ""
    browser = chromium_path(chromium) if "pdf" in formats else ""
    staged: list[tuple[Path, Path]] = []  # (temporary, final), in the order written

    def stage(name: str) -> Path:
        tmp = out / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.part"
        staged.append((tmp, out / name))
        return tmp

    try:
        for fmt in formats:
            if fmt == "html":
                _write(stage(f"{stem}.html"), html)
            elif fmt == "json":
                text = json.dumps(to_json(report), ensure_ascii=False, indent=2) + "\n"
                _write(stage(f"{stem}.json"), text)
            elif fmt == "csv":
                services, events = to_csv(report)
                _write(stage(f"{stem}-services.csv"), services)
                _write(stage(f"{stem}-events.csv"), events)
            elif fmt == "pdf":
                await render_pdf(html, path=stage(f"{stem}.pdf"), chromium=browser)
        for tmp, final in staged:
            try:
                tmp.replace(final)
            except OSError as exc:
                raise ReportError(f"--out: cannot write {final}: {exc.strerror}") from None
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    return [final for _, final in staged]


def _make_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"--out {out}: cannot create it: {exc.strerror}") from None


def _write(path: Path, text: str) -> Path:
    try:
        with path.open("x", encoding="utf-8", newline="") as f:
            f.write(text)
    except OSError as exc:
        raise ReportError(f"--out: cannot write in {path.parent}: {exc.strerror}") from None
    return path


def generated_now() -> datetime:
    """The wall clock, for the CLI."""
    return datetime.now(UTC)
