"""The NIC SMS gateway (smsgw.sms.gov.in) HTTP API, with a secondary URL for failover.

Parameters: ``username``, ``pin``, ``message``, ``mnumber`` (country code 91, no
plus), ``signature`` (the DLT sender header), ``dlt_entity_id``, ``dlt_template_id``;
Unicode text goes as ``msgType=UC`` with the message as UTF-16BE hex. A send counts
as delivered only when the reply contains ``code=API000``; the reply's Request ID is
logged. The pin is sent in a POST form by default so it stays out of access logs.

>>> utf16_hex("नमस्ते")
'0928092E0938094D09240947'
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, Final, Literal

import httpx
from pydantic import PlainValidator, ValidatorFunctionWrapHandler, model_validator

from servicekit.config import Duration, Model, Text, describe, with_secret
from servicekit.secrets import Secret

from .base import FailureReason, GatewayRequest, OutgoingSms, SendResult, excerpt, perform

KIND: Final = "nic"
SUCCESS_CODE: Final = "code=API000"
_REQUEST_ID: Final = re.compile(r"Request\s*ID\s*=\s*([A-Za-z0-9_-]+)", re.IGNORECASE)
_CODE: Final = re.compile(r"code=(API\d+)", re.IGNORECASE)
_DIGITS: Final = re.compile(r"^\d{10,25}$")
_SIGNATURE: Final = re.compile(r"^[A-Za-z0-9]{3,11}$")

log = logging.getLogger("smsbridge.providers.nic")


def _url(value: object) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ValueError(f"expected an http(s) URL, got {describe(value)}")
    return value


def matching(regex: re.Pattern[str], what: str) -> Any:
    """A string (or bare YAML number) that `regex` matches; the error says `what` was expected."""

    def check(value: object) -> str:
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not regex.match(text):
            raise ValueError(f"expected {what}, got {describe(value)}")
        return text

    return PlainValidator(check)


Url = Annotated[str, PlainValidator(_url)]
"""An http(s) URL."""
DigitsId = Annotated[str, matching(_DIGITS, "a numeric DLT id (10-25 digits)")]
"""A DLT id: YAML may write it quoted or as a bare number."""


class NicConfig(Model):
    """A `providers.<name>` mapping of kind nic; the pin only from pin_file / pin_env."""

    secret_stems = ("pin",)

    kind: Literal["nic"] = KIND
    url: Url
    secondary_url: Url | None = None
    method: Literal["GET", "POST"] = "POST"
    username: Text
    pin: Secret
    signature: Annotated[str, matching(_SIGNATURE, "the 3-11 letter DLT sender header")]
    dlt_entity_id: DigitsId
    timeout: Duration = 10.0

    @model_validator(mode="wrap")
    @classmethod
    def _read_pin(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        return with_secret(data, handler, "pin", required=True)


def utf16_hex(text: str) -> str:
    """The UTF-16BE hex form NIC expects for msgType=UC, upper case, no separators."""
    return text.encode("utf-16-be").hex().upper()


def mnumber(e164: str) -> str:
    """NIC's mnumber: the E.164 number without the plus (91XXXXXXXXXX)."""
    return e164.removeprefix("+")


class NicProvider:
    """Sends through the NIC gateway; see the module docstring."""

    def __init__(self, *, name: str, config: NicConfig) -> None:
        self.name = name
        self.config = config

    def secrets(self) -> tuple[Secret, ...]:
        return (self.config.pin,)

    def build_request(self, sms: OutgoingSms, *, url: str | None = None) -> GatewayRequest:
        cfg = self.config
        fields: list[tuple[str, str]] = [
            ("username", cfg.username),
            ("pin", cfg.pin.reveal()),
            ("message", utf16_hex(sms.text) if sms.unicode else sms.text),
            ("mnumber", mnumber(sms.number)),
            ("signature", cfg.signature),
            ("dlt_entity_id", cfg.dlt_entity_id),
            ("dlt_template_id", sms.dlt_template_id),
        ]
        if sms.unicode:
            fields.append(("msgType", "UC"))
        target = url or cfg.url
        if cfg.method == "GET":
            return GatewayRequest(method="GET", url=target, params=tuple(fields))
        return GatewayRequest(method="POST", url=target, form=tuple(fields))

    async def send(self, sms: OutgoingSms, *, client: httpx.AsyncClient) -> SendResult:
        urls = [self.config.url]
        if self.config.secondary_url:
            urls.append(self.config.secondary_url)
        result = SendResult(ok=False, reason=FailureReason.CONNECT_ERROR)
        for index, url in enumerate(urls):
            gateway = "primary" if index == 0 else "secondary"
            result = await self._attempt(sms, url=url, gateway=gateway, client=client)
            if result.ok:
                return result
            if index + 1 < len(urls):
                log.warning(
                    "nic primary gateway failed, trying secondary",
                    extra={
                        "message_id": sms.message_id,
                        "reason": str(result.reason),
                        "detail": result.detail,
                    },
                )
        return result

    async def _attempt(
        self, sms: OutgoingSms, *, url: str, gateway: str, client: httpx.AsyncClient
    ) -> SendResult:
        request = self.build_request(sms, url=url)
        outcome = await perform(
            request, client=client, request_timeout=self.config.timeout, secrets=self.secrets()
        )
        if isinstance(outcome, SendResult):
            return SendResult(
                ok=False, reason=outcome.reason, detail=outcome.detail, gateway=gateway
            )
        body = outcome.text
        ref_match = _REQUEST_ID.search(body)
        ref = ref_match.group(1) if ref_match else ""
        if outcome.status_code != 200:
            return SendResult(
                ok=False,
                reason=FailureReason.HTTP_STATUS,
                gateway_ref=ref,
                detail=f"HTTP {outcome.status_code}: {excerpt(body, self.secrets())}",
                gateway=gateway,
            )
        if SUCCESS_CODE not in body:
            code = _CODE.search(body)
            return SendResult(
                ok=False,
                reason=FailureReason.REJECTED,
                gateway_ref=ref,
                detail=f"{code.group(1) if code else 'no code'}: {excerpt(body, self.secrets())}",
                gateway=gateway,
            )
        return SendResult(ok=True, gateway_ref=ref, detail="API000", gateway=gateway)
