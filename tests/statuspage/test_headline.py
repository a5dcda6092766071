"""Headline sentences: worded by scope as the SMS is; 'alerted' only when Alertmanager notifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from statuspage.alertmanager import AmAlert
from statuspage.notices import Notice, under_maintenance
from statuspage.view import headlines

T0 = datetime(2024, 9, 2, 4, 12, tzinfo=UTC)  # 09:42 IST

DOWN = {
    "alertname": "ParichayDown",
    "severity": "page",
    "scope": "central",
    "target": "parichay-login-page",
    "role": "sso",
    "kind": "http",
}


def _partial(vantage: str) -> dict[str, str]:
    return {
        "alertname": "ParichayPartiallyUnreachable",
        "severity": "page",
        "scope": "path",
        "target": "parichay-login-page",
        "role": "sso",
        "kind": "http",
        "vantage": vantage,
    }


def _am(
    labels: dict[str, str],
    *,
    state: str = "active",
    silenced: tuple[str, ...] = (),
    inhibited: tuple[str, ...] = (),
) -> AmAlert:
    return AmAlert(
        labels=labels,
        annotations={},
        starts_at=T0,
        ends_at=None,
        state=state,
        silenced_by=silenced,
        inhibited_by=inhibited,
    )


def test_central_outage_names_parichay_and_the_time_of_the_page() -> None:
    """ParichayDown held active by Alertmanager: the issue's sentence, since the alert's start."""
    (h,) = headlines(firing=[DOWN | {"alertstate": "firing"}], am_alerts=[_am(DOWN)])
    assert h.en == (
        "e-Office login is down because Parichay (NIC, Delhi) is down since 09:42 IST."
        " ITDA has been alerted."
    )
    assert h.hi == (
        "परिचय (NIC, दिल्ली) 09:42 IST से बंद है, इसलिए ई-ऑफिस में लॉगिन नहीं हो रहा है।"
        " ITDA को सूचना दे दी गई है।"
    )
    assert h.alerted and h.level == "down"


@pytest.mark.parametrize(
    "am_alerts",
    [
        pytest.param([_am(DOWN, state="suppressed", silenced=("s1",))], id="silenced"),
        pytest.param([], id="not-in-alertmanager"),
        pytest.param(None, id="alertmanager-unreachable"),
    ],
)
def test_itda_is_checking_unless_alertmanager_notifies(am_alerts: list[AmAlert] | None) -> None:
    """Silenced, inhibited, unknown to Alertmanager or unreadable: never 'has been alerted'."""
    (h,) = headlines(firing=[DOWN | {"alertstate": "firing"}], am_alerts=am_alerts)
    assert h.en.endswith("ITDA is checking.") and h.hi.endswith("ITDA जाँच कर रहा है।")
    assert not h.alerted


def test_partial_reachability_names_the_failing_sites_and_says_others_work() -> None:
    """One sentence for all failing sites of a path alert, with their human names."""
    firing = [_partial("district-haridwar"), _partial("secretariat-dehradun")]
    (h,) = headlines(firing=firing, am_alerts=[_am(f) for f in firing])
    assert h.en == (
        "Parichay cannot be reached from the Haridwar district office and the secretariat"
        " in Dehradun; other sites work. ITDA has been alerted."
    )
    assert h.hi.startswith("हरिद्वार जिला कार्यालय और देहरादून सचिवालय से परिचय तक नहीं पहुँचा जा सकता;")
    assert h.level == "partial"


@pytest.mark.parametrize(
    ("labels", "en"),
    [
        pytest.param(
            {"alertname": "VantageNetworkDown", "scope": "local", "vantage": "district-haridwar"},
            "Only the network of the Haridwar district office is down since 09:42 IST; Parichay and e-Office work.",
            id="local",
        ),
        pytest.param(
            {"alertname": "VantageResolverDown", "scope": "local", "vantage": "district-haridwar"},
            "Only the name server (DNS) of the Haridwar district office is down since 09:42 IST; other sites work.",
            id="resolver",
        ),
        pytest.param(
            {
                "alertname": "ParichayIntermittent",
                "scope": "central",
                "target": "parichay-login-page",
            },
            "Parichay (NIC, Delhi) is failing intermittently since 09:42 IST: many e-Office logins fail.",
            id="intermittent",
        ),
        pytest.param(
            {"alertname": "EOfficeDown", "scope": "app", "target": "eoffice-web"},
            "e-Office (eoffice-web) is down since 09:42 IST; Parichay works, the fault is in e-Office.",
            id="app",
        ),
        pytest.param(
            {
                "alertname": "EOfficePartiallyUnreachable",
                "scope": "path",
                "target": "eoffice-web",
                "role": "app",
                "vantage": "cloud-mumbai",
            },
            "e-Office cannot be reached from the Mumbai cloud site; other sites work.",
            id="eoffice-path",
        ),
    ],
)
def test_each_scope_has_its_sentence(labels: dict[str, str], en: str) -> None:
    """The new alerts of the messy-incidents work are worded by scope too."""
    full = labels | {"severity": "page"}
    (h,) = headlines(firing=[full], am_alerts=[_am(full)])
    assert h.en == en + " ITDA has been alerted."
    assert h.hi.endswith("ITDA को सूचना दे दी गई है।")


def test_watchdog_and_tickets_never_reach_the_headline() -> None:
    """Watchdog (severity none) and ticket alerts leave the all-clear in place."""
    firing = [
        {"alertname": "Watchdog", "severity": "none", "scope": "monitoring"},
        {"alertname": "ParichaySlow", "severity": "ticket", "scope": "central"},
    ]
    (h,) = headlines(firing=firing, am_alerts=[_am(f) for f in firing])
    assert h.level == "ok"
    assert h.en == "Parichay and e-Office are working normally."


def test_central_comes_before_local_when_both_fire() -> None:
    """The most severe sentence leads."""
    local = {
        "alertname": "VantageNetworkDown",
        "severity": "page",
        "scope": "local",
        "vantage": "cloud-mumbai",
    }
    out = headlines(firing=[local, DOWN], am_alerts=[_am(local), _am(DOWN)])
    assert [h.alertname for h in out] == ["ParichayDown", "VantageNetworkDown"]


def test_without_prometheus_alertmanagers_active_alerts_stand_in() -> None:
    """Prometheus unreadable: the alerts Alertmanager holds still give the sentence."""
    (h,) = headlines(firing=None, am_alerts=[_am(DOWN)])
    assert h.alertname == "ParichayDown" and h.alerted


@pytest.mark.parametrize(
    "am_alerts",
    [pytest.param([], id="alertmanager-empty"), pytest.param(None, id="alertmanager-unreachable")],
)
def test_without_prometheus_and_no_alert_the_page_never_says_all_is_well(
    am_alerts: list[AmAlert] | None,
) -> None:
    """Prometheus unreadable and no page alert in Alertmanager: 'cannot be read', not 'working normally'."""
    (h,) = headlines(firing=None, am_alerts=am_alerts)
    assert h.level == "unknown"
    assert h.en == "The state of Parichay and e-Office cannot be read right now."


def test_an_inhibited_alert_gives_way_to_the_alert_that_inhibits_it() -> None:
    """A site's network down inhibits its partial-reachability alert: only the network sentence shows."""
    local = {
        "alertname": "VantageNetworkDown",
        "severity": "page",
        "scope": "local",
        "vantage": "district-haridwar",
    }
    partial = _partial("district-haridwar")
    out = headlines(
        firing=[local, partial],
        am_alerts=[_am(local), _am(partial, state="suppressed", inhibited=("fp-local",))],
    )
    assert [h.alertname for h in out] == ["VantageNetworkDown"]
    assert out[0].alerted


def test_an_alert_silenced_by_a_maintenance_window_says_it_is_the_planned_maintenance() -> None:
    """Silenced by a parichay-status window: 'planned maintenance', not 'ITDA is checking'."""
    (h,) = headlines(
        firing=[DOWN],
        am_alerts=[_am(DOWN, state="suppressed", silenced=("win-1",))],
        maintenance_ids=frozenset({"win-1"}),
    )
    assert h.en.endswith(
        " is down since 09:42 IST. This is the planned maintenance announced above."
    )
    assert h.hi.endswith("यह ऊपर घोषित नियोजित रखरखाव है।")
    assert h.level == "maintenance" and not h.alerted


def test_alertmanagers_copy_matches_although_it_carries_prometheus_external_labels() -> None:
    """Prometheus adds its external labels (the shipped `runbook_base`) to what it sends;
    `ALERTS` lacks them. The alert is still recognised: ITDA has been alerted."""
    sent = DOWN | {"runbook_base": "http://statuspage:10073/runbooks", "replica": "a"}
    (h,) = headlines(firing=[DOWN | {"alertstate": "firing"}], am_alerts=[_am(sent)])
    assert h.alerted and h.en.endswith("ITDA has been alerted.")
    other = sent | {"target": "parichay-other"}
    (h,) = headlines(firing=[DOWN | {"alertstate": "firing"}], am_alerts=[_am(other)])
    assert not h.alerted and h.en.endswith("ITDA is checking.")


def test_an_alert_about_a_row_in_maintenance_is_planned_though_not_silenced() -> None:
    """The e-Office login fails while Parichay is in maintenance: its row is in maintenance
    (`notices.under_maintenance`), so unless someone was really paged for it the sentence
    says planned maintenance, not "ITDA is checking"."""
    login = {
        "alertname": "EOfficeLoginFailing",
        "severity": "page",
        "scope": "app",
        "target": "eoffice-login",
        "role": "app",
        "kind": "login",
        "vantage": "cloud-mumbai",
    }
    rows = frozenset({"parichay", "eoffice-login"})
    (h,) = headlines(firing=[login], am_alerts=[], in_maintenance=rows)
    assert h.level == "maintenance" and not h.alerted
    assert h.en.endswith("This is the planned maintenance announced above."), h.en
    (h,) = headlines(firing=[login], am_alerts=[], in_maintenance=frozenset({"parichay"}))
    assert h.level == "down" and h.en.endswith("ITDA is checking.")
    (h,) = headlines(firing=[login], am_alerts=[_am(login)], in_maintenance=rows)
    assert h.alerted and h.en.endswith("ITDA has been alerted.")


def test_a_window_of_parichay_puts_the_rows_that_need_it_in_maintenance() -> None:
    """Parichay's window covers the e-Office login rows (they log in through it); a window
    of one e-Office target or site covers that row only; expired and future windows none."""
    now = datetime(2024, 9, 2, 4, 0, tzinfo=UTC)

    def window(
        service: str, *, start: int = -10, end: int = 60, kind: str = "maintenance"
    ) -> Notice:
        return Notice(
            id=service, kind=kind, service=service, note_en="", note_hi="",
            start=now + timedelta(minutes=start), end=now + timedelta(minutes=end),
            state="active",
        )  # fmt: skip

    deps = ["eoffice-login"]
    assert under_maintenance([window("parichay")], now=now, sso_dependents=deps) == {
        "parichay",
        "eoffice-login",
    }
    assert under_maintenance([window("eoffice-root")], now=now, sso_dependents=deps) == {
        "eoffice-root"
    }
    assert under_maintenance([window("site:x")], now=now, sso_dependents=deps) == {"site:x"}
    assert under_maintenance([window("parichay", start=5)], now=now, sso_dependents=deps) == set()
    assert (
        under_maintenance([window("parichay", kind="notice")], now=now, sso_dependents=deps)
        == set()
    )
