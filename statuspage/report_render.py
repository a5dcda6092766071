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

import json
import os
import secrets
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from statuspage.history import human_duration, ist
from statuspage.periods import ReportError, span
from statuspage.report import (
    SCOPES,
    Report,
    ReportIncident,
    duration_hi,
    percent,
    vantage_names,
)
from statuspage.report_chart import COLOURS, chart_svg
from statuspage.report_data import to_csv, to_json
from statuspage.templating import TEMPLATES
from statuspage.wording import Name

FORMATS = ("html", "pdf", "csv", "json")
DEFAULT_CHROMIUM = "/usr/bin/chromium"



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
    template = TEMPLATES.get_template("report.html")
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
