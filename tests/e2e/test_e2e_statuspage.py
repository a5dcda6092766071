"""The status page on the shipped chain: what staff read while the chain pages, or not.

The alerts come from a real Prometheus evaluating the repository's rules with the shipped
`prometheus.yml` (its external labels included, which Alertmanager's copy of each alert
carries and `ALERTS` does not) and reach two clustered real Alertmanagers; Prometheus also
scrapes the status page, as deployed, for `parichay_maintenance_active`. The page itself
runs in this process on loopback (`statuspage.web`), reads both Alertmanagers as a cluster,
and is read over HTTP and in Debian's chromium.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright

from statuspage.alertmanager import AlertmanagerClient, AlertmanagerCluster, Matcher
from statuspage.cli import main as status_cli
from statuspage.sources import PrometheusClient
from statuspage.web import StatusService, make_app
from tests.e2e.conftest import running_stack
from tests.support.layout import CUTTABLE_VANTAGE, LOGIN_TARGET
from tests.support.net import HOST, free_port
from tests.support.stack import AlertingStack
from tests.support.timing import E2E as T
from tests.support.timing import PAGE_WITHIN, SETTLE, sleep_until, wait_until
from tests.support.world import World, page_of, wait_for_page

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.binaries,
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="session"),
]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


@dataclass
class PagedStack:
    stack: AlertingStack
    url: str  # the status page
    am_urls: list[str]

    async def status(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            r = await client.get(f"{self.url}status.json")
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def row(self, status: dict[str, Any], service: str) -> dict[str, Any]:
        return next(r for r in status["services"] if r["service"] == service)

    async def status_once(
        self, ready: Callable[[dict[str, Any]], Any], *, within: float, what: str
    ) -> dict[str, Any]:
        """status.json as soon as `ready(status)` holds (`what` names it if it never does)."""

        async def check() -> dict[str, Any] | None:
            status = await self.status()
            return status if ready(status) else None

        found: dict[str, Any] = await wait_until(check, within=within, what=what)
        return found

    async def once_alerted(self) -> dict[str, Any]:
        """status.json as soon as its first headline says ITDA has been alerted."""
        return await self.status_once(
            lambda s: s["headline"][0]["itda_alerted"],
            within=30,
            what="the page to say ITDA has been alerted",
        )


def parichay_down_over(incidents: list[dict[str, Any]]) -> bool:
    """The list has the ParichayDown incident, and it is over."""
    done = [i for i in incidents if i["alertname"] == "ParichayDown"]
    return bool(done) and not done[0]["ongoing"]


@pytest_asyncio.fixture(loop_scope="session")
async def paged(
    world: World, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[PagedStack]:
    """The stack with a status page that Prometheus scrapes (its shipped job kept)."""
    port = free_port()
    servers: list[TestServer] = []

    async def serve(stack: AlertingStack) -> None:
        service = StatusService(
            prom=PrometheusClient(url=stack.prometheus_url),
            am=AlertmanagerCluster([AlertmanagerClient(url=n.url) for n in stack.alertmanagers]),
        )
        server = TestServer(make_app(service), host=HOST, port=port)
        await server.start_server()
        servers.append(server)

    try:
        async with running_stack(
            world, tmp_path / "stack", request, statuspage=f"{HOST}:{port}", before_ready=serve
        ) as stack:
            yield PagedStack(stack, f"http://{HOST}:{port}/", [n.url for n in stack.alertmanagers])
    finally:
        for server in servers:
            await server.close()


async def browse_headline(url: str) -> str:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 360, "height": 800})
            await page.goto(url, wait_until="load")
            return await page.inner_text("section[aria-labelledby=now]")
        finally:
            await browser.close()


def _cli(*args: str) -> int:
    return status_cli(list(args))


@pytest.mark.timeout(150)
async def test_a_paged_central_outage_says_itda_has_been_alerted(
    world: World, paged: PagedStack
) -> None:
    """Parichay down from every site: once the page went out, the page's headline names
    Parichay and says ITDA has been alerted (not "checking"); Parichay's row is down; after
    recovery the incident is listed as paged, none under maintenance."""
    world.sim.set_fault("sso", "http_503")
    await wait_for_page(world, "ParichayDown", scope="central", within=PAGE_WITHIN)
    head = (await paged.once_alerted())["headline"][0]
    assert head["alertname"] == "ParichayDown" and head["level"] == "down"
    assert head["en"].startswith("e-Office login is down because Parichay (NIC, Delhi) is down")
    assert head["en"].endswith("ITDA has been alerted."), head["en"]
    assert head["hi"].endswith("ITDA को सूचना दे दी गई है।"), head["hi"]
    # The rows that need Parichay are down with it, as soon as the alert fires.
    status = await paged.status()
    assert paged.row(status, "parichay")["state"] == "down"
    shown = await browse_headline(paged.url)
    assert "ITDA has been alerted." in shown and "ITDA is checking" not in shown, shown

    # Someone silences it in Alertmanager (not a maintenance window): nobody will be told
    # again, so the page no longer claims ITDA is on it.
    now = datetime.now(UTC)
    async with AlertmanagerClient(url=paged.am_urls[0]) as am:
        await am.create_silence(
            matchers=[Matcher("alertname", "ParichayDown")],
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            created_by="duty-officer",
            comment="looking into it",
        )

    status = await paged.status_once(
        lambda s: s["headline"][0]["en"].endswith("ITDA is checking."),
        within=30,
        what="the page to say ITDA is checking",
    )
    head = status["headline"][0]
    assert head["level"] == "down" and not head["itda_alerted"]

    # (Alertmanager mutes the RESOLVED notification of a silenced alert too.)
    world.sim.set_fault("sso", "ok")

    status = await paged.status_once(
        lambda s: parichay_down_over(s["incidents"]),
        within=60,
        what="the resolved incident to be listed",
    )
    assert status["incidents_in_maintenance"] == []
    assert status["headline"][0]["level"] == "ok"


@pytest.mark.timeout(180)
async def test_an_outage_in_a_parichay_maintenance_window_says_maintenance_and_pages_nobody(
    world: World, paged: PagedStack
) -> None:
    """A maintenance window of Parichay, added with the CLI: Parichay failing inside it
    pages nobody; the headline says it is the planned maintenance (blue, never "ITDA is
    checking" in red); Parichay's row and the e-Office login row, which needs Parichay, say
    maintenance; once over, the incident is listed apart as planned, not as paged."""
    now = datetime.now(UTC)
    args = ["--start", (now - timedelta(minutes=1)).isoformat()]
    args += ["--end", (now + timedelta(hours=1)).isoformat()]
    urls = [a for u in paged.am_urls for a in ("--alertmanager-url", u)]
    code = await asyncio.to_thread(
        _cli,
        "maintenance", "add", "--service", "parichay", *args, *urls,
        "--note-en", "NIC upgrade", "--note-hi", "NIC उन्नयन",
    )  # fmt: skip
    assert code == 0
    # Prometheus records the window (the page's metric) before the fault starts.
    await sleep_until(time.monotonic() + 2 * T.lag())

    fault_at = time.monotonic()
    world.sim.set_fault("sso", "http_503")

    status = await paged.status_once(
        lambda s: s["headline"][0]["alertname"] == "ParichayDown",
        within=PAGE_WITHIN,
        what="ParichayDown in the headline",
    )
    head = status["headline"][0]
    assert head["level"] == "maintenance" and not head["itda_alerted"], head
    assert head["en"].endswith("This is the planned maintenance announced above."), head["en"]
    assert "ITDA is checking" not in " ".join(h["en"] for h in status["headline"])
    assert paged.row(status, "parichay")["state"] == "maintenance"
    assert paged.row(status, LOGIN_TARGET)["state"] == "maintenance"
    shown = await browse_headline(paged.url)
    assert "planned maintenance announced above" in shown and "ITDA is checking" not in shown

    # Nobody is paged: the page would have come by its `for:` and the chain's lag.
    await sleep_until(fault_at + T.page_for_s + T.lag() + SETTLE)
    assert not page_of(world, "ParichayDown", "FIRING").sms
    assert [m.brief() for m in world.smtp.mails] == []

    world.sim.set_fault("sso", "ok")

    status = await paged.status_once(
        lambda s: parichay_down_over(s["incidents_in_maintenance"]),
        within=60,
        what="the incident listed under maintenance",
    )
    assert [i for i in status["incidents"] if i["alertname"] == "ParichayDown"] == []
    await sleep_until(time.monotonic() + SETTLE)
    assert [s.brief() for s in world.gateway.sms] == []
    assert [m.brief() for m in world.smtp.mails] == []


@pytest.mark.timeout(150)
async def test_parichay_cut_off_from_one_site_names_that_site_and_its_row(
    world: World, paged: PagedStack
) -> None:
    """Parichay unreachable from the Haridwar district office only: once paged, the page
    names that site in both languages and says ITDA has been alerted; that site's row is
    down, Parichay's row and badge stay up, the site's badge says down."""
    await world.cut_sso([CUTTABLE_VANTAGE])
    await wait_for_page(world, "ParichayPartiallyUnreachable", scope="path", within=PAGE_WITHIN)
    status = await paged.once_alerted()
    head = status["headline"][0]
    assert head["level"] == "partial" and head["alertname"] == "ParichayPartiallyUnreachable"
    assert head["en"] == (
        "Parichay cannot be reached from the Haridwar district office; other sites work."
        " ITDA has been alerted."
    ), head["en"]
    assert head["hi"].startswith("हरिद्वार जिला कार्यालय से परिचय तक नहीं पहुँचा जा सकता;"), head["hi"]
    assert paged.row(status, f"site:{CUTTABLE_VANTAGE}")["state"] == "down"
    assert paged.row(status, "parichay")["state"] == "up"
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        site = await client.get(f"{paged.url}badge/site:{CUTTABLE_VANTAGE}.svg")
        sso = await client.get(f"{paged.url}badge/parichay.svg")
    assert ">down<" in site.text and ">working<" in sso.text
    shown = await browse_headline(paged.url)
    assert "Haridwar district office" in shown and "ITDA has been alerted." in shown
