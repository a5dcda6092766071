"""Rendering an Alertmanager group into SMS values, routing, de-duplication keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from smsbridge.config import parse_config
from smsbridge.intake import plan_deliveries
from smsbridge.payload import parse_webhook
from smsbridge.render import dedup_key, group_values

IST = ZoneInfo("Asia/Kolkata")


def test_values_say_what_where_and_since_when_in_ist(sms: Any) -> None:
    """ParichayDown at 04:12Z renders as Parichay / central / 25 Nov 09:42 (IST)."""
    values = group_values(parse_webhook(sms.payload()), tz=IST)
    assert values["status"] == "FIRING"
    assert values["status_hi"] == "चालू"
    assert values["what"] == "Parichay"
    assert values["what_hi"] == "परिचय"
    assert values["scope"] == "central"
    assert values["since"] == "25 Nov 09:42"
    assert values["count"] == "1"
    assert values["more"] == ""


def test_vantage_network_alert_names_the_vantage(sms: Any) -> None:
    """VantageNetworkDown is about the vantage's own network, not the SSO."""
    body = sms.payload(
        [sms.alert(alertname="VantageNetworkDown", scope="local", vantage="district-haridwar")]
    )
    values = group_values(parse_webhook(body), tz=IST)
    assert (values["what"], values["what_hi"]) == (
        "network of district-haridwar",
        "district-haridwar का नेटवर्क",
    )


def test_many_alerts_become_one_message_that_counts_them(sms: Any) -> None:
    """Three firing alerts: count 3, '(+2 more)', and since = the earliest start."""
    alerts = [
        sms.alert(vantage="v1", fingerprint="f1", starts_at="2026-11-25T04:20:00Z"),
        sms.alert(vantage="v2", fingerprint="f2", starts_at="2026-11-25T04:12:00Z"),
        sms.alert(vantage="v3", fingerprint="f3", starts_at="2026-11-25T04:30:00Z"),
    ]
    values = group_values(parse_webhook(sms.payload(alerts)), tz=IST)
    assert (values["count"], values["more"], values["more_hi"]) == ("3", " (+2 more)", " (+2 अन्य)")
    assert values["since"] == "25 Nov 09:42"
    assert values["vantage"] == "3 vantages"


def test_dedup_key_ignores_alert_order_but_not_status(sms: Any) -> None:
    """HA peers may list alerts in another order: same key; resolved is a new key."""
    a1, a2 = sms.alert(fingerprint="f1"), sms.alert(fingerprint="f2", vantage="v2")
    one = parse_webhook(sms.payload([a1, a2]))
    other = parse_webhook(sms.payload([a2, a1]))
    resolved = parse_webhook(sms.payload([dict(a1, status="resolved")], status="resolved"))
    assert dedup_key(one) == dedup_key(other)
    assert dedup_key(one) != dedup_key(resolved)


def test_routes_by_labels_and_sends_each_template_once_per_number(tmp_path: Path, sms: Any) -> None:
    """severity=page reaches on-call; scope=central also the director; app scope does not."""
    config = parse_config(sms.base_config(tmp_path, gateway_url="http://127.0.0.1:9"))
    central = plan_deliveries(parse_webhook(sms.payload()), config=config)
    assert [(d.number, d.template) for d in central] == [
        ("+919876543210", "alert_en"),
        ("+919812345678", "alert_hi"),
    ]
    assert central[0].text == (
        "ITDA ALERT FIRING: Parichay - ParichayDown (central scope) since 25 Nov 09:42 IST. -ITDA"
    )
    assert central[1].text == "ITDA चेतावनी चालू: परिचय - ParichayDown 25 Nov 09:42 IST से। -ITDA"
    app = sms.payload([sms.alert(alertname="EOfficeDown", scope="app", target="eoffice-uk")])
    assert [d.number for d in plan_deliveries(parse_webhook(app), config=config)] == [
        "+919876543210"
    ]
    ticket = sms.payload([sms.alert(alertname="ParichaySlow", severity="ticket")])
    assert plan_deliveries(parse_webhook(ticket), config=config) == []


def test_a_route_only_counts_the_alerts_it_matches(tmp_path: Path, sms: Any) -> None:
    """A mixed group (one page, one ticket) pages about the one page alert."""
    config = parse_config(sms.base_config(tmp_path, gateway_url="http://127.0.0.1:9"))
    body = sms.payload(
        [sms.alert(fingerprint="p"), sms.alert(fingerprint="t", severity="ticket", vantage="v2")]
    )
    texts = [d.text for d in plan_deliveries(parse_webhook(body), config=config)]
    assert texts[0] == (
        "ITDA ALERT FIRING: Parichay - ParichayDown (central scope) since 25 Nov 09:42 IST. -ITDA"
    )


def _path_alerts(sms: Any, vantages: list[str], *, app: bool = False) -> list[dict[str, Any]]:
    """One PartiallyUnreachable alert per failing vantage, as Alertmanager groups them."""
    alerts = []
    for i, vantage in enumerate(vantages):
        a = sms.alert(
            alertname="EOfficePartiallyUnreachable" if app else "ParichayPartiallyUnreachable",
            scope="path",
            vantage=vantage,
            target="eoffice-uk" if app else "parichay",
            fingerprint=f"p{i}",
        )
        a["labels"]["role"] = "app" if app else "sso"
        a["labels"]["kind"] = "http"
        alerts.append(a)
    return alerts


@pytest.mark.parametrize(
    ("vantages", "limit", "what", "what_hi"),
    [
        pytest.param(
            ["secretariat-dehradun", "district-haridwar"],
            0,
            "Parichay from district-haridwar, secretariat-dehradun",
            "district-haridwar, secretariat-dehradun से परिचय",
            id="no-limit-full-names",
        ),
        pytest.param(
            ["district-haridwar", "secretariat-dehradun"],
            32,
            "Parichay from haridwar, dehradun",
            "haridwar, dehradun से परिचय",
            id="short-place-names",
        ),
        pytest.param(
            ["district-haridwar", "secretariat-dehradun"],
            30,
            "Parichay: haridwar, dehradun",
            "haridwar, dehradun से परिचय",
            id="dlt-limit-30",
        ),
        pytest.param(
            ["district-haridwar", "district-almora", "secretariat-dehradun"],
            30,
            "Parichay from 3 sites",
            "3 स्थानों से परिचय",
            id="too-many-to-name",
        ),
        pytest.param(
            ["district-haridwar"],
            30,
            "Parichay from haridwar",
            "district-haridwar से परिचय",
            id="one-site",
        ),
    ],
)
def test_path_scope_names_the_failing_sites_within_the_dlt_limit(
    sms: Any, vantages: list[str], limit: int, what: str, what_hi: str
) -> None:
    """A path alert group (one alert per failing vantage) says which sites cannot reach
    the service, as fully as `max_var_chars` allows, then falls back to a count."""
    body = sms.payload(_path_alerts(sms, vantages))
    values = group_values(parse_webhook(body), tz=IST, max_var_chars=limit)
    assert (values["what"], values["what_hi"]) == (what, what_hi)
    assert (values["scope"], values["scope_hi"]) == ("path", "नेटवर्क मार्ग")
    if limit:
        assert len(values["what"]) <= limit and len(values["what_hi"]) <= limit


def test_path_scope_for_e_office_drops_the_target_before_the_sites(sms: Any) -> None:
    """EOfficePartiallyUnreachable keeps the site name and drops the target name when
    both do not fit in 30 characters."""
    body = sms.payload(_path_alerts(sms, ["district-haridwar"], app=True))
    values = group_values(parse_webhook(body), tz=IST, max_var_chars=30)
    assert values["what"] == "e-Office from haridwar"
    assert values["what_hi"] == "haridwar से ई-ऑफिस eoffice-uk"


def test_a_path_page_as_texted_names_the_sites(tmp_path: Path, sms: Any) -> None:
    """The shipped-style English and Hindi templates carry the site names to the phone."""
    config = parse_config(sms.base_config(tmp_path, gateway_url="http://127.0.0.1:9"))
    body = sms.payload(_path_alerts(sms, ["district-haridwar", "secretariat-dehradun"]))
    deliveries = plan_deliveries(parse_webhook(body), config=config)
    assert [d.text for d in deliveries] == [
        "ITDA ALERT FIRING: Parichay: haridwar, dehradun - ParichayPartiallyUnreachable"
        " (path scope) since 25 Nov 09:42 IST (+1 more). -ITDA"
    ]


@pytest.mark.parametrize(
    ("labels", "what"),
    [
        pytest.param(
            {"alertname": "SMSDeliveryFailing", "job": "smsbridge"},
            "monitoring smsbridge",
            id="sms",
        ),
        pytest.param(
            {"alertname": "ConfigReloadFailed", "job": "exporter", "vantage": "district-haridwar"},
            "monitoring district-haridwar",
            id="reload",
        ),
        pytest.param({"alertname": "PrometheusRuleFailures"}, "monitoring", id="bare"),
    ],
)
def test_monitoring_alerts_render_as_the_monitoring_chain(
    sms: Any, labels: dict[str, str], what: str
) -> None:
    """Self-monitoring alerts say 'monitoring' and where, never 'Parichay'."""
    a = sms.alert(scope="monitoring", severity="page")
    a["labels"] = {"severity": "page", "scope": "monitoring", **labels}
    values = group_values(parse_webhook(sms.payload([a])), tz=IST, max_var_chars=30)
    assert values["what"] == what
    assert values["scope_hi"] == "निगरानी"


def test_the_bridges_resolved_email_words_it_as_alertmanagers_template() -> None:
    """The RESOLVED email (from the bridge) and the FIRING one (from Alertmanager) read as
    one thread: every fixed line of the bridge's email stands verbatim in parichay.tmpl."""
    from smsbridge.render import EVERY_VANTAGE, RESOLVED_LINES

    template = (Path(__file__).resolve().parents[2] / "alertmanager" / "templates" / "parichay.tmpl").read_text()
    for line in (*RESOLVED_LINES, EVERY_VANTAGE, "RESOLVED / समाप्त", "समस्या समाप्त"):
        assert line in template, line
    for label in ("Target / लक्ष्य:", "Vantage(s) / स्थान:", "Since / कब से:", "Resolved / समाप्त:", "Runbook / रनबुक:"):
        assert label in template, label
