"""A generic templated HTTP gateway, so MSG91, C-DAC, Exotel and the like need only config.

Every string in ``url``, ``params``, ``form``, ``json`` and ``headers`` may use
``${placeholder}``: ``number`` (E.164), ``number_international`` (919876543210),
``number_national`` (9876543210), ``message``, ``message_hex`` (UTF-16BE hex),
``unicode`` (``1``/``0``), ``encoding`` (``GSM-7``/``UCS-2``), ``dlt_template_id``,
``dlt_entity_id``, ``sender``, ``message_id`` and ``secret.<name>`` for a value from
``secrets``. Success is an HTTP status in ``success.status`` and, when given,
``success.body_contains`` present and ``success.body_not_contains`` absent.

Example (MSG91-style JSON)::

    msg91:
      kind: http
      url: https://gateway.example/api/send
      method: POST
      headers: {authkey: "${secret.authkey}"}
      json: {sender: "${sender}", mobiles: "${number_international}", message: "${message}",
             DLT_TE_ID: "${dlt_template_id}"}
      secrets: {authkey: {env: MSG91_AUTHKEY}}
      success: {status: [200], body_contains: '"type":"success"'}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Final

import httpx
from pydantic import BeforeValidator

from servicekit.config import Text, validate_at
from servicekit.match import HttpStatus, ResponseMatch, one_or_many
from servicekit.secrets import Secret

from ..confreader import Node
from .base import FailureReason, GatewayRequest, OutgoingSms, SendResult, excerpt, perform
from .nic import utf16_hex

KIND: Final = "http"
_PLACEHOLDER: Final = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")
PLACEHOLDERS: Final = frozenset(
    {
        "number",
        "number_international",
        "number_national",
        "message",
        "message_hex",
        "unicode",
        "encoding",
        "dlt_template_id",
        "dlt_entity_id",
        "sender",
        "message_id",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpConfig:
    url: str
    method: str = "POST"
    params: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] | None = None
    json: object = None
    headers: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    sender: str = ""
    dlt_entity_id: str = ""
    success: SuccessRule = field(default_factory=lambda: SuccessRule())
    request_id_regex: re.Pattern[str] | None = None
    timeout: float = 10.0


class SuccessRule(ResponseMatch):
    """What a gateway's answer shows when it accepted the SMS; by default HTTP 200.

    `body_not_contains` catches gateways that answer 200 with an error text.
    """

    status: Annotated[tuple[HttpStatus, ...], BeforeValidator(one_or_many)] = (200,)
    body_not_contains: Text | None = None

    def body_problem(self, text: str) -> str | None:
        if self.body_not_contains is not None and self.body_not_contains in text:
            return f"contains {self.body_not_contains!r}"
        return super().body_problem(text)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def parse_config(node: Node) -> HttpConfig | None:
    """Read a `providers.<name>` mapping of kind http."""
    url = node.text("url", required=True)
    method = node.choice("method", ("GET", "POST", "PUT"), "POST")
    params = node.str_map("params")
    form = node.str_map("form") if node.has("form") else None
    if not node.has("form"):
        node.raw("form")
    json_body = node.raw("json")
    if form is not None and json_body is not None:
        node.error("json", "set only one of form and json")
    if method == "GET" and (form is not None or json_body is not None):
        node.error("method", "a GET request cannot carry a form or json body")
    headers = node.str_map("headers")
    secrets: dict[str, Secret] = {}
    for name, path, raw in node.entries("secrets"):
        child = Node.of(raw, path, node.errors)
        if child is None:
            continue
        secret = child.secret(name, required=True, file_key="file", env_key="env")
        child.finish()
        if secret is not None:
            secrets[name] = secret
    sender = node.text("sender", "") or ""
    entity = node.text("dlt_entity_id", "") or ""
    success = SuccessRule()
    if node.has("success"):
        parsed = validate_at(
            SuccessRule, node.raw("success"), path=node.at("success"), errors=node.errors
        )
        success = parsed or success
    else:
        node.raw("success")
    regex_text = node.text("request_id_regex")
    regex = None
    if regex_text is not None:
        try:
            regex = re.compile(regex_text)
        except re.error as exc:
            node.error("request_id_regex", f"invalid regular expression: {exc}")
        else:
            if regex.groups < 1:
                node.error("request_id_regex", "needs one capture group for the request id")
    timeout = node.duration("timeout", 10.0)
    templated = [url or "", *params.values(), *(form or {}).values(), *headers.values()]
    templated += _strings(json_body)
    for text in templated:
        for name in _PLACEHOLDER.findall(text):
            if name.startswith("secret."):
                if name.removeprefix("secret.") not in secrets:
                    node.error("secrets", f"${{{name}}} is used but not defined under secrets")
            elif name not in PLACEHOLDERS:
                node.error(
                    None,
                    f"unknown placeholder ${{{name}}}; known: "
                    f"{', '.join(sorted(PLACEHOLDERS))}, secret.<name>",
                )
    if url is not None and not url.startswith(("https://", "http://")):
        node.error("url", f"expected an http(s) URL, got {url!r}")
    node.finish()
    if url is None:
        return None
    return HttpConfig(
        url=url,
        method=method,
        params=MappingProxyType(params),
        form=MappingProxyType(form) if form is not None else None,
        json=json_body,
        headers=MappingProxyType(headers),
        secrets=MappingProxyType(secrets),
        sender=sender,
        dlt_entity_id=entity,
        success=success,
        request_id_regex=regex,
        timeout=timeout,
    )


class HttpProvider:
    """Sends through a gateway described entirely by `HttpConfig`."""

    def __init__(self, *, name: str, config: HttpConfig) -> None:
        self.name = name
        self.config = config

    def secrets(self) -> tuple[Secret, ...]:
        return tuple(self.config.secrets.values())

    def _values(self, sms: OutgoingSms) -> dict[str, str]:
        international = sms.number.removeprefix("+")
        national = international[2:] if international.startswith("91") else international
        values = {
            "number": sms.number,
            "number_international": international,
            "number_national": national,
            "message": sms.text,
            "message_hex": utf16_hex(sms.text),
            "unicode": "1" if sms.unicode else "0",
            "encoding": "UCS-2" if sms.unicode else "GSM-7",
            "dlt_template_id": sms.dlt_template_id,
            "dlt_entity_id": self.config.dlt_entity_id,
            "sender": self.config.sender,
            "message_id": str(sms.message_id),
        }
        for name, secret in self.config.secrets.items():
            values[f"secret.{name}"] = secret.reveal()
        return values

    @staticmethod
    def _fill(text: str, values: Mapping[str, str]) -> str:
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), text)

    def _fill_json(self, value: object, values: Mapping[str, str]) -> object:
        if isinstance(value, str):
            return self._fill(value, values)
        if isinstance(value, dict):
            return {k: self._fill_json(v, values) for k, v in value.items()}
        if isinstance(value, list):
            return [self._fill_json(v, values) for v in value]
        return value

    def build_request(self, sms: OutgoingSms) -> GatewayRequest:
        cfg = self.config
        values = self._values(sms)
        return GatewayRequest(
            method=cfg.method,
            url=self._fill(cfg.url, values),
            params=tuple((k, self._fill(v, values)) for k, v in cfg.params.items()),
            form=(
                tuple((k, self._fill(v, values)) for k, v in cfg.form.items())
                if cfg.form is not None
                else None
            ),
            json=self._fill_json(cfg.json, values) if cfg.json is not None else None,
            headers={k: self._fill(v, values) for k, v in cfg.headers.items()},
        )

    async def send(self, sms: OutgoingSms, *, client: httpx.AsyncClient) -> SendResult:
        cfg = self.config
        outcome = await perform(
            self.build_request(sms),
            client=client,
            request_timeout=cfg.timeout,
            secrets=self.secrets(),
        )
        if isinstance(outcome, SendResult):
            return outcome
        body = outcome.text
        ref = ""
        if cfg.request_id_regex is not None:
            found = cfg.request_id_regex.search(body)
            ref = found.group(1) if found else ""
        detail = f"HTTP {outcome.status_code}: {excerpt(body, self.secrets())}"
        if not cfg.success.status_ok(outcome.status_code):
            return SendResult(
                ok=False, reason=FailureReason.HTTP_STATUS, gateway_ref=ref, detail=detail
            )
        if cfg.success.body_problem(body) is not None:
            return SendResult(
                ok=False, reason=FailureReason.REJECTED, gateway_ref=ref, detail=detail
            )
        return SendResult(ok=True, gateway_ref=ref, detail=detail)
