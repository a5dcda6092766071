"""The nic and http gateway modules: pure request building and send() outcomes."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

import httpx
import pytest

from servicekit.secrets import Secret
from smsbridge.providers import FailureReason, OutgoingSms
from smsbridge.providers.http import HttpConfig, HttpProvider, SuccessRule
from smsbridge.providers.nic import NicConfig, NicProvider

PIN = "Nic#Pin-7731"
HINDI = "ITDA चेतावनी चालू: परिचय"


def _sms(text: str = "ITDA ALERT FIRING: Parichay", unicode: bool = False) -> OutgoingSms:
    return OutgoingSms(
        message_id=7,
        number="+919876543210",
        text=text,
        dlt_template_id="1107160000000000001",
        unicode=unicode,
    )


def _nic(**changes: object) -> NicProvider:
    fields: dict[str, object] = {
        "url": "https://gw-primary.test/failsafe/HttpLink",
        "secondary_url": "https://gw-secondary.test/failsafe/HttpLink",
        "username": "itda.sms",
        "pin": Secret(PIN),
        "signature": "ITDAUK",
        "dlt_entity_id": "1101234567890123456",
        "timeout": 1.0,
    }
    fields.update(changes)
    return NicProvider(name="nic", config=NicConfig(**fields))  # type: ignore[arg-type]


def test_nic_request_for_english_text() -> None:
    """GSM text is sent as is; mnumber has 91 and no plus; DLT ids present; no msgType."""
    request = _nic().build_request(_sms())
    assert request.method == "POST"
    assert request.url == "https://gw-primary.test/failsafe/HttpLink"
    assert request.form == (
        ("username", "itda.sms"),
        ("pin", PIN),
        ("message", "ITDA ALERT FIRING: Parichay"),
        ("mnumber", "919876543210"),
        ("signature", "ITDAUK"),
        ("dlt_entity_id", "1101234567890123456"),
        ("dlt_template_id", "1107160000000000001"),
    )


def test_nic_request_for_hindi_text_is_utf16be_hex_with_msgtype_uc() -> None:
    """Unicode text goes as msgType=UC and UTF-16BE hex that decodes back to the text."""
    request = _nic(method="GET").build_request(_sms(HINDI, unicode=True))
    params = dict(request.params)
    assert request.method == "GET"
    assert request.form is None
    assert params["msgType"] == "UC"
    assert re.fullmatch(r"[0-9A-F]+", params["message"])
    assert bytes.fromhex(params["message"]).decode("utf-16-be") == HINDI
    assert params["message"].startswith("00490054004400410020091A")  # "ITDA " then च


def _client(handler: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


async def test_nic_success_needs_api000_and_records_the_request_id() -> None:
    """A reply with code=API000 is success and its Request ID is kept."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            text="Message Accepted for Request ID=998877~code=API000 "
            "& info=Platform accepted & Time = 2026/11/25/09/42",
        )

    async with _client(handler) as client:
        result = await _nic().send(_sms(), client=client)
    assert (result.ok, result.gateway_ref, result.gateway) == (True, "998877", "primary")


async def test_nic_reply_without_api000_is_a_rejection_even_with_http_200() -> None:
    """HTTP 200 with another code is a failure; the code is in the (pin-free) detail."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=f"Request ID=1~code=API011 & info=Invalid pin {PIN}")

    async with _client(handler) as client:
        result = await _nic(secondary_url=None).send(_sms(), client=client)
    assert result.ok is False
    assert result.reason is FailureReason.REJECTED
    assert result.detail == "API011: Request ID=1~code=API011 & info=Invalid pin <secret>"


async def test_nic_fails_over_to_the_secondary_gateway() -> None:
    """When the primary answers 503 the same SMS goes to the secondary URL."""
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        form = dict(parse_qsl(request.content.decode()))
        assert form["pin"] == PIN
        if request.url.host == "gw-primary.test":
            return httpx.Response(503, text="busy")
        return httpx.Response(200, text="Request ID=5~code=API000")

    async with _client(handler) as client:
        result = await _nic().send(_sms(), client=client)
    assert hosts == ["gw-primary.test", "gw-secondary.test"]
    assert (result.ok, result.gateway, result.gateway_ref) == (True, "secondary", "5")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        pytest.param(httpx.ConnectError("refused"), FailureReason.CONNECT_ERROR, id="connect"),
        pytest.param(httpx.ReadTimeout("slow"), FailureReason.TIMEOUT, id="timeout"),
        pytest.param(httpx.RemoteProtocolError("eof"), FailureReason.TRANSPORT_ERROR, id="proto"),
    ],
)
async def test_transport_failures_are_classified_not_raised(
    error: Exception, reason: FailureReason
) -> None:
    """Network errors become a failed result with one reason; send() never raises."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    async with _client(handler) as client:
        result = await _nic(secondary_url=None).send(_sms(), client=client)
    assert (result.ok, result.reason) == (False, reason)


def _http(**changes: object) -> HttpProvider:
    fields: dict[str, object] = {
        "url": "https://api.gateway.test/v5/flow?route=${dlt_template_id}",
        "method": "POST",
        "headers": {"authkey": "${secret.authkey}", "X-Msg": "${message_id}"},
        "json": {
            "sender": "${sender}",
            "mobiles": "${number_international}",
            "message": "${message}",
            "unicode": "${unicode}",
        },
        "secrets": {"authkey": Secret("k3y")},
        "sender": "ITDAUK",
        "success": SuccessRule(status=(200,), body_contains='"type":"success"'),
        "request_id_regex": re.compile(r'"request_id":"([^"]+)"'),
    }
    fields.update(changes)
    return HttpProvider(name="msg91", config=HttpConfig(**fields))  # type: ignore[arg-type]


def test_http_request_fills_every_placeholder() -> None:
    """URL, headers and the JSON body are templated from the SMS and the secrets."""
    request = _http().build_request(_sms(HINDI, unicode=True))
    assert request.url == "https://api.gateway.test/v5/flow?route=1107160000000000001"
    assert request.headers == {"authkey": "k3y", "X-Msg": "7"}
    assert request.json == {
        "sender": "ITDAUK",
        "mobiles": "919876543210",
        "message": HINDI,
        "unicode": "1",
    }


def test_http_request_as_a_get_with_query_parameters() -> None:
    """A GET gateway gets everything in the query string, national number format."""
    provider = _http(
        method="GET",
        json=None,
        headers={},
        params={"to": "${number_national}", "text": "${message}"},
    )
    request = provider.build_request(_sms())
    assert (request.method, request.json, request.form) == ("GET", None, None)
    assert request.params == (("to", "9876543210"), ("text", "ITDA ALERT FIRING: Parichay"))


@pytest.mark.parametrize(
    ("status", "body", "ok", "reason"),
    [
        pytest.param(200, '{"type":"success","request_id":"r-1"}', True, None, id="success"),
        pytest.param(
            200,
            '{"type":"error","message":"bad"}',
            False,
            FailureReason.REJECTED,
            id="body-says-error",
        ),
        pytest.param(500, '{"type":"success"}', False, FailureReason.HTTP_STATUS, id="http-500"),
    ],
)
async def test_http_success_condition(
    status: int, body: str, ok: bool, reason: FailureReason | None
) -> None:
    """Success needs an allowed status and the configured body marker."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, text=body)

    async with _client(handler) as client:
        result = await _http().send(_sms(), client=client)
    assert (result.ok, result.reason) == (ok, reason)
    assert json.loads(seen[0].content)["mobiles"] == "919876543210"
    if ok:
        assert result.gateway_ref == "r-1"
