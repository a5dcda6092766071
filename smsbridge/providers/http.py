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
from typing import Annotated, Any, Final, Literal

import httpx
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from servicekit.config import Duration, Model, Problems, Text, join, take_secret, with_problems
from servicekit.match import HttpStatus, ResponseMatch, one_or_many
from servicekit.secrets import Secret

from .base import FailureReason, GatewayRequest, OutgoingSms, SendResult, excerpt, perform
from .nic import Url, utf16_hex

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


class HttpConfig(Model):
    """A `providers.<name>` mapping of kind http; see the module docstring."""

    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["http"] = KIND
    url: Url
    method: Literal["GET", "POST", "PUT"] = "POST"
    params: Mapping[str, str] = {}
    form: Mapping[str, str] | None = None
    # `json` would shadow BaseModel.json(); the YAML key stays `json`.
    json_body: Any = Field(None, alias="json")
    headers: Mapping[str, str] = {}
    secrets: Mapping[str, Secret] = {}
    sender: str = ""
    dlt_entity_id: str = ""
    success: SuccessRule = SuccessRule()
    request_id_regex: re.Pattern[str] | None = None
    timeout: Duration = 10.0

    @model_validator(mode="wrap")
    @classmethod
    def _read_secrets(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        raw = data.get("secrets") if isinstance(data, dict) else None
        if not isinstance(raw, dict):
            return with_problems(handler, data, [])
        problems: list[tuple[str, str]] = []
        secrets: dict[str, object] = {}
        for name, entry in raw.items():
            if isinstance(entry, Secret):
                secrets[name] = entry
                continue
            held = dict(entry) if isinstance(entry, dict) else {}
            if not isinstance(entry, dict):
                problems.append((f"secrets.{name}", "expected {env: VAR} or {file: PATH}"))
            else:
                found = take_secret(held, "value", required=True, file_key="file", env_key="env")
                problems += [(join(f"secrets.{name}", key), msg) for key, msg in found]
            extra = sorted(set(held) - {"value"})
            problems += [(f"secrets.{name}.{k}", "unknown key; allowed: env, file") for k in extra]
            secrets[name] = held.get("value") or Secret("")
        return with_problems(handler, {**data, "secrets": secrets}, problems)

    @model_validator(mode="after")
    def _placeholders(self) -> HttpConfig:
        problems: list[tuple[str, str]] = []
        if self.form is not None and self.json_body is not None:
            problems.append(("json", "set only one of form and json"))
        if self.method == "GET" and (self.form is not None or self.json_body is not None):
            problems.append(("method", "a GET request cannot carry a form or json body"))
        if self.request_id_regex is not None and self.request_id_regex.groups < 1:
            problems.append(("request_id_regex", "needs one capture group for the request id"))
        templated = [self.url, *self.params.values(), *(self.form or {}).values()]
        templated += [*self.headers.values(), *_strings(self.json_body)]
        for text in templated:
            for name in _PLACEHOLDER.findall(text):
                if name.startswith("secret."):
                    if name.removeprefix("secret.") not in self.secrets:
                        problems.append(
                            ("secrets", f"${{{name}}} is used but not defined under secrets")
                        )
                elif name not in PLACEHOLDERS:
                    problems.append(
                        (
                            "",
                            f"unknown placeholder ${{{name}}}; known: "
                            f"{', '.join(sorted(PLACEHOLDERS))}, secret.<name>",
                        )
                    )
        if problems:
            raise Problems(problems)
        return self


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
            json=self._fill_json(cfg.json_body, values) if cfg.json_body is not None else None,
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
