"""Parsing Alertmanager's version-4 webhook payload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from smsbridge.payload import PayloadError, parse_webhook


def test_a_real_alertmanager_payload_parses(sms: Any) -> None:
    """Nanosecond times, the zero endsAt and all group fields are read."""
    message = parse_webhook(sms.payload())
    assert message.group_key == '{}/{severity="page"}:{alertname="ParichayDown"}'
    assert message.status == "firing"
    assert message.common_labels["scope"] == "central"
    assert len(message.alerts) == 1
    first = message.alerts[0]
    assert first.starts_at == datetime(2026, 11, 25, 4, 12, 0, 123456, tzinfo=UTC)
    assert first.ends_at is None
    assert first.fingerprint == "a1b2c3d4e5f60708"


def _broken(sms: Any, change: str) -> Any:
    body = sms.payload()
    if change == "version":
        body["version"] = "3"
    elif change == "no-alerts":
        body["alerts"] = []
    elif change == "status":
        body["status"] = "pending"
    elif change == "starts":
        body["alerts"][0]["startsAt"] = "yesterday"
    elif change == "labels":
        body["alerts"][0]["labels"]["severity"] = 3
    elif change == "group-key":
        del body["groupKey"]
    elif change == "array":
        body = [body]
    return body


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param("version", "version: expected \"4\", got '3'", id="version"),
        pytest.param("no-alerts", "alerts: expected a non-empty list", id="no-alerts"),
        pytest.param(
            "status", 'status: expected "firing" or "resolved", got \'pending\'', id="status"
        ),
        pytest.param(
            "starts",
            "alerts[0].startsAt: expected an RFC 3339 time, got 'yesterday'",
            id="starts-at",
        ),
        pytest.param(
            "labels", "alerts[0].labels.severity: expected a string, got int", id="label-type"
        ),
        pytest.param("group-key", "groupKey: required field missing", id="group-key"),
        pytest.param("array", "body: expected a JSON object, got list", id="not-an-object"),
    ],
)
def test_wrong_schema_names_the_field(sms: Any, change: str, reason: str) -> None:
    """Each schema violation is reported with the path of the offending field."""
    with pytest.raises(PayloadError) as info:
        parse_webhook(_broken(sms, change))
    assert str(info.value) == reason
