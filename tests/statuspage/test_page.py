"""The served page, JSON, badges, metrics and CLI against real Prometheus and Alertmanager.

Browser checks use Debian's chromium through Playwright (`executable_path`), never a
downloaded browser.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from statuspage.alertmanager import AlertmanagerClient
from statuspage.cli import main
from statuspage.history import IST, format_ist
from statuspage.sources import PrometheusClient
from statuspage.web import StatusService, make_app
from tests.statuspage.conftest import History, now_minute, start_history
from tests.support.backfill import Outage, Scenario, Topology, standard_history
from tests.support.browser import phone_page
from tests.support.net import free_port
from tests.support.stack import Alertmanager

pytestmark = pytest.mark.asyncio(loop_scope="module")

MARKUP = "<script>alert(1)</script>"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def outage(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[History]:
    """90 days ending in an ongoing central outage that started 25 minutes ago; one app target's name is markup."""
    now = now_minute()
    base = standard_history(now)
    scenario = Scenario(
        start=base.start,
        end=now,
        events=(
            *base.events,
            Outage(
                start=now - timedelta(minutes=25), end=now + timedelta(hours=1), scope="central"
            ),
        ),
        topology=Topology(app_targets=("eoffice-web", "eoffice-login", MARKUP)),
    )
    h = await start_history(scenario, tmp_path_factory.mktemp("outage"))
    try:
        yield h
    finally:
        await h.prometheus.stop()


@dataclass
class Site:
    url: str
    am: Alertmanager
    history: History


async def _serve(
    history: History, am: Alertmanager, *, real_clock: bool = False
) -> AsyncIterator[Site]:
    # Alertmanager moves a silence's past start to its own "now", so a test of active
    # windows reads with the real clock; the others read the history as of its end.
    service = StatusService(
        prom=PrometheusClient(url=history.url),
        am=AlertmanagerClient(url=am.url),
        clock=(lambda: datetime.now(UTC)) if real_clock else (lambda: history.now),
    )
    server = TestServer(make_app(service), host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        yield Site(str(server.make_url("/")), am, history)
    finally:
        await server.close()


@pytest_asyncio.fixture(loop_scope="module")
async def healthy_site(history: History, alertmanager: Alertmanager) -> AsyncIterator[Site]:
    async for s in _serve(history, alertmanager):
        yield s


@pytest_asyncio.fixture(loop_scope="module")
async def live_site(history: History, alertmanager: Alertmanager) -> AsyncIterator[Site]:
    async for s in _serve(history, alertmanager, real_clock=True):
        yield s


@pytest_asyncio.fixture(loop_scope="module")
async def outage_site(outage: History, alertmanager: Alertmanager) -> AsyncIterator[Site]:
    async for s in _serve(outage, alertmanager):
        yield s


async def _get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        return await client.get(url)


@dataclass
class Browsed:
    text: str
    scroll_width: int
    errors: list[str]


async def browse(url: str, shot: Path) -> Browsed:
    """Open the page at 360 px in chromium; collect console errors and failed requests."""
    errors: list[str] = []
    async with phone_page(errors) as page:
        await page.goto(url, wait_until="load")
        await page.screenshot(path=str(shot), full_page=True)
        text = await page.inner_text("body")
        width = await page.evaluate("document.documentElement.scrollWidth")
    return Browsed(text, int(width), errors)


@pytest.mark.binaries
@pytest.mark.browser
async def test_healthy_page_shows_history_incidents_and_the_all_clear(
    healthy_site: Site, tmp_path: Path
) -> None:
    """Healthy now: the all-clear in both languages; both incidents with IST times; no scroll at 360 px."""
    shot = tmp_path / "healthy.png"
    b = await browse(healthy_site.url, shot)
    assert b.errors == []
    assert shot.stat().st_size > 10_000
    assert b.scroll_width <= 360
    assert "Parichay and e-Office are working normally." in b.text
    assert "परिचय और ई-ऑफिस सामान्य रूप से काम कर रहे हैं।" in b.text
    central = next(
        o for o in healthy_site.history.scenario.outages() if o.scope == "central" and o.pages
    )
    assert f"{format_ist(central.start)} – {format_ist(central.end)}" in b.text
    assert "ParichayPartiallyUnreachable" in b.text and "district-haridwar" in b.text


@pytest.mark.binaries
async def test_bar_tooltips_mark_the_outage_day_and_the_maintenance_day(healthy_site: Site) -> None:
    """The day of the outage says 241 min down; the maintenance day says 180 min maintenance."""
    html = (await _get(healthy_site.url)).text
    central = next(
        o for o in healthy_site.history.scenario.outages() if o.scope == "central" and o.pages
    )
    day = central.start.strftime("%d %b %Y")
    assert f'title="{day} · 83.26 % available · 241 min down"' in html
    assert "180 min down" not in html
    assert "maintenance 180 min (not counted)" in html
    # The same, without hovering (phones, screen readers): the list of days with problems.
    listed = html.split("<summary>Days with downtime")[1].split("</details>")[0]
    assert f"<li>{day} · 83.26 % available · 241 min down</li>" in listed
    assert 'http-equiv="refresh"' in html and 'lang="hi"' in html
    assert "http://" not in html.split("<body>")[1].replace('href="status.json"', "")


@pytest.mark.binaries
@pytest.mark.browser
async def test_central_outage_history_headline_and_markup_without_a_page(
    outage_site: Site, tmp_path: Path
) -> None:
    """Firing ParichayDown in Prometheus that Alertmanager does not hold: the sentence with
    the time of the page from the history, and "ITDA is checking" (whether ITDA was alerted
    is checked on the shipped chain, tests/e2e/test_e2e_statuspage.py)."""
    b = await browse(outage_site.url, tmp_path / "outage.png")
    assert b.errors == [] and b.scroll_width <= 360
    body = (await _get(outage_site.url + "status.json")).json()
    head = body["headline"][0]
    assert head["itda_alerted"] is False and head["alertname"] == "ParichayDown"
    since = format_ist(datetime.fromisoformat(head["since"]), with_date=False)
    assert (
        f"e-Office login is down because Parichay (NIC, Delhi) is down since {since}. ITDA is checking."
        in b.text
    )
    assert (
        f"परिचय (NIC, दिल्ली) {since} से बंद है, इसलिए ई-ऑफिस में लॉगिन नहीं हो रहा है। ITDA जाँच कर रहा है।"
        in b.text
    )
    assert MARKUP in b.text  # the target name is shown as text, not run
    assert body["incidents"][0]["ongoing"] is True


async def _add_maintenance(
    site: Site, service: str, start: datetime, end: datetime, *, en: str, hi: str
) -> None:
    """`maintenance add` through the CLI against the site's Alertmanager; it succeeds."""
    args = [
        "maintenance", "add", "--alertmanager-url", site.am.url, "--service", service,
        "--start", start.isoformat(), "--end", end.isoformat(), "--note-en", en, "--note-hi", hi,
    ]
    assert await asyncio.to_thread(main, args) == 0


@pytest.mark.binaries
@pytest.mark.browser
async def test_maintenance_window_banner_metric_and_markup_in_the_note(
    live_site: Site, tmp_path: Path
) -> None:
    """`maintenance add` makes a silence; the page shows the banner in both languages as text and /metrics exports it."""
    now = datetime.now(UTC)
    await _add_maintenance(
        live_site,
        "parichay",
        now - timedelta(minutes=5),
        now + timedelta(hours=2),
        en=f"NIC upgrade {MARKUP}",
        hi="NIC अपग्रेड",
    )
    b = await browse(live_site.url, tmp_path / "maintenance.png")
    assert b.errors == [] and b.scroll_width <= 360
    assert f"NIC upgrade {MARKUP}" in b.text
    assert "अभी रखरखाव चल रहा है" in b.text and "NIC अपग्रेड" in b.text
    assert "Maintenance now" in b.text
    metrics = (await _get(live_site.url + "metrics")).text
    assert 'parichay_maintenance_active{service="parichay"} 1.0' in metrics
    badge = await _get(live_site.url + "badge/parichay.svg")
    assert badge.status_code == 200 and "maintenance" in badge.text


@pytest.mark.binaries
async def test_page_renders_and_names_the_source_it_cannot_read(
    history: History, tmp_path: Path
) -> None:
    """With Alertmanager down the page still renders with history and says what it could not read."""
    dead = f"http://127.0.0.1:{free_port()}"
    service = StatusService(
        prom=PrometheusClient(url=history.url),
        am=AlertmanagerClient(url=dead, timeout=2),
        clock=lambda: history.now,
    )
    server = TestServer(make_app(service), host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        response = await _get(str(server.make_url("/")))
    finally:
        await server.close()
    assert response.status_code == 200
    assert f"could not reach Alertmanager at {dead}: connection refused" in response.text
    assert "ITDA is checking." in response.text or "working normally" in response.text


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def partial(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[History]:
    """90 days ending with Parichay unreachable from district-haridwar only, for the last 12 minutes."""
    now = now_minute()
    ongoing = Outage(
        start=now - timedelta(minutes=12),
        end=now + timedelta(hours=1),
        scope="path",
        vantages=("district-haridwar",),
    )
    scenario = standard_history(now, extra=(ongoing,))
    h = await start_history(scenario, tmp_path_factory.mktemp("partial"))
    try:
        yield h
    finally:
        await h.prometheus.stop()


@pytest.mark.binaries
@pytest.mark.browser
async def test_partial_reachability_names_the_site_and_marks_its_row_down(
    partial: History, alertmanager: Alertmanager, tmp_path: Path
) -> None:
    """Path fault now: the issue's sentence in both languages, the site's row down since the start, Parichay up."""
    async for site in _serve(partial, alertmanager):
        b = await browse(site.url, tmp_path / "partial.png")
        body = (await _get(site.url + "status.json")).json()
        badge_site = await _get(site.url + "badge/site:district-haridwar.svg")
        badge_sso = await _get(site.url + "badge/parichay.svg")
        badge_missing = await _get(site.url + "badge/nothing-here.svg")
    assert b.errors == [] and b.scroll_width <= 360
    assert (
        "Parichay cannot be reached from the Haridwar district office; other sites work. ITDA is checking."
        in b.text
    )
    assert (
        "हरिद्वार जिला कार्यालय से परिचय तक नहीं पहुँचा जा सकता; अन्य कार्यालय ठीक काम कर रहे हैं।" in b.text
    )
    rows = {r["service"]: r for r in body["services"]}
    assert rows["parichay"]["state"] == "up"
    haridwar = rows["site:district-haridwar"]
    assert haridwar["state"] == "down"
    assert haridwar["since"] == (partial.now - timedelta(minutes=12)).astimezone(IST).isoformat()
    assert len(haridwar["days"]) == 90
    assert "down" in badge_site.text and badge_site.headers["content-type"].startswith(
        "image/svg+xml"
    )
    assert "working" in badge_sso.text
    assert badge_missing.status_code == 404


@pytest.mark.binaries
async def test_an_upcoming_window_is_announced_in_both_languages(live_site: Site) -> None:
    """A window two days ahead shows as planned maintenance with its IST times; nothing is in maintenance yet."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=2)
    end = start + timedelta(hours=3)
    await _add_maintenance(
        live_site, "eoffice-web", start, end, en="e-Office upgrade", hi="ई-ऑफिस उन्नयन"
    )
    html = (await _get(live_site.url)).text
    span = f"{format_ist(start)} &ndash; {format_ist(end)}"
    assert (
        f"<strong>Planned maintenance</strong>\n    {span}, e-Office (eoffice-web): e-Office upgrade"
        in html
    )
    assert (
        f"<strong>नियोजित रखरखाव</strong>\n    {span}, ई-ऑफिस (eoffice-web): ई-ऑफिस उन्नयन" in html
    )
    assert "Maintenance now" not in html


@pytest.mark.binaries
async def test_check_reads_both_sources(
    history: History, alertmanager: Alertmanager, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check` against reachable sources exits 0 and says what it read."""
    code = await asyncio.to_thread(
        main, ["check", "--prometheus-url", history.url, "--alertmanager-url", alertmanager.url]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert f"Prometheus at {history.url}: ok, 6 services with data" in out
    assert f"Alertmanager at {alertmanager.url}: ok, 0 alerts, 0 silences" in out


@pytest.mark.browser
async def test_with_both_sources_down_the_page_says_so_and_claims_nothing(tmp_path: Path) -> None:
    """No source: the page renders, names both, and neither says all is well nor that ITDA was alerted."""
    p_url, a_url = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    service = StatusService(
        prom=PrometheusClient(url=p_url, timeout=2), am=AlertmanagerClient(url=a_url, timeout=2)
    )
    server = TestServer(make_app(service), host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        url = str(server.make_url("/"))
        b = await browse(url, tmp_path / "down.png")
        health = await _get(url + "healthz")
    finally:
        await server.close()
    assert b.errors == [] and b.scroll_width <= 360
    assert f"could not reach Prometheus at {p_url}: connection refused" in b.text
    assert f"could not reach Alertmanager at {a_url}: connection refused" in b.text
    assert "The state of Parichay and e-Office cannot be read right now." in b.text
    assert "परिचय और ई-ऑफिस की स्थिति अभी पढ़ी नहीं जा सकती।" in b.text
    assert "working normally" not in b.text and "ITDA has been alerted" not in b.text
    assert health.status_code == 200
