"""The monthly report against a real Prometheus backfilled with a month of synthetic history.

The month is last calendar month (IST), so `parichay-status report --month` accepts it as a
past month. It holds: a 4-hour central outage on its first Monday from 09:40 IST, two
one-minute blips that page nobody, a one-hour partial-reachability incident at one site,
a 3-hour Parichay maintenance window with a one-hour central outage inside it (its alert
fired, silenced: nobody was paged), and a 2-hour gap with no data at all; five days before
the month, a 30-minute central outage (the comparison). The expected figures are computed
here from that definition (tests/support/report_month.py) alone, by counting minutes.

The report reads history from Prometheus only (the windows from `parichay_maintenance_active`,
as the status page exports them from its silences); no Alertmanager holds alerts here.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import async_playwright

from statuspage.alertmanager import AlertmanagerClient
from statuspage.history import IST
from statuspage.report import Comparison, build_report
from statuspage.report_chart import COLOURS
from statuspage.report_data import to_csv, to_json
from statuspage.report_render import render_html, write_report
from statuspage.sources import PrometheusClient
from tests.statuspage.conftest import History, start_history
from tests.support.backfill import holding_alertmanager
from tests.support.net import free_port
from tests.support.report_month import HARIDWAR, Month, last_month, minutes, month_scenario

OBJECTIVE = 0.999  # recorded by the backfilled objective rule


@dataclass
class Setup:
    month: Month
    history: History
    now: datetime


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def month_history(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    now = datetime.now(UTC)
    month = last_month(now)
    h = await start_history(
        month_scenario(month, now, objective=OBJECTIVE), tmp_path_factory.mktemp("report")
    )
    try:
        yield Setup(month, h, now)
    finally:
        await h.prometheus.stop()


pytestmark = [pytest.mark.binaries, pytest.mark.asyncio(loop_scope="module")]


async def _report(setup: Setup, **kw: object):  # type: ignore[no-untyped-def]
    async with PrometheusClient(url=setup.history.url) as prom:
        return await build_report(prom, period=setup.month.period, now=setup.now, **kw)  # type: ignore[arg-type]


async def test_exactly_the_two_paged_incidents_with_their_durations(month_history: Setup) -> None:
    """The central outage and the partial-reachability hour are the only incidents; blips are not."""
    m = month_history.month
    report = await _report(month_history)
    got = [(i.alertname, i.scope, round(i.duration / 60)) for i in report.incidents]
    assert got == [
        ("ParichayDown", "central", minutes(m.outage)),
        ("ParichayPartiallyUnreachable", "path", minutes(m.partial)),
    ]
    central, partial = report.incidents
    assert abs(central.start - m.outage[0].timestamp()) < 60
    assert abs(central.end - m.outage[1].timestamp()) < 60
    assert partial.vantages == (HARIDWAR,)
    assert partial.services == (f"site:{HARIDWAR}",)
    # The synthetic e-Office login goes through Parichay: it fell with it, e-Office web did not.
    assert central.services == ("parichay", "eoffice-login")
    assert (central.reason, partial.reason) == ("http_5xx", "connect_timeout")
    # The backfilled alerts are pending for one minute (`for: 1m`); no Alertmanager given,
    # so the shipped group_wait of 10 s is added.
    assert round(central.time_to_page) == 70
    # The outage inside the maintenance window fired too, silenced: listed apart.
    [quiet] = report.maintenance_incidents
    assert (quiet.alertname, quiet.scope, round(quiet.duration / 60)) == (
        "ParichayDown", "central", minutes(m.in_maintenance),
    )  # fmt: skip
    assert quiet.in_maintenance and quiet.services == ("parichay", "eoffice-login")
    assert abs(quiet.start - m.in_maintenance[0].timestamp()) < 60


async def test_an_outage_inside_maintenance_paged_nobody(month_history: Setup) -> None:
    """The outage inside the window is no paged incident: not in the counts, the summary's
    "paged for", time to page or MTTR; it is listed in its own section of HTML, JSON and CSV."""
    m = month_history.month
    report = await _report(month_history)
    parichay = next(s for s in report.services if s.service == "parichay")
    login = next(s for s in report.services if s.service == "eoffice-login")
    assert [len(parichay.incidents), len(parichay.maintenance_incidents)] == [1, 1]
    assert [len(login.incidents), len(login.maintenance_incidents)] == [1, 1]
    # MTTR is the 4-hour outage's alone (the hour in maintenance would make it 2 h 30).
    assert parichay.mttr is not None and round(parichay.mttr / 60) == minutes(m.outage)
    assert login.mttr == parichay.mttr
    assert "ITDA was paged for 2 incidents (1 central, 1 network path)" in report.summary.en
    assert "1 outage during planned maintenance paged nobody" in report.summary.en
    assert "नियोजित रखरखाव के दौरान 1 रुकावट हुई;" in report.summary.hi
    data = to_json(report)
    assert [i["alertname"] for i in data["incidents"]] == [
        "ParichayDown", "ParichayPartiallyUnreachable",
    ]  # fmt: skip
    [quiet] = data["maintenance_incidents"]
    assert quiet["duration_minutes"] == minutes(m.in_maintenance)
    assert "time_to_page_seconds" not in quiet
    rows = {r["service"]: r for r in data["services"]}
    assert (rows["parichay"]["incidents"], rows["parichay"]["incidents_in_maintenance"]) == (1, 1)
    services_csv, events_csv = to_csv(report)
    events = list(csv.DictReader(io.StringIO(events_csv)))
    [row] = [e for e in events if e["kind"] == "incident_in_maintenance"]
    assert row["alertname"] == "ParichayDown" and row["time_to_page_seconds"] == ""
    assert row["start_ist"].startswith(m.in_maintenance[0].strftime("%Y-%m-%dT%H:%M"))
    csv_parichay = next(
        r for r in csv.DictReader(io.StringIO(services_csv)) if r["service"] == "parichay"
    )
    assert (csv_parichay["incidents"], csv_parichay["incidents_in_maintenance"]) == ("1", "1")
    html = render_html(report)
    section = html.split('id="quiet"', 1)[1].split("</section>", 1)[0]
    assert "During planned maintenance (nobody was paged)" in section
    assert "नियोजित रखरखाव के दौरान (किसी को सूचना नहीं भेजी गई)" in section
    assert section.count("<tr>") == 2 and "ParichayDown" in section  # header and one incident
    paged = html.split('id="incidents"', 1)[1].split("</section>", 1)[0]
    assert paged.count("ParichayDown") == 1


async def test_availability_to_a_hundredth_of_a_percent(month_history: Setup) -> None:
    """Availability counts blips as down, leaves out maintenance and the gap, to 0.01 %."""
    m = month_history.month
    report = await _report(month_history)
    total = m.period.days * 1440
    gap = minutes(m.gap)
    maintenance = minutes(m.maintenance)
    down = minutes(m.outage) + len(m.blips)  # each blip is one down minute
    eligible = total - gap - maintenance
    expected = (eligible - down) / eligible
    parichay = next(s for s in report.services if s.service == "parichay")
    assert parichay.availability is not None
    assert abs(parichay.availability - expected) * 100 < 0.01
    assert (parichay.down, parichay.gap, parichay.maintenance) == (down, gap, maintenance)
    assert len(parichay.incidents) == 1
    site = next(s for s in report.services if s.service == f"site:{HARIDWAR}")
    site_eligible = total - gap
    assert site.availability is not None
    site_expected = (site_eligible - minutes(m.partial)) / site_eligible
    assert abs(site.availability - site_expected) * 100 < 0.01
    assert (report.objective, report.objective_source) == (OBJECTIVE, "rule")
    assert parichay.met is (expected >= OBJECTIVE)
    budget = down / ((1 - OBJECTIVE) * eligible)
    assert parichay.budget_used is not None and abs(parichay.budget_used - budget) < 1e-6


async def test_gap_and_maintenance_are_named(month_history: Setup) -> None:
    """The 2-hour gap is reported as a gap and the window as maintenance, with their times."""
    m = month_history.month
    report = await _report(month_history)
    assert [(round(g.start), round(g.end)) for g in report.gaps] == [
        (round(m.gap[0].timestamp()), round(m.gap[1].timestamp()))
    ]
    assert [(w.service, round(w.duration / 60)) for w in report.maintenance] == [
        ("parichay", minutes(m.maintenance))
    ]
    assert abs(report.maintenance[0].start - m.maintenance[0].timestamp()) < 60


async def test_summary_and_comparison(month_history: Setup) -> None:
    """The summary names downtime, incidents, the longest outage, maintenance and the gap."""
    m = month_history.month
    report = await _report(month_history)
    start = m.outage[0]
    assert f"{start:%H:%M}-{m.outage[1]:%H:%M} IST" in report.summary.en
    assert "4 h 02 min" in report.summary.en  # 240 min outage + two blips
    assert "2 incidents (1 central, 1 network path)" in report.summary.en
    assert "missing for 2 h 00 min" in report.summary.en
    assert "objective of 99.9 %" in report.summary.en
    assert "4 घंटे 02 मिनट" in report.summary.hi and "2 घटनाओं" in report.summary.hi
    prev = report.previous["parichay"]
    assert prev.down == minutes(m.before) and prev.incidents == 1 and prev.gap > 0
    assert prev.availability is not None and prev.availability < 1


async def test_comparison_applies_the_current_months_rules(month_history: Setup) -> None:
    """The previous month's central outage also counts for the e-Office login, which fell
    with it, exactly as in the current month; and the comparison equals that month's own
    report, figure for figure."""
    m = month_history.month
    report = await _report(month_history)
    login = report.previous["eoffice-login"]
    assert (login.down, login.incidents) == (minutes(m.before), 1)
    assert report.previous["eoffice-web"].incidents == 0
    async with PrometheusClient(url=month_history.history.url) as prom:
        before = await build_report(prom, period=report.previous_period, now=month_history.now)
    assert before.period == report.previous_period
    own = {
        s.service: Comparison(s.availability, s.down, len(s.incidents), s.gap)
        for s in before.services
    }
    assert own == dict(report.previous)


async def test_group_wait_is_read_from_alertmanager(month_history: Setup, tmp_path: Path) -> None:
    """With an Alertmanager given, time to page adds its page route's group_wait (1 s there)."""
    async with holding_alertmanager(workdir=tmp_path / "am") as am_proc:
        async with AlertmanagerClient(url=am_proc.url) as am:
            report = await _report(month_history, am=am)
    assert report.group_wait_s == 1.0
    assert round(report.incidents[0].time_to_page) == 61
    assert am_proc.url.removeprefix("http://") in report.group_wait_source


async def test_service_filter(month_history: Setup) -> None:
    """--service keeps that row and the incidents that took it down only."""
    report = await _report(month_history, services=[f"site:{HARIDWAR}"])
    assert [s.service for s in report.services] == [f"site:{HARIDWAR}"]
    assert [i.alertname for i in report.incidents] == ["ParichayPartiallyUnreachable"]


async def test_csv_and_json(month_history: Setup) -> None:
    """The CSV files parse with `csv` and the JSON has the schema's keys and figures."""
    m = month_history.month
    report = await _report(month_history)
    services, events = to_csv(report)
    rows = list(csv.DictReader(io.StringIO(services)))
    parichay = next(r for r in rows if r["service"] == "parichay")
    assert int(parichay["down_minutes"]) == minutes(m.outage) + 2
    kinds = [r["kind"] for r in csv.DictReader(io.StringIO(events))]
    assert sorted(kinds) == [
        "gap", "incident", "incident", "incident_in_maintenance", "maintenance",
    ]  # fmt: skip
    data = json.loads(json.dumps(to_json(report)))
    assert data["schema"] == "parichay-report/1"
    assert {"period", "summary", "services", "incidents", "maintenance", "gaps"} <= set(data)
    assert [i["duration_minutes"] for i in data["incidents"]] == [240, 60]
    assert data["gaps"][0]["duration_minutes"] == 120
    assert data["incidents"][0]["start"].startswith(m.outage[0].strftime("%Y-%m-%dT%H:%M"))
    assert len(data["services"][0]["days"]) == m.period.days


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "statuspage.cli", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.browser
async def test_cli_writes_every_format_and_the_pdf_has_the_hindi(
    month_history: Setup, tmp_path: Path
) -> None:
    """`report --format html,pdf,csv,json` writes each; pdftotext finds figures and Hindi."""
    m = month_history.month
    out = tmp_path / "out"
    result = await _run(
        "--month", m.arg, "--format", "html,pdf,csv,json", "--out", str(out),
        "--prometheus", month_history.history.url,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    _check_files(out / f"parichay-report-{m.arg}", tmp_path)
    # Exactly the five files: no temporary file is left beside them.
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"parichay-report-{m.arg}{s}"
        for s in (".html", ".pdf", ".json", "-services.csv", "-events.csv")
    )
    assert result.stdout.split() == [
        str(out / f"parichay-report-{m.arg}{s}")
        for s in (".html", ".pdf", "-services.csv", "-events.csv", ".json")
    ]


async def test_a_failed_pdf_leaves_nothing_behind(month_history: Setup, tmp_path: Path) -> None:
    """Chromium that cannot start: exit 2 with one line, and the folder is as it was: no new
    HTML, JSON or CSV (nor a temporary file), and the earlier report of the month intact."""
    m = month_history.month
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 1\n", encoding="utf-8")
    chromium.chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    earlier = out / f"parichay-report-{m.arg}.json"
    earlier.write_text('{"complete": false}\n', encoding="utf-8")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for formats in ("html,csv,json,pdf", "pdf,html", "json,csv,pdf"):
        result = await _run(
            "--month", m.arg, "--format", formats, "--out", str(out), "--chromium", str(chromium),
            "--prometheus", month_history.history.url,
        )  # fmt: skip
        assert result.returncode == 2, result.stdout
        assert f"--format pdf: Chromium at {chromium} failed" in result.stderr
        assert f"(no file was written to {out})" in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before, formats
    # A Chromium that is not there at all: the same.
    result = await _run(
        "--month", m.arg, "--format", "html,json,pdf", "--out", str(out),
        "--chromium", str(tmp_path / "no-such-chromium"), "--prometheus", month_history.history.url,
    )  # fmt: skip
    assert result.returncode == 2 and "no Chromium there" in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


async def test_the_day_with_missing_data_is_grey_in_every_row(
    month_history: Setup, tmp_path: Path
) -> None:
    """The day of the 2-hour gap is drawn with the grey missing-data mark in every service's
    chart (its bar may be green: the rest of the day was up), names the minutes in its
    tooltip, and counts them in the JSON and the services CSV."""
    m = month_history.month
    report = await _report(month_history)
    day = m.gap[0].date().isoformat()
    html = render_html(report)
    grey = COLOURS["nodata"]
    charts = html.split("<svg")[1:]
    assert len(charts) == len(report.services)
    for s, svg in zip(report.services, charts, strict=True):
        strips = re.findall(rf'<rect class="strip nodata" data-day="{day}"[^>]*fill="{grey}"', svg)
        assert len(strips) == 1, s.service
        assert f"{day}: " in svg and "120 min without data" in svg
        # No other day of the month lacks data: only that one is marked.
        assert svg.count('class="strip nodata"') == 1, s.service
    data = to_json(report)
    for s in data["services"]:
        [d] = [d for d in s["days"] if d["day"] == day]
        assert d["gap_minutes"] == minutes(m.gap)
        assert s["gap_minutes"] == minutes(m.gap)
    _, events = to_csv(report)
    assert sum(1 for r in csv.DictReader(io.StringIO(events)) if r["kind"] == "gap") == 1


def _check_files(stem: Path, tmp_path: Path) -> None:
    for suffix in (".html", ".pdf", ".json", "-services.csv", "-events.csv"):
        assert Path(f"{stem}{suffix}").is_file(), suffix
    data = json.loads(Path(f"{stem}.json").read_text(encoding="utf-8"))
    text = _words(
        subprocess.run(
            ["pdftotext", "-enc", "UTF-8", f"{stem}.pdf", "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert "4 h 02 min" in text and "Maintenance windows" in text and "Gaps in the data" in text
    # pdftotext guesses word breaks from glyph positions (a table cell wraps a long name,
    # a Devanagari vowel sign can look like a space): compare without whitespace.
    bare = re.sub(r"\s+", "", text)
    assert "ParichayPartiallyUnreachable" in bare
    assert re.sub(r"\s+", "", data["summary"]["hi"]) in bare  # the whole Hindi summary, in order
    parichay = data["services"][0]
    assert f"{parichay['availability'] * 100:.2f} %" in text
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            f"{stem}.pdf",
            str(tmp_path / "page"),
        ],
        check=True,
    )
    png = next(tmp_path.glob("page*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


async def _run(*args: str) -> subprocess.CompletedProcess[str]:
    import asyncio

    return await asyncio.to_thread(_cli, *args)


@pytest.mark.browser
async def test_html_escapes_and_carries_the_chart(month_history: Setup, tmp_path: Path) -> None:
    """The HTML is self-contained (inline SVG per service, no external asset), marks Hindi
    with lang=hi, and reads on a 360 px phone without sideways scrolling."""
    report = await _report(month_history)
    [path] = await write_report(report, out=tmp_path, formats=["html"])
    html = path.read_text(encoding="utf-8")
    assert html.count("<svg") == len(report.services)
    assert 'lang="hi"' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    # In Debian's chromium at phone width: no console error and no sideways scrolling
    # (wide tables scroll inside their own box).
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium")
        page = await browser.new_page(viewport={"width": 360, "height": 800})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(path.as_uri())
        width = await page.evaluate("document.documentElement.scrollWidth")
        await browser.close()
    assert errors == [] and width <= 360


async def test_cli_errors_exit_2(month_history: Setup) -> None:
    """A future month, an unreachable Prometheus, a period without data, an unknown service and
    a malformed month exit 2 with one line saying why."""
    url = month_history.history.url
    future = (month_history.now + timedelta(days=40)).astimezone(IST)
    result = await _run("--month", f"{future:%Y-%m}", "--prometheus", url, "--format", "json")
    assert result.returncode == 2
    assert "has not started yet" in result.stderr and "Traceback" not in result.stderr

    dead = f"http://127.0.0.1:{free_port()}"
    result = await _run("--month", month_history.month.arg, "--prometheus", dead)
    assert result.returncode == 2
    assert f"could not reach Prometheus at {dead}: connection refused" in result.stderr

    old = month_history.month.period.first - timedelta(days=200)
    result = await _run("--month", f"{old:%Y-%m}", "--prometheus", url, "--format", "json")
    assert result.returncode == 2
    assert "has no data for" in result.stderr and "retention" in result.stderr

    result = await _run("--month", month_history.month.arg, "--prometheus", url, "--service", "<x>")
    assert result.returncode == 2
    assert "--service <x>: no such service has data in" in result.stderr
    assert "the services with data are parichay, eoffice-login" in result.stderr

    result = await _run("--month", "2024-13", "--prometheus", url)
    assert result.returncode == 2 and "--month: expected a month like 2024-09" in result.stderr


async def test_cli_days_and_last_month(month_history: Setup, tmp_path: Path) -> None:
    """--from/--to cover IST days both included; --month last is the month before this one."""
    m = month_history.month
    url = month_history.history.url
    first, last = m.outage[0].date(), m.partial[0].date()
    result = await _run(
        "--from", first.isoformat(), "--to", last.isoformat(), "--format", "json,csv",
        "--out", str(tmp_path), "--prometheus", url, "--service", "parichay",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = _read_json(tmp_path / f"parichay-report-{first}_{last}.json")
    assert [s["service"] for s in data["services"]] == ["parichay"]
    assert len(data["services"][0]["days"]) == (last - first).days + 1
    assert [i["alertname"] for i in data["incidents"]] == ["ParichayDown"]
    assert data["previous_period"]["last"] == (first - timedelta(days=1)).isoformat()
    result = await _run(
        "--month", "last", "--format", "json", "--out", str(tmp_path), "--prometheus", url
    )
    assert result.returncode == 0, result.stderr
    assert (
        _read_json(tmp_path / f"parichay-report-{m.arg}.json")["period"]["label"]
        == m.period.label.en
    )


def _read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
