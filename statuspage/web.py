"""The HTTP service: `/`, `/status.json`, `/badge/<service>.svg`, `/healthz`, `/metrics`,
and the runbooks at `/runbooks/` (`statuspage.runbooks`).

Every request reads Prometheus and Alertmanager again (a view is reused for a few seconds so
a burst of callers costs one read); nothing is stored. No endpoint takes a URL, a query or
an action from the caller: maintenance is managed with the CLI against Alertmanager.
`/metrics` exports `parichay_maintenance_active{service}` (1 while a window created by
`parichay-status maintenance add` is active, for the window's row and, for a window of
Parichay, the e-Office login rows that need it), which Prometheus scrapes so the windows
stay in its TSDB for the history bars and reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from statuspage import reading
from statuspage.alertmanager import AlertmanagerAPI
from statuspage.history import DayAvailability, format_ist, human_duration
from statuspage.notices import list_notices, under_maintenance
from statuspage.runbooks import RunbookLibrary, add_runbook_routes
from statuspage.sources import PrometheusClient, SourceError
from statuspage.templating import TEMPLATES
from statuspage.view import INCIDENT_DAYS, StatusView, build_view, to_json
from statuspage.wording import Name, incident_title, service_name

# THE default port of the status page (compose, Prometheus's scrape job and the docs
# repeat it as a literal).
DEFAULT_PORT = 10073
DEFAULT_LISTEN = f"0.0.0.0:{DEFAULT_PORT}"
REFRESH_S = 60
CACHE_S = 10.0

STATE_EN = {"up": "Working", "down": "Down", "maintenance": "Maintenance", "nodata": "No data"}
STATE_HI = {"up": "चालू", "down": "बंद", "maintenance": "रखरखाव", "nodata": "कोई डेटा नहीं"}
BADGE_COLOUR = {"up": "#1a7f37", "down": "#b42318", "maintenance": "#1d4ed8", "nodata": "#6b7280"}

Clock = Callable[[], datetime]


def _pct(value: float) -> str:
    return f"{value * 100:.2f} %"


def day_title(d: DayAvailability) -> str:
    """The tooltip of one day of a history bar."""
    parts = [d.day.strftime("%d %b %Y")]
    if d.availability is None:
        parts.append("no data")
    else:
        parts.append(f"{_pct(d.availability)} available")
    parts.append(f"{d.down} min down")
    if d.maintenance:
        parts.append(f"maintenance {d.maintenance} min (not counted)")
    if d.gap:
        parts.append(f"no data {d.gap} min")
    return " · ".join(parts)


class StatusService:
    """Holds the clients and renders views; one per process."""

    def __init__(
        self,
        *,
        prom: PrometheusClient,
        am: AlertmanagerAPI,
        clock: Clock | None = None,
        names: Mapping[str, Name] | None = None,
    ) -> None:
        self.prom = prom
        self.am = am
        self.clock = clock or (lambda: datetime.now(UTC))
        self.names = dict(names or {})
        self._cached: tuple[float, StatusView] | None = None
        self._lock = asyncio.Lock()

    async def view(self) -> StatusView:
        async with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < CACHE_S:
                return self._cached[1]
            view = await build_view(prom=self.prom, am=self.am, now=self.clock(), names=self.names)
            self._cached = (time.monotonic(), view)
            return view

    def render(self, view: StatusView) -> str:
        template = TEMPLATES.get_template("page.html")
        return template.render(
            view=view,
            refresh=REFRESH_S,
            days=max((len(r.days) for r in view.rows), default=0),
            incident_days=INCIDENT_DAYS,
            fmt=format_ist,
            dur=human_duration,
            pct=_pct,
            day_title=day_title,
            sname=lambda s: service_name(s, self.names),
            ititle=lambda i: incident_title(i, self.names),
            state_en=STATE_EN,
            state_hi=STATE_HI,
        )

    async def page(self, request: web.Request) -> web.Response:
        view = await self.view()
        return web.Response(
            text=self.render(view),
            content_type="text/html",
            charset="utf-8",
            headers=_SECURITY_HEADERS,
        )

    async def status_json(self, request: web.Request) -> web.Response:
        return web.json_response(to_json(await self.view()), dumps=_dumps)

    async def badge(self, request: web.Request) -> web.Response:
        service = request.match_info["service"]
        view = await self.view()
        row = view.row(service)
        if row is None:
            state, label = "nodata", service
        else:
            state, label = row.state, row.service
        svg = badge_svg(label=label, state=STATE_EN[state].lower(), colour=BADGE_COLOUR[state])
        return web.Response(
            text=svg,
            content_type="image/svg+xml",
            status=200 if row is not None else 404,
            headers={"Cache-Control": "max-age=30", **_SECURITY_HEADERS},
        )

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def metrics(self, request: web.Request) -> web.Response:
        registry = CollectorRegistry()
        collector = _MaintenanceCollector()
        try:
            notices = await list_notices(self.am)
            collector.reachable = True
            now = self.clock()
            # Rows that need a Parichay in maintenance are in maintenance too, so their
            # history leaves the window out; without Prometheus, only the windows' own rows.
            active = under_maintenance(notices, now=now)
            if reading.SSO_SERVICE in active:
                with contextlib.suppress(SourceError):
                    dependents = await reading.sso_dependents(self.prom, now=now)
                    active = under_maintenance(notices, now=now, sso_dependents=dependents)
            collector.services = sorted(active)
        except SourceError:
            collector.reachable = False
        registry.register(collector)
        return web.Response(
            body=generate_latest(registry),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )


class _MaintenanceCollector(Collector):
    def __init__(self) -> None:
        self.services: list[str] = []
        self.reachable = False

    def collect(self) -> Any:
        active = GaugeMetricFamily(
            "parichay_maintenance_active",
            "1 while a maintenance window of the service (an Alertmanager silence created "
            "by parichay-status) is active; read from Alertmanager at scrape time.",
            labels=["service"],
        )
        for service in self.services:
            active.add_metric([service], 1.0)
        yield active
        yield GaugeMetricFamily(
            "parichay_status_alertmanager_up",
            "1 if Alertmanager answered when this scrape read its silences.",
            value=1.0 if self.reachable else 0.0,
        )


_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def badge_svg(*, label: str, state: str, colour: str) -> str:
    """A flat two-part badge, every text escaped."""
    lw = 8 + 7 * len(label)
    rw = 8 + 7 * len(state)
    w = lw + rw
    lab, st = escape(label), escape(state)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" '
        f'aria-label="{escape(label, {chr(34): "&quot;"})}: {st}">'
        f"<title>{lab}: {st}</title>"
        f'<rect width="{lw}" height="20" fill="#4b5563"/>'
        f'<rect x="{lw}" width="{rw}" height="20" fill="{colour}"/>'
        f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="4" y="14">{lab}</text><text x="{lw + 4}" y="14">{st}</text></g></svg>'
    )


def make_app(service: StatusService, *, runbooks: RunbookLibrary | None = None) -> web.Application:
    """The aiohttp application; `/runbooks/` serves `runbooks` (default: found as the CLI does)."""
    app = web.Application()
    app.router.add_get("/", service.page)
    app.router.add_get("/status.json", service.status_json)
    app.router.add_get("/badge/{service}.svg", service.badge)
    app.router.add_get("/healthz", service.healthz)
    app.router.add_get("/metrics", service.metrics)
    add_runbook_routes(app, runbooks if runbooks is not None else RunbookLibrary.discover())

    async def close(_: web.Application) -> None:
        await service.prom.aclose()
        await service.am.aclose()

    app.on_cleanup.append(close)
    return app
