"""The reading layer against a real Prometheus over 90 backfilled days."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from statuspage import reading
from statuspage.history import IST, day_start, format_ist, ist_day
from statuspage.sources import PrometheusClient, SourceError
from tests.statuspage.conftest import History, now_minute, start_history
from tests.support.backfill import Gap, Maintenance, Outage, Scenario, Topology
from tests.support.net import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _central(h: History) -> Outage:
    return next(o for o in h.scenario.outages() if o.scope == "central" and o.pages)


@pytest.mark.binaries
async def test_services_are_listed_parichay_first_then_eoffice_then_sites(history: History) -> None:
    """Every row of the backfilled topology is found, in page order."""
    async with PrometheusClient(url=history.url) as prom:
        services = await reading.list_services(prom, now=history.now)
    assert services == [
        "parichay",
        "eoffice-login",
        "eoffice-web",
        "site:cloud-mumbai",
        "site:district-haridwar",
        "site:secretariat-dehradun",
    ]


@pytest.mark.binaries
async def test_the_monday_outage_is_240_minutes_plus_a_one_minute_blip_on_its_day(
    history: History,
) -> None:
    """Daily figures count the 4-hour outage and the blip to the minute, in IST days."""
    outage = _central(history)
    day = ist_day(outage.start)
    async with PrometheusClient(url=history.url) as prom:
        daily = await reading.read_daily(
            prom, first=day - timedelta(days=1), last=day + timedelta(days=1), now=history.now
        )
    before, monday, after = daily["parichay"]
    assert monday.day == day
    assert (monday.minutes, monday.covered, monday.down, monday.maintenance) == (1440, 1440, 241, 0)
    assert monday.availability == pytest.approx(1 - 241 / 1440)
    assert monday.level == "down"
    assert (before.down, after.down) == (0, 0)
    # The login depends on Parichay; the e-Office pages and the sites do not.
    assert daily["eoffice-login"][1].down == 241
    assert daily["eoffice-web"][1].down == 0
    assert daily["site:district-haridwar"][1].down == 0


@pytest.mark.binaries
async def test_maintenance_is_marked_and_left_out_of_availability(history: History) -> None:
    """The 3-hour window counts as maintenance, not down, and not in the denominator."""
    window = next(e for e in history.scenario.events if isinstance(e, Maintenance))
    day = ist_day(window.start)
    async with PrometheusClient(url=history.url) as prom:
        daily = await reading.read_daily(
            prom, first=day, last=day, now=history.now, services=["parichay"]
        )
        windows = await reading.read_maintenance(
            prom, start=history.now - timedelta(days=30), end=history.now
        )
    (d,) = daily["parichay"]
    assert (d.maintenance, d.maintenance_covered, d.down, d.eligible) == (180, 180, 0, 1260)
    assert d.availability == 1.0
    assert d.level == "maintenance"
    assert [(w.service, format_ist(w.start), format_ist(w.end)) for w in windows] == [
        ("parichay", format_ist(window.start), format_ist(window.end))
    ]


@pytest.mark.binaries
async def test_incidents_are_the_outage_and_the_partial_hour_never_the_blips(
    history: History,
) -> None:
    """ALERTS history gives exactly two incidents with IST start/end to the minute."""
    async with PrometheusClient(url=history.url) as prom:
        found = await reading.read_incidents(
            prom, start=history.now - timedelta(days=30), end=history.now
        )
    assert [(i.alertname, i.scope, i.vantages) for i in found] == [
        ("ParichayPartiallyUnreachable", "path", ("district-haridwar",)),
        ("ParichayDown", "central", ()),
    ]
    path, central = found
    assert format_ist(central.start).endswith("09:40 IST")
    assert format_ist(central.end).endswith("13:40 IST")
    assert central.start // 60 * 60 == _central(history).start.timestamp()
    assert round(central.duration / 60) == 240
    assert round((central.paged_at - central.start) / 60) == 1
    assert ist_day(central.start).weekday() == 0
    assert round(path.duration / 60) == 60
    assert format_ist(path.start).endswith("15:00 IST") and format_ist(path.end).endswith(
        "16:00 IST"
    )
    assert not central.ongoing and not path.ongoing


@pytest.mark.binaries
async def test_current_state_is_up_everywhere_at_the_end_of_the_healthy_history(
    history: History,
) -> None:
    """Now (no ongoing outage) every row is up, and `since` is the end of its last fault."""
    async with PrometheusClient(url=history.url) as prom:
        state = await reading.read_current(
            prom, now=history.now, services=["parichay", "eoffice-web"]
        )
    assert state["parichay"].up is True and state["eoffice-web"].up is True
    assert state["eoffice-web"].since is None  # no change within the look-back


async def test_an_unreachable_prometheus_is_one_clear_error() -> None:
    """The message names Prometheus, its address and the reason; no httpx exception leaks."""
    url = f"http://127.0.0.1:{free_port()}"
    async with PrometheusClient(url=url, timeout=2) as prom:
        with pytest.raises(SourceError) as err:
            await reading.list_services(prom, now=datetime.now(IST))
    assert str(err.value) == f"could not reach Prometheus at {url}: connection refused"


@pytest.mark.binaries
async def test_a_gap_is_reported_as_a_gap_and_never_counted_as_up(tmp_path: Path) -> None:
    """Two hours without data: 120 uncovered minutes that day, one gap window, availability over the rest."""
    now = now_minute()
    day = ist_day(now) - timedelta(days=3)
    start = day_start(day) + timedelta(hours=10)
    outage = day_start(day) + timedelta(hours=15)
    scenario = Scenario(
        start=now - timedelta(days=7),
        end=now,
        events=(
            Gap(start=start, end=start + timedelta(hours=2)),
            Outage(start=outage, end=outage + timedelta(minutes=30), scope="central"),
        ),
    )
    h = await start_history(scenario, tmp_path)
    try:
        async with PrometheusClient(url=h.url) as prom:
            daily = await reading.read_daily(
                prom, first=day, last=day, now=now, services=["parichay"]
            )
            found = await reading.read_gaps(prom, start=now - timedelta(days=6), end=now)
    finally:
        await h.prometheus.stop()
    (d,) = daily["parichay"]
    assert (d.gap, d.covered, d.down, d.eligible) == (120, 1320, 30, 1320)
    assert d.availability == pytest.approx(1 - 30 / 1320)
    assert [(format_ist(g.start), format_ist(g.end)) for g in found] == [
        (format_ist(start), format_ist(start + timedelta(hours=2)))
    ]


@pytest.mark.binaries
async def test_the_dominant_reason_of_each_incident_is_read(history: History) -> None:
    """http_5xx for the central outage (every site), connect_timeout for Haridwar's partial hour."""
    async with PrometheusClient(url=history.url) as prom:
        found = await reading.read_incidents(
            prom, start=history.now - timedelta(days=30), end=history.now
        )
        path, central = found
        central_reason = await reading.read_reason(prom, incident=central)
        path_reason = await reading.read_reason(prom, incident=path)
    assert central_reason[0] == "http_5xx"
    assert path_reason[0] == "connect_timeout"


@pytest.mark.binaries
async def test_markup_and_regex_characters_in_service_names_are_matched_literally(
    tmp_path: Path,
) -> None:
    """A service named like markup or a regex reads its own figures only."""
    now = now_minute()
    odd = "<script>alert(1)</script>"
    scenario = Scenario(
        start=now - timedelta(days=2),
        end=now,
        events=(
            Outage(
                start=now - timedelta(hours=3),
                end=now - timedelta(hours=2),
                scope="app",
                target=odd,
            ),
        ),
        topology=Topology(app_targets=(odd, "eoffice.web")),
    )
    h = await start_history(scenario, tmp_path)
    try:
        async with PrometheusClient(url=h.url) as prom:
            daily = await reading.read_daily(
                prom,
                first=ist_day(now) - timedelta(days=1),
                last=ist_day(now),
                now=now,
                services=[odd, "eoffice.web"],
            )
    finally:
        await h.prometheus.stop()
    assert sum(d.down for d in daily[odd]) == 60
    assert sum(d.down for d in daily["eoffice.web"]) == 0
    assert sum(d.covered for d in daily[odd]) > 0


@pytest.mark.binaries
@pytest.mark.parametrize(
    ("failing_for", "up"),
    [
        pytest.param(timedelta(seconds=20), True, id="one-failed-evaluation-stays-up"),
        pytest.param(timedelta(minutes=3), False, id="three-minutes-is-down"),
    ],
)
async def test_a_row_turns_down_only_after_a_whole_minute_like_the_alerts(
    failing_for: timedelta, up: bool, tmp_path: Path
) -> None:
    """At 15 s evaluations, one failed evaluation leaves the row up; a sustained failure is down, since its start."""
    now = now_minute()
    start = now - failing_for
    scenario = Scenario(
        start=now - timedelta(hours=6),
        end=now,
        events=(Outage(start=start, end=now + timedelta(hours=1), scope="central"),),
        step=timedelta(seconds=15),
    )
    h = await start_history(scenario, tmp_path)
    try:
        async with PrometheusClient(url=h.url) as prom:
            state = await reading.read_current(prom, now=now, services=["parichay"])
    finally:
        await h.prometheus.stop()
    assert state["parichay"].up is up
    if not up:
        assert state["parichay"].since == start.timestamp()
