"""Alertmanager's webhook payload (version "4") parsed into frozen dataclasses.

`parse_webhook()` takes the decoded JSON and either returns a `WebhookMessage` or
raises `PayloadError` whose message names the offending field, e.g.
``alerts[0].startsAt: expected an RFC 3339 time, got "yesterday"``; the HTTP layer
returns that reason with a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final, Literal, cast

Status = Literal["firing", "resolved"]
_STATUSES: Final = ("firing", "resolved")
# Alertmanager sends this for "not ended yet".
_ZERO_TIME_YEAR: Final = 1


class PayloadError(ValueError):
    """The body is not a version-4 Alertmanager webhook payload."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    status: Status
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    fingerprint: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookMessage:
    version: str
    group_key: str
    status: Status
    receiver: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    alerts: tuple[Alert, ...]
    truncated_alerts: int = 0


def _str(data: Mapping[str, object], key: str, path: str, *, required: bool = True) -> str:
    if key not in data:
        if required:
            raise PayloadError(f"{path}{key}: required field missing")
        return ""
    value = data[key]
    if not isinstance(value, str):
        raise PayloadError(f"{path}{key}: expected a string, got {type(value).__name__}")
    return value


def _labels(data: Mapping[str, object], key: str, path: str) -> Mapping[str, str]:
    value = data.get(key, {})
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise PayloadError(f"{path}{key}: expected an object, got {type(value).__name__}")
    for name, item in value.items():
        if not isinstance(item, str):
            raise PayloadError(f"{path}{key}.{name}: expected a string, got {type(item).__name__}")
    return MappingProxyType(dict(cast(dict[str, str], value)))


def _status(data: Mapping[str, object], path: str) -> Status:
    value = _str(data, "status", path)
    if value not in _STATUSES:
        raise PayloadError(f'{path}status: expected "firing" or "resolved", got {value!r}')
    return cast(Status, value)


def _time(data: Mapping[str, object], key: str, path: str, *, required: bool) -> datetime | None:
    raw = _str(data, key, path, required=required)
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{path}{key}: expected an RFC 3339 time, got {raw!r}") from None
    if parsed.tzinfo is None:
        raise PayloadError(f"{path}{key}: expected a time zone in {raw!r}")
    if parsed.year <= _ZERO_TIME_YEAR:
        return None
    return parsed.astimezone(UTC)


def _alert(raw: object, index: int) -> Alert:
    path = f"alerts[{index}]."
    if not isinstance(raw, dict):
        raise PayloadError(f"alerts[{index}]: expected an object, got {type(raw).__name__}")
    starts_at = _time(raw, "startsAt", path, required=True)
    if starts_at is None:
        raise PayloadError(f"{path}startsAt: must be a real time")
    return Alert(
        status=_status(raw, path),
        labels=_labels(raw, "labels", path),
        annotations=_labels(raw, "annotations", path),
        starts_at=starts_at,
        ends_at=_time(raw, "endsAt", path, required=False),
        fingerprint=_str(raw, "fingerprint", path),
    )


def parse_webhook(data: object) -> WebhookMessage:
    """Validate decoded JSON as an Alertmanager webhook (version "4")."""
    if not isinstance(data, dict):
        raise PayloadError(f"body: expected a JSON object, got {type(data).__name__}")
    version = _str(data, "version", "")
    if version != "4":
        raise PayloadError(f'version: expected "4", got {version!r}')
    alerts_raw = data.get("alerts")
    if not isinstance(alerts_raw, list) or not alerts_raw:
        raise PayloadError("alerts: expected a non-empty list")
    truncated = data.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadError("truncatedAlerts: expected a non-negative integer")
    group_key = _str(data, "groupKey", "")
    if not group_key:
        raise PayloadError("groupKey: must not be empty")
    return WebhookMessage(
        version=version,
        group_key=group_key,
        status=_status(data, ""),
        receiver=_str(data, "receiver", ""),
        group_labels=_labels(data, "groupLabels", ""),
        common_labels=_labels(data, "commonLabels", ""),
        common_annotations=_labels(data, "commonAnnotations", ""),
        external_url=_str(data, "externalURL", "", required=False),
        alerts=tuple(_alert(raw, i) for i, raw in enumerate(alerts_raw)),
        truncated_alerts=truncated,
    )
