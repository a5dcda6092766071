"""The bridge over real sockets: webhook in, requests to a local gateway stand-in out."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from servicekit.logs import setup_logging
from smsbridge.app import BridgeService, config_secrets
from smsbridge.config import parse_config

Bridge = Callable[..., Any]


@pytest.fixture
def bridge(tmp_path: Path, sms: Any) -> Bridge:
    """`async with bridge(gateway_url, provider=..., changes=...) as (service, client)`."""

    @asynccontextmanager
    async def start(
        gateway_url: str, *, provider: str = "nic", changes: dict[str, Any] | None = None
    ) -> AsyncIterator[tuple[BridgeService, httpx.AsyncClient]]:
        data = sms.base_config(tmp_path, gateway_url=gateway_url, provider=provider)
        for key, value in (changes or {}).items():
            data[key] = value
        service = BridgeService(parse_config(data), registry=CollectorRegistry())
        await service.start()
        client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{service.port}",
            headers={"Authorization": f"Bearer {sms.TOKEN}"},
            trust_env=False,
        )
        try:
            yield service, client
        finally:
            await client.aclose()
            await service.stop()

    return start


def _metric(service: BridgeService, name: str, **labels: str) -> float:
    value = service.registry.get_sample_value("parichay_smsbridge_" + name, labels or None)
    assert value is not None, name
    return value


async def test_missing_or_wrong_credentials_get_401(gateway: Any, bridge: Bridge, sms: Any) -> None:
    """No header, a wrong token and an unconfigured scheme are all 401; nothing is queued."""
    async with bridge(gateway.url) as (service, client):
        body = sms.payload()
        none = await client.post("/alertmanager", json=body, headers={"Authorization": ""})
        wrong = await client.post(
            "/alertmanager", json=body, headers={"Authorization": "Bearer not-the-token"}
        )
        basic = await client.post("/alertmanager", json=body, auth=("alertmanager", sms.TOKEN))
        assert [r.status_code for r in (none, wrong, basic)] == [401, 401, 401]
        assert none.headers["WWW-Authenticate"] == 'Bearer realm="smsbridge"'
        assert wrong.json() == {"status": "error", "error": "missing or invalid credentials"}
        assert _metric(service, "webhooks_total", result="unauthorized") == 3
        assert service.outbox.stats().depth == 0
    assert gateway.requests == []


async def test_basic_auth_is_accepted_when_configured(
    gateway: Any, bridge: Bridge, sms: Any, tmp_path: Path
) -> None:
    """basic_auth with password_file authenticates Alertmanager's http_config.basic_auth."""
    (tmp_path / "am-password").write_text("s3cret-pass\n")
    auth = {
        "basic_auth": {"username": "alertmanager", "password_file": str(tmp_path / "am-password")}
    }
    async with bridge(gateway.url, changes={"auth": auth}) as (_service, client):
        good = await client.post(
            "/alertmanager", json=sms.payload(), auth=("alertmanager", "s3cret-pass")
        )
        bad = await client.post("/alertmanager", json=sms.payload(), auth=("alertmanager", "wrong"))
        assert (good.status_code, bad.status_code) == (200, 401)
        assert bad.headers["WWW-Authenticate"] == 'Basic realm="smsbridge"'


async def test_bad_json_and_wrong_schema_get_400_with_a_reason(
    gateway: Any, bridge: Bridge, sms: Any
) -> None:
    """Undecodable JSON and schema errors are 400 with the reason in the body."""
    async with bridge(gateway.url) as (service, client):
        broken = await client.post(
            "/alertmanager", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        body = sms.payload()
        body["alerts"][0]["startsAt"] = "yesterday"
        schema = await client.post("/alertmanager", json=body)
        assert broken.status_code == 400
        assert broken.json()["error"].startswith("invalid JSON: Expecting property name")
        assert schema.status_code == 400
        assert schema.json() == {
            "status": "error",
            "error": "alerts[0].startsAt: expected an RFC 3339 time, got 'yesterday'",
        }
        assert _metric(service, "webhooks_total", result="bad_request") == 2


async def test_oversized_bodies_get_413(gateway: Any, bridge: Bridge, sms: Any) -> None:
    """A body over max_body_bytes is 413, with or without a Content-Length header."""
    async with bridge(gateway.url, changes={"max_body_bytes": 2048}) as (service, client):
        big = sms.payload()
        big["commonAnnotations"]["description"] = "x" * 4096
        declared = await client.post("/alertmanager", json=big)

        async def chunks() -> AsyncIterator[bytes]:
            data = json.dumps(big).encode()
            for start in range(0, len(data), 512):
                yield data[start : start + 512]

        streamed = await client.post(
            "/alertmanager", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert (declared.status_code, streamed.status_code) == (413, 413)
        assert declared.json()["error"] == "body larger than 2048 bytes"
        assert _metric(service, "webhooks_total", result="too_large") == 2


async def test_nic_delivery_with_hindi_as_utf16_hex(gateway: Any, bridge: Bridge, sms: Any) -> None:
    """A central page: English to on-call, Hindi (msgType=UC, hex) to the director."""
    async with bridge(gateway.url) as (service, client):
        response = await client.post("/alertmanager", json=sms.payload())
        assert response.status_code == 200
        assert response.json() == {"status": "accepted", "queued": 2}
        await gateway.wait_for(2)
        # The sender counts a message once the outbox has it as sent (in a thread): wait for
        # the count, not only for the empty queue, or a busy machine reads it too early.
        await sms.poll(
            lambda: service.outbox.stats().depth == 0
            and _metric(service, "sent_total", provider="nic") == 2
        )
        by_number = {r.form["mnumber"]: r.form for r in gateway.requests}
        assert set(by_number) == {"919876543210", "919812345678"}
        english, hindi = by_number["919876543210"], by_number["919812345678"]
        assert english == {
            "username": "itda.sms",
            "pin": sms.PIN,
            "message": "ITDA ALERT FIRING: Parichay - ParichayDown (central scope) since "
            "25 Nov 09:42 IST. -ITDA",
            "mnumber": "919876543210",
            "signature": "ITDAUK",
            "dlt_entity_id": "1101234567890123456",
            "dlt_template_id": "1107160000000000001",
        }
        assert hindi["msgType"] == "UC"
        assert hindi["dlt_template_id"] == "1107160000000000002"
        assert bytes.fromhex(hindi["message"]).decode("utf-16-be") == (
            "ITDA चेतावनी चालू: परिचय - ParichayDown 25 Nov 09:42 IST से। -ITDA"
        )
        assert _metric(service, "sent_total", provider="nic") == 2
        assert _metric(service, "sent_parts_total") == 2


async def test_generic_http_provider_delivery(gateway: Any, bridge: Bridge, sms: Any) -> None:
    """The http provider posts the configured JSON with the secret header."""
    app_alert = sms.alert(alertname="EOfficeDown", scope="app", target="eoffice-uk")
    async with bridge(gateway.url, provider="http") as (service, client):
        response = await client.post("/alertmanager", json=sms.payload([app_alert]))
        assert response.json() == {"status": "accepted", "queued": 1}
        await gateway.wait_for(1)
        await sms.poll(lambda: _metric(service, "sent_total", provider="msg91") == 1)
    (request,) = gateway.requests
    assert request.path == "/http/send"
    assert request.headers["authkey"] == "msg91-auth-key-xyz"
    assert request.json == {
        "sender": "ITDAUK",
        "mobiles": "919876543210",
        "message": "ITDA ALERT FIRING: e-Office eoffice-uk - EOfficeDown (app scope) since "
        "25 Nov 09:42 IST. -ITDA",
        "unicode": "0",
        "DLT_TE_ID": "1107160000000000001",
    }


async def test_a_repeated_payload_sends_one_sms(gateway: Any, bridge: Bridge, sms: Any) -> None:
    """Alertmanager retries and HA peers post the same group: one SMS per person."""
    body = sms.payload([sms.alert(scope="app", alertname="EOfficeDown")])
    async with bridge(gateway.url) as (service, client):
        first = await client.post("/alertmanager", json=body)
        second = await client.post("/alertmanager", json=body)
        assert first.json() == {"status": "accepted", "queued": 1}
        assert second.json() == {"status": "duplicate", "queued": 0}
        await gateway.wait_for(1)
        await sms.poll(lambda: service.outbox.stats().depth == 0)
        assert len(gateway.requests) == 1
        assert _metric(service, "duplicates_dropped_total") == 1


async def test_flaky_gateway_delivers_once_after_retries(
    gateway: Any, bridge: Bridge, sms: Any
) -> None:
    """Three 503s, then success: exactly one delivery, three retries counted."""
    gateway.fail_next = 3
    body = sms.payload([sms.alert(scope="app", alertname="EOfficeDown")])
    async with bridge(gateway.url) as (service, client):
        assert (await client.post("/alertmanager", json=body)).status_code == 200
        await gateway.wait_for(4)
        await sms.poll(lambda: _metric(service, "sent_total", provider="nic") == 1)
        assert len(gateway.requests) == 4
        assert _metric(service, "retries_total") == 3
        assert _metric(service, "send_failures_total", provider="nic", reason="http_status") == 3
        assert _metric(service, "queue_depth") == 0
        assert _metric(service, "dead_total", reason="max_age") == 0


async def test_unwritable_outbox_answers_503(gateway: Any, bridge: Bridge, sms: Any) -> None:
    """While another process holds the database write lock, the webhook is 503, not 200."""
    async with bridge(gateway.url) as (service, client):
        blocker = sqlite3.connect(service.config.outbox.path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            response = await client.post("/alertmanager", json=sms.payload())
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert response.status_code == 503
        assert response.json() == {"status": "error", "error": "outbox unavailable"}
        assert _metric(service, "webhooks_total", result="unavailable") == 1
        retried = await client.post("/alertmanager", json=sms.payload())
        assert retried.json() == {"status": "accepted", "queued": 2}


async def test_metrics_and_healthz(gateway: Any, bridge: Bridge, sms: Any) -> None:
    """/metrics exposes the parichay_smsbridge_ families; /healthz is ok with a readable outbox."""
    gateway.fail_always = True
    async with bridge(gateway.url) as (_service, client):
        await client.post("/alertmanager", json=sms.payload())
        await gateway.wait_for(2)
        health = await client.get("/healthz")
        page = (await client.get("/metrics")).text
    assert (health.status_code, health.text) == (200, "ok\n")
    assert "parichay_smsbridge_queue_depth 2.0" in page
    assert "parichay_smsbridge_oldest_pending_age_seconds " in page
    for family in (
        "sent_total",
        "send_failures_total",
        "retries_total",
        "dead_total",
        "duplicates_dropped_total",
        "webhooks_total",
        "outbox_up",
    ):
        assert f"parichay_smsbridge_{family}" in page


async def test_logs_never_contain_the_pin_or_the_token(
    gateway: Any, bridge: Bridge, sms: Any
) -> None:
    """Even a gateway reply that echoes the pin, and a bad token, leave no secret in the logs."""
    gateway.ok_body = f"Request ID=4242~code=API000 pin={sms.PIN}"
    stream = io.StringIO()
    loggers = [logging.getLogger(n) for n in ("smsbridge", "aiohttp", "httpx", "httpcore")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    async with bridge(gateway.url) as (service, client):
        setup_logging(service="smsbridge", secrets=config_secrets(service.config), stream=stream)
        try:
            await client.post(
                "/alertmanager",
                json=sms.payload(),
                headers={"Authorization": f"Bearer {sms.TOKEN}x"},
            )
            gateway.fail_next = 1
            gateway.fail_status = 500
            await client.post("/alertmanager", json=sms.payload())
            await gateway.wait_for(3)
            await sms.poll(lambda: service.outbox.stats().depth == 0)
            # The sender logs "sms sent" just after the outbox row is done: wait for both.
            await sms.poll(lambda: stream.getvalue().count('"msg": "sms sent"') >= 2)
        finally:
            for lg, (handlers, level, propagate) in zip(loggers, saved, strict=True):
                lg.handlers[:] = handlers
                lg.setLevel(level)
                lg.propagate = propagate
    text = stream.getvalue()
    assert sms.PIN not in text
    assert sms.TOKEN not in text
    lines = [json.loads(line) for line in text.splitlines()]
    sent = [line for line in lines if line["msg"] == "sms sent"]
    assert len(sent) == 2
    assert {line["request_id"] for line in sent} == {"4242"}
    assert any(line["msg"] == "webhook rejected: missing or wrong credentials" for line in lines)
    assert base64.b64encode(sms.TOKEN.encode()).decode() not in text


async def test_ha_peers_posting_at_the_same_moment_yield_one_sms(
    gateway: Any, bridge: Bridge, sms: Any
) -> None:
    """Two concurrent identical webhooks (an Alertmanager HA pair): one accepted, one dropped."""
    body = sms.payload([sms.alert(scope="app", alertname="EOfficeDown")])
    async with bridge(gateway.url) as (service, client):
        first, second = await asyncio.gather(
            client.post("/alertmanager", json=body), client.post("/alertmanager", json=body)
        )
        assert sorted(r.json()["status"] for r in (first, second)) == ["accepted", "duplicate"]
        await gateway.wait_for(1)
        await sms.poll(lambda: service.outbox.stats().depth == 0)
    assert len(gateway.requests) == 1


async def test_second_provider_takes_over_when_the_first_fails(
    gateway: Any, bridge: Bridge, sms: Any, tmp_path: Path
) -> None:
    """Providers are tried in order: NIC down (503) -> the http gateway delivers at once."""
    http_cfg = sms.base_config(tmp_path, gateway_url=gateway.url, provider="http")["providers"]
    nic_cfg = sms.base_config(tmp_path, gateway_url=gateway.url)["providers"]
    nic_cfg["nic"]["url"] = f"{gateway.url}/nic-down"
    gateway.fail_status = 503
    body = sms.payload([sms.alert(scope="app", alertname="EOfficeDown")])
    async with bridge(gateway.url, changes={"providers": {**nic_cfg, **http_cfg}}) as (
        service,
        client,
    ):
        gateway.fail_next = 1  # the first request (to NIC) fails
        assert (await client.post("/alertmanager", json=body)).status_code == 200
        await sms.poll(lambda: _metric(service, "sent_total", provider="msg91") == 1)
        assert [r.path for r in gateway.requests] == ["/nic-down", "/http/send"]
        assert _metric(service, "send_failures_total", provider="nic", reason="http_status") == 1
        assert _metric(service, "retries_total") == 0
