"""The bridge scrubs its secrets in every encoding a gateway may echo them in (shared routine)."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import httpx
import pytest

from servicekit.logs import setup_logging
from servicekit.secrets import Secret
from smsbridge.providers import OutgoingSms
from smsbridge.providers.nic import NicConfig, NicProvider
from tests.support.logs import restored_loggers

# A PIN with the characters each encoding changes: space, '+', '/', '"', '\', non-ASCII.
PIN = 'Pin +/"\\ é-7731'


def _forms() -> list[object]:
    basic = base64.b64encode(f"itda.sms:{PIN}".encode()).decode()
    return [
        pytest.param(PIN, id="raw"),
        pytest.param(quote_plus(PIN), id="form-encoded"),
        pytest.param(
            re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(PIN, safe="")),
            id="url-encoded-lower-hex",
        ),
        pytest.param(json.dumps(PIN)[1:-1], id="json-escaped"),
        pytest.param(f"Basic {basic}", id="base64-basic-auth"),
        pytest.param(base64.b64encode(PIN.encode()).decode(), id="base64-alone"),
    ]


def _provider() -> NicProvider:
    return NicProvider(
        name="nic",
        config=NicConfig(
            url="https://gw-primary.test/failsafe/HttpLink",
            secondary_url=None,
            username="itda.sms",
            pin=Secret(PIN),
            signature="ITDAUK",
            dlt_entity_id="1101234567890123456",
            timeout=1.0,
        ),
    )


@pytest.mark.parametrize("echo", _forms())
async def test_a_gateway_reply_echoing_the_pin_is_redacted_in_the_detail(echo: str) -> None:
    """A rejection whose body quotes the PIN (in this encoding) gives a PIN-free detail."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=f"code=API011 & info=Invalid pin {echo} end")

    sms = OutgoingSms(
        message_id=1, number="+919876543210", text="ITDA ALERT", dlt_template_id="1", unicode=False
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        result = await _provider().send(sms, client=client)
    assert result.ok is False
    assert "<secret>" in result.detail and "end" in result.detail
    assert echo not in result.detail and "7731" not in result.detail


@pytest.fixture
def bridge_loggers() -> Iterator[None]:
    """setup_logging() rewires these loggers; put them back for the tests that follow."""
    with restored_loggers(*("smsbridge", "aiohttp", "httpx", "httpcore")):
        yield


@pytest.mark.usefixtures("bridge_loggers")
@pytest.mark.parametrize("echo", _forms())
def test_log_lines_carry_no_form_of_the_pin(echo: str) -> None:
    """The JSON log formatter (which escapes quotes itself) scrubs every form of the PIN."""
    stream = io.StringIO()
    setup_logging(service="smsbridge", secrets=[Secret(PIN)], stream=stream)
    logging.getLogger("smsbridge.test").warning("gateway said %s", echo, extra={"reply": echo})
    line = stream.getvalue()
    record = json.loads(line)
    assert record["msg"].startswith("gateway said ") and record["msg"].endswith("<secret>")
    assert record["reply"].endswith("<secret>")
    assert "Pin" not in line
    assert "7731" not in line
