"""Fixtures for the SMS bridge tests: a recording gateway stand-in, configs, payloads."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

TOKEN = "am-webhook-token-5f1c"
PIN = "Nic#Pin-7731"


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    json: Any
    headers: dict[str, str]
    raw: bytes


@dataclass
class GatewayStandIn:
    """A local HTTP gateway that records requests and answers as scripted.

    `fail_next` requests get `fail_status`; afterwards NIC-style success (or `ok_body`).
    Paths: /nic and /nic2 (NIC API), /http (generic JSON gateway).
    """

    requests: list[RecordedRequest] = field(default_factory=list)
    delivered: list[RecordedRequest] = field(default_factory=list)
    fail_next: int = 0
    fail_always: bool = False
    fail_status: int = 503
    ok_body: str = "Message Accepted for Request ID=12345678~code=API000 & info=Platform accepted"
    url: str = ""
    _counter: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        form: dict[str, str] = {}
        body_json: Any = None
        ctype = request.headers.get("Content-Type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            form = {k: str(v) for k, v in (await request.post()).items()}
        elif ctype.startswith("application/json"):
            body_json = json.loads(raw)
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                form=form,
                json=body_json,
                headers=dict(request.headers),
                raw=raw,
            )
        )
        if self.fail_always or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            return web.Response(status=self.fail_status, text="temporarily unavailable")
        self._counter += 1
        self.delivered.append(self.requests[-1])
        if request.path.startswith("/http"):
            return web.json_response({"type": "success", "request_id": f"req-{self._counter}"})
        return web.Response(text=self.ok_body.replace("12345678", str(12345677 + self._counter)))

    def on(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, count: int, *, path: str | None = None, within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            seen = self.on(path) if path else self.requests
            if len(seen) >= count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"gateway got {len(self.requests)} request(s), wanted {count}")


@pytest.fixture
async def gateway() -> AsyncIterator[GatewayStandIn]:
    stand_in = GatewayStandIn()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stand_in.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    stand_in.url = f"http://127.0.0.1:{port}"
    yield stand_in
    await runner.cleanup()


def base_config(tmp_path: Path, *, gateway_url: str, provider: str = "nic") -> dict[str, Any]:
    """A complete, valid bridge config as a dict (tests mutate it, then write it)."""
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "pin").write_text(PIN + "\n")
    providers: dict[str, Any]
    if provider == "nic":
        providers = {
            "nic": {
                "url": f"{gateway_url}/nic",
                "username": "itda.sms",
                "pin_file": str(tmp_path / "pin"),
                "signature": "ITDAUK",
                "dlt_entity_id": "1101234567890123456",
                "timeout": "2s",
            }
        }
    else:
        (tmp_path / "authkey").write_text("msg91-auth-key-xyz\n")
        providers = {
            "msg91": {
                "kind": "http",
                "url": f"{gateway_url}/http/send",
                "method": "POST",
                "headers": {"authkey": "${secret.authkey}"},
                "json": {
                    "sender": "${sender}",
                    "mobiles": "${number_international}",
                    "message": "${message}",
                    "unicode": "${unicode}",
                    "DLT_TE_ID": "${dlt_template_id}",
                },
                "secrets": {"authkey": {"file": str(tmp_path / "authkey")}},
                "sender": "ITDAUK",
                "success": {"status": [200], "body_contains": '"type": "success"'},
                "request_id_regex": '"request_id": "([^"]+)"',
                "timeout": "2s",
            }
        }
    return {
        "listen": "127.0.0.1:0",
        "dedup_window": "15m",
        "auth": {"token_file": str(tmp_path / "token")},
        "outbox": {
            "path": str(tmp_path / "outbox.sqlite3"),
            "max_age": "1h",
            "busy_timeout": "200ms",
        },
        "sender": {"retry_initial": "50ms", "retry_max": "200ms", "poll_interval": "100ms"},
        "messages": {"max_parts": 3, "max_var_chars": 30},
        "providers": providers,
        "templates": {
            "alert_en": {
                "dlt_template_id": "1107160000000000001",
                "dlt_text": "ITDA ALERT {#var#}: {#var#} - {#var#} ({#var#} scope) since {#var#} IST{#var#}. -ITDA",
                "text": "ITDA ALERT {status}: {what} - {alertname} ({scope} scope) since {since} IST{more}. -ITDA",
            },
            "alert_hi": {
                "dlt_template_id": "1107160000000000002",
                "dlt_text": "ITDA चेतावनी {#var#}: {#var#} - {#var#} {#var#} IST से{#var#}। -ITDA",
                "text": "ITDA चेतावनी {status_hi}: {what_hi} - {alertname} {since} IST से{more_hi}। -ITDA",
            },
            "rate_limited": {
                "dlt_template_id": "1107160000000000003",
                "dlt_text": "ITDA: SMS limit of {#var#} reached; more alerts until {#var#} IST by email. -ITDA",
                "text": "ITDA: SMS limit of {limit} reached; more alerts until {until} IST by email. -ITDA",
            },
        },
        "recipients": {
            "on-call": [{"name": "Duty 1", "number": "+919876543210"}],
            "director": [{"name": "Director", "number": "+919812345678"}],
        },
        "routes": [
            {
                "name": "oncall",
                "match": {"severity": "page"},
                "recipients": ["on-call"],
                "templates": ["alert_en"],
                "resolved": "if_fired",
            },
            {
                "name": "director",
                "match": {"severity": "page", "scope": "central"},
                "recipients": ["director"],
                "templates": ["alert_hi"],
                "resolved": "never",
            },
        ],
    }


def write_config(tmp_path: Path, data: dict[str, Any], name: str = "smsbridge.yml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def alert(
    *,
    alertname: str = "ParichayDown",
    severity: str = "page",
    scope: str = "central",
    status: str = "firing",
    vantage: str = "secretariat-dehradun",
    target: str = "parichay",
    fingerprint: str = "a1b2c3d4e5f60708",
    starts_at: str = "2026-11-25T04:12:00.123456789Z",
    ends_at: str = "0001-01-01T00:00:00Z",
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {
            "alertname": alertname,
            "severity": severity,
            "scope": scope,
            "vantage": vantage,
            "target": target,
            "role": "app" if scope == "app" else "sso",
        },
        "annotations": {
            "summary": "Parichay SSO is down",
            "summary_hi": "परिचय बंद है",
            "description": "d",
            "runbook_url": "https://runbooks.example/ParichayDown",
        },
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


def payload(
    alerts: list[dict[str, Any]] | None = None,
    *,
    status: str = "firing",
    group_key: str = '{}/{severity="page"}:{alertname="ParichayDown"}',
) -> dict[str, Any]:
    """An Alertmanager version-4 webhook body; common labels computed from the alerts."""
    alerts = alerts if alerts is not None else [alert(status=status)]
    common = dict(alerts[0]["labels"])
    for a in alerts[1:]:
        common = {k: v for k, v in common.items() if a["labels"].get(k) == v}
    annotations = dict(alerts[0]["annotations"])
    for a in alerts[1:]:
        annotations = {k: v for k, v in annotations.items() if a["annotations"].get(k) == v}
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "sms-oncall",
        "groupLabels": {"alertname": common.get("alertname", "")},
        "commonLabels": common,
        "commonAnnotations": annotations,
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


async def poll(predicate: Callable[[], Awaitable[bool] | bool], *, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met before the deadline")


@pytest.fixture
def sms() -> Callable[..., Any]:
    """Namespace-like access to the helpers above (tests cannot import conftest by name)."""

    class Helpers:
        TOKEN = TOKEN
        PIN = PIN
        base_config = staticmethod(base_config)
        write_config = staticmethod(write_config)
        alert = staticmethod(alert)
        payload = staticmethod(payload)
        poll = staticmethod(poll)

    return Helpers  # type: ignore[return-value]
