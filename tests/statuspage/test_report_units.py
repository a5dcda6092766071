"""Pure parts of the report: periods, the page group_wait, the objective default, the chart,
and the maintenance rule (which incidents paged)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import respx

from statuspage.history import DayAvailability, Incident, Window
from statuspage.paging import page_group_wait, paging_start, silenced_by
from statuspage.periods import Period, ReportError, day_period, month_period
from statuspage.reading import DEFAULT_OBJECTIVE, read_objective, read_reason
from statuspage.report import ServiceFigures, incident_services
from statuspage.report_chart import COLOURS, chart_svg
from statuspage.report_render import parse_formats
from statuspage.sources import PrometheusClient
from statuspage.wording import Name

ROOT = Path(__file__).resolve().parents[2]


def test_month_period_covers_the_calendar_month() -> None:
    """`2024-02` is 1-29 Feb 2024 (leap year); `last` is the month before; Jan's previous is Dec."""
    p = month_period("2024-02", today=date(2024, 3, 5))
    assert (p.first, p.last, p.days, p.slug) == (date(2024, 2, 1), date(2024, 2, 29), 29, "2024-02")
    assert p.label == Name("February 2024", "फ़रवरी 2024")
    assert month_period("last", today=date(2024, 1, 15)).slug == "2023-12"
    prev = month_period("2024-01", today=None).previous()
    assert (prev.first, prev.last) == (date(2023, 12, 1), date(2023, 12, 31))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("2024-9", "expected a month like 2024-09", id="no-leading-zero"),
        pytest.param("2024-00", "expected a month like 2024-09", id="month-zero"),
        pytest.param("2030-01", "has not started yet (today is 2024-10-03 IST)", id="future"),
    ],
)
def test_month_period_refuses_bad_months(text: str, message: str) -> None:
    """A malformed or future month is an error naming --month and the fix."""
    with pytest.raises(ReportError, match=r"--month") as info:
        month_period(text, today=date(2024, 10, 3))
    assert message in str(info.value)


def test_day_period_and_its_previous() -> None:
    """--from/--to are both included; the previous period is as many days just before."""
    p = day_period("2024-09-10", "2024-09-19", today=date(2024, 10, 1))
    assert p.days == 10 and p.slug == "2024-09-10_2024-09-19"
    assert p.previous() == Period(date(2024, 8, 31), date(2024, 9, 9))
    with pytest.raises(ReportError, match="--to 2024-09-01: must not be before"):
        day_period("2024-09-10", "2024-09-01", today=date(2024, 10, 1))
    with pytest.raises(ReportError, match="--from 2024-11-01: that day has not started"):
        day_period("2024-11-01", "2024-11-02", today=date(2024, 10, 1))


def test_group_wait_of_the_shipped_alertmanager_config() -> None:
    """The repo's alertmanager.yml pages after its root group_wait (10 s)."""
    text = (ROOT / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8")
    assert page_group_wait(text) == 10.0


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param("route: {receiver: a}", 30.0, id="alertmanager-default"),
        pytest.param(
            "route: {receiver: a, group_wait: 20s, routes: [{matchers: ['severity=\"page\"'],"
            " group_wait: 1m30s}]}",
            90.0,
            id="page-route-own-wait",
        ),
        pytest.param(
            "route: {receiver: a, group_wait: 5s, routes: [{match: {severity: page}}]}",
            5.0,
            id="inherited",
        ),
        pytest.param("route: [", None, id="not-yaml"),
    ],
)
def test_page_group_wait(config: str, expected: float | None) -> None:
    """The first route taking severity=page sets the wait; it inherits the root's."""
    assert page_group_wait(config) == expected


@respx.mock
async def test_objective_defaults_without_the_rule() -> None:
    """Without the objective rule's series the report uses 99.5 % and says so."""
    respx.post("http://prom.test/api/v1/query").mock(
        return_value=httpx.Response(
            200, json={"status": "success", "data": {"resultType": "vector", "result": []}}
        )
    )
    async with PrometheusClient(url="http://prom.test") as prom:
        got = await read_objective(prom, at=datetime(2024, 10, 1, tzinfo=UTC))
    assert got == (DEFAULT_OBJECTIVE, "default") == (0.995, "default")


def test_chart_escapes_names_and_marks_days() -> None:
    """The SVG escapes the service name and has one tooltip per day, gaps and maintenance named."""
    days = (
        DayAvailability(date(2024, 9, 1), 1440, 1440, 0, 0, 0),
        DayAvailability(date(2024, 9, 2), 1440, 1320, 240, 0, 0),
        DayAvailability(date(2024, 9, 3), 1440, 1440, 0, 180, 180),
        DayAvailability(date(2024, 9, 4), 1440, 0, 0, 0, 0),
    )
    figures = ServiceFigures(
        service="x", name=Name("<b>x</b>", "x"), objective=0.995, days=days, incidents=()
    )
    svg = str(chart_svg(figures))
    assert "<b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg
    assert svg.count('<rect class="day ') == 4
    assert "2024-09-02: 81.82 %, 240 min down, 120 min without data" in svg
    assert "2024-09-03: 100.00 %, 0 min down, 180 min maintenance" in svg
    assert "2024-09-04: no data" in svg


def _marks(svg: str) -> dict[str, set[str]]:
    """Per day: the classes of its bar and strips, and `fill=<colour>` of each."""
    out: dict[str, set[str]] = {}
    for m in re.finditer(r'<rect class="([^"]+)" data-day="([^"]+)"[^>]* fill="([^"]+)"', svg):
        out.setdefault(m[2], set()).update({m[1], f"fill={m[3]}"})
    return out


def test_every_day_with_missing_data_is_drawn_grey() -> None:
    """A day with minutes without data gets a grey `nodata` strip under its bar, whatever its
    bar shows (up, down, maintenance); a day with no downtime but five minutes or more without
    data a grey bar, and a day without any data a hatched grey bar; a day with all its data
    has no grey at all."""
    grey = f"fill={COLOURS['nodata']}"
    days = (
        DayAvailability(date(2024, 9, 1), 1440, 1440, 0, 0, 0),  # all data, up
        DayAvailability(date(2024, 9, 2), 1440, 1260, 0, 0, 0),  # 3 h gap, up otherwise
        DayAvailability(date(2024, 9, 3), 1440, 1320, 240, 0, 0),  # gap and down
        DayAvailability(date(2024, 9, 4), 1440, 1380, 0, 180, 120),  # gap and maintenance
        DayAvailability(date(2024, 9, 5), 1440, 0, 0, 0, 0),  # no data at all
    )
    figures = ServiceFigures(
        service="x", name=Name("x", "x"), objective=0.995, days=days, incidents=()
    )
    marks = _marks(str(chart_svg(figures)))
    assert "strip nodata" not in marks["2024-09-01"] and grey not in marks["2024-09-01"]
    for day in ("2024-09-02", "2024-09-03", "2024-09-04"):
        assert {"strip nodata", grey} <= marks[day], day
    # A 3-hour gap on an otherwise good day: grey like the page's cell (history.GAP_DAY_MINUTES).
    assert "day nodata" in marks["2024-09-02"] and "day down" in marks["2024-09-03"]
    assert "day maintenance" in marks["2024-09-04"]
    assert {"day nodata", "fill=url(#hatch)", "strip nodata", grey} <= marks["2024-09-05"]


def test_parse_formats() -> None:
    """Formats are a comma list of html, pdf, csv, json; anything else names the choices."""
    assert parse_formats("pdf, HTML,pdf") == ["pdf", "html"]
    with pytest.raises(ReportError, match="--format: expected one or more of html, pdf, csv"):
        parse_formats("docx")


def _vector(results: list[tuple[str, float]]) -> httpx.Response:
    data = [{"metric": {"result": r}, "value": [0, str(v)]} for r, v in results]
    return httpx.Response(
        200, json={"status": "success", "data": {"resultType": "vector", "result": data}}
    )


@respx.mock
@pytest.mark.parametrize(
    ("raw", "rule", "expected"),
    [
        pytest.param(
            [("timeout", 30.0), ("http_5xx", 90.0)], [], ("http_5xx", 0.75), id="raw-counter"
        ),
        pytest.param(
            [],
            [("dns_error", 10.0), ("connect_timeout", 40.0)],
            ("connect_timeout", 0.8),
            id="recording-rule-fallback",
        ),
        pytest.param([], [], (None, None), id="unknown"),
    ],
)
async def test_dominant_reason(
    raw: list[tuple[str, float]],
    rule: list[tuple[str, float]],
    expected: tuple[str | None, float | None],
) -> None:
    """The reason with most failed probes wins, from the raw counter or else the rule."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        query = dict(httpx.QueryParams(request.content.decode()))["query"]
        seen.append(query)
        return _vector(raw if "parichay_probes_total" in query else rule)

    respx.post("http://prom.test/api/v1/query").mock(side_effect=answer)
    incident = Incident(
        alertname="ParichayPartiallyUnreachable",
        scope="path",
        severity="page",
        start=1_700_000_000,
        end=1_700_003_600,
        paged_at=1_700_000_060,
        ongoing=False,
        targets=("parichay-login-page",),
        vantages=("district-haridwar",),
    )
    async with PrometheusClient(url="http://prom.test") as prom:
        got = await read_reason(prom, incident=incident)
    assert got == expected
    assert 'target=~"parichay-login-page"' in seen[0] and 'vantage=~"district-haridwar"' in seen[0]
    assert "[3600s]" in seen[0]


def _incident(alertname: str, scope: str, *labels: dict[str, str]) -> Incident:
    return Incident(
        alertname=alertname,
        scope=scope,
        severity="page",
        start=0,
        end=600,
        paged_at=60,
        ongoing=False,
        targets=tuple(sorted({lb["target"] for lb in labels if "target" in lb})),
        vantages=tuple(sorted({lb["vantage"] for lb in labels if "vantage" in lb})),
        labels=labels,
    )


@pytest.mark.parametrize(
    ("incident", "rows"),
    [
        pytest.param(
            _incident("ParichayDown", "central", {"target": "parichay-login-page", "role": "sso"}),
            ("parichay",),
            id="central",
        ),
        pytest.param(
            _incident("EOfficeDown", "app", {"target": "eoffice-web", "role": "app"}),
            ("eoffice-web",),
            id="app",
        ),
        pytest.param(
            _incident(
                "ParichayPartiallyUnreachable",
                "path",
                {"target": "parichay-login-page", "role": "sso", "vantage": "district-haridwar"},
                {"target": "parichay-login-page", "role": "sso", "vantage": "cloud-mumbai"},
            ),
            ("site:cloud-mumbai", "site:district-haridwar"),
            id="path",
        ),
        pytest.param(
            _incident("VantageNetworkDown", "local", {"vantage": "district-haridwar"}),
            ("site:district-haridwar",),
            id="local",
        ),
        pytest.param(
            _incident("ExporterDown", "monitoring", {"vantage": "district-haridwar"}),
            (),
            id="monitoring-is-no-service-outage",
        ),
    ],
)
def test_incident_rows(incident: Incident, rows: tuple[str, ...]) -> None:
    """Each scope's incident counts against the row where the fault lay, monitoring against none."""
    assert incident_services(incident) == rows


# ---------------------------------------------------------------------------- maintenance

T0 = 1_000_000.0
SSO = {"alertname": "ParichayDown", "severity": "page", "scope": "central", "target": "parichay-login-page", "role": "sso"}  # fmt: skip
PATH_H = {"alertname": "ParichayPartiallyUnreachable", "severity": "page", "scope": "path", "target": "parichay-login-page", "vantage": "district-haridwar"}  # fmt: skip
PATH_M = PATH_H | {"vantage": "cloud-mumbai"}
EOFFICE = {"alertname": "EOfficeDown", "severity": "page", "scope": "app", "target": "eoffice-web", "role": "app"}  # fmt: skip


def _firing(*labels: dict[str, str], start: float, end: float, paged_at: float) -> Incident:
    return Incident(
        alertname=labels[0]["alertname"],
        scope=labels[0]["scope"],
        severity="page",
        start=start,
        end=end,
        paged_at=paged_at,
        ongoing=False,
        labels=labels,
    )


def _w(service: str, start: float, end: float) -> Window:
    return Window(service, T0 + start, T0 + end)


@pytest.mark.parametrize(
    ("labels", "span", "windows", "expected"),
    [
        pytest.param((SSO,), (0, 3600), (), 60, id="no-window-pages-at-first-firing"),
        pytest.param(
            (SSO,), (600, 4200), [_w("parichay", 0, 10800)], None, id="inside-parichay-window"
        ),
        pytest.param(
            (SSO,), (600, 4200), [_w("site:district-haridwar", 0, 10800)], 60,
            id="a-site-window-does-not-silence-parichay",
        ),
        pytest.param(
            (EOFFICE,), (600, 4200), [_w("parichay", 0, 10800)], 60,
            id="a-parichay-window-does-not-silence-e-office",
        ),
        pytest.param(
            (EOFFICE,), (600, 4200), [_w("eoffice-web", 0, 10800)], None,
            id="the-e-office-targets-window-silences-it",
        ),
        pytest.param(
            (SSO,), (9000, 12600), [_w("parichay", 0, 10800)], 10800 - 9000,
            id="outlasts-the-window-pages-when-it-ends",
        ),
        pytest.param(
            (SSO,), (9000, 10805), [_w("parichay", 0, 10800)], None,
            id="a-tail-shorter-than-group-wait-pages-nobody",
        ),
        pytest.param(
            (SSO,), (-300, 1800), [_w("parichay", 0, 10800)], 60,
            id="fired-before-the-window-began",
        ),
        pytest.param(
            (PATH_H, PATH_M), (0, 3600), [_w("site:district-haridwar", -60, 7200)], 60,
            id="one-of-two-sites-silenced-still-pages",
        ),
        pytest.param(
            (PATH_H, PATH_M), (0, 3600),
            [_w("site:district-haridwar", -60, 7200), _w("site:cloud-mumbai", -60, 7200)], None,
            id="both-sites-silenced",
        ),
        pytest.param(
            (SSO,), (0, 3600), [_w("parichay", -60, 1800), _w("parichay", 1800, 7200)], None,
            id="back-to-back-windows",
        ),
    ],
)  # fmt: skip
def test_paging_start_with_maintenance_windows(
    labels: tuple[dict[str, str], ...],
    span: tuple[float, float],
    windows: list[Window],
    expected: float | None,
) -> None:
    """An incident pages unless every alert of it is silenced by a maintenance window
    (matchers as `parichay-status maintenance add` sets them) for all its firing time but for
    stretches shorter than group_wait; it pages at its first unsilenced stretch."""
    start, end = T0 + span[0], T0 + span[1]
    incident = _firing(*labels, start=start, end=end, paged_at=start + 60)
    got = paging_start(incident, windows, group_wait=10)
    assert (None if got is None else got - start) == expected


def test_a_short_alert_without_any_window_still_pages() -> None:
    """Firing for less than group_wait with no window at all is a paged incident, as before."""
    incident = _firing(SSO, start=T0, end=T0 + 65, paged_at=T0 + 60)
    assert paging_start(incident, [_w("site:cloud-mumbai", 0, 100)], group_wait=10) == T0 + 60


def test_silence_matchers_are_the_notices_ones() -> None:
    """A window silences exactly what the silence of `maintenance add` would (regex anchored)."""
    window = Window("parichay", 0, 1)
    assert silenced_by(window, {"alertname": "ParichayPartiallyUnreachable"})
    assert not silenced_by(window, {"alertname": "NotParichayDown"})
    assert silenced_by(
        Window("site:cloud-mumbai", 0, 1), {"alertname": "X", "vantage": "cloud-mumbai"}
    )
    assert not silenced_by(
        Window("eoffice-web", 0, 1), {"alertname": "EOfficeDown", "target": "eoffice-login"}
    )
