"""Rendering an Alertmanager group into SMS values, routing, de-duplication keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from smsbridge.bridge import plan_deliveries
from smsbridge.config import parse_config
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
        "district-haridwar नेटवर्क",
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
