"""Fixtures for the SMS bridge tests: a recording gateway stand-in, configs, payloads."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.net import free_port
from tests.support.sinks import GatewayStandIn, SmtpSink

TOKEN = "am-webhook-token-5f1c"
PIN = "Nic#Pin-7731"
SMTP_USER = "smsbridge"
SMTP_PASSWORD = "smtp-Pass-9d2e"

# The dead man's switch templates, as registered on the DLT portal (see config/smsbridge.yml).
HEARTBEAT_TEMPLATES: dict[str, dict[str, str]] = {
    "chain_broken_en": {
        "dlt_template_id": "1107160000000000011",
        "dlt_text": "ITDA ALERT: monitoring chain broken: no heartbeat since {#var#} IST (limit {#var#}). Alerts may not reach you. -ITDA",
        "text": "ITDA ALERT: monitoring chain broken: no heartbeat since {since} IST (limit {silence}). Alerts may not reach you. -ITDA",
    },
    "chain_broken_hi": {
        "dlt_template_id": "1107160000000000012",
        "dlt_text": "ITDA चेतावनी: निगरानी श्रृंखला टूटी: {#var#} IST से कोई हार्टबीट नहीं। -ITDA",
        "text": "ITDA चेतावनी: निगरानी श्रृंखला टूटी: {since} IST से कोई हार्टबीट नहीं। -ITDA",
    },
    "chain_ok_en": {
        "dlt_template_id": "1107160000000000013",
        "dlt_text": "ITDA OK: monitoring chain restored at {#var#} IST; no heartbeat from {#var#} IST. -ITDA",
        "text": "ITDA OK: monitoring chain restored at {ended} IST; no heartbeat from {since} IST. -ITDA",
    },
    "chain_ok_hi": {
        "dlt_template_id": "1107160000000000014",
        "dlt_text": "ITDA सूचना: निगरानी श्रृंखला {#var#} IST पर बहाल; {#var#} IST से हार्टबीट नहीं थी। -ITDA",
        "text": "ITDA सूचना: निगरानी श्रृंखला {ended} IST पर बहाल; {since} IST से हार्टबीट नहीं थी। -ITDA",
    },
}


@pytest.fixture
async def gateway() -> AsyncIterator[GatewayStandIn]:
    async with GatewayStandIn() as stand_in:
        yield stand_in


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


def with_heartbeat(
    data: dict[str, Any],
    *,
    silence: str = "5m",
    smtp: SmtpSink | None = None,
    tmp_path: Path | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Add the dead man's switch (and, given an SMTP server, its relay) to a config dict."""
    data["templates"].update(HEARTBEAT_TEMPLATES)
    data["heartbeat"] = {
        "silence": silence,
        "recipients": ["on-call"],
        "templates": ["chain_broken_en", "chain_broken_hi"],
        "recovery_templates": ["chain_ok_en", "chain_ok_hi"],
        **extra,
    }
    if smtp is not None:
        assert tmp_path is not None
        (tmp_path / "smtp-password").write_text(SMTP_PASSWORD + "\n")
        data["smtp"] = {
            "host": "127.0.0.1",
            "port": smtp.port,
            "tls": "starttls",
            "username": SMTP_USER,
            "password_file": str(tmp_path / "smtp-password"),
            "from": "monitoring@itda.example.in",
            "ca_file": str(smtp.ca_file),
            "timeout": "5s",
        }
        data["heartbeat"]["email_to"] = ["oncall@itda.example.in"]
    return data


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Any:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    box = SmtpSink(ca_file=ca_file)
    box.port = port = free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_ctx,
        require_starttls=True,
        auth_require_tls=True,
        authenticator=_authenticate,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


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
        with_heartbeat = staticmethod(with_heartbeat)
        HEARTBEAT_TEMPLATES = HEARTBEAT_TEMPLATES
        SMTP_PASSWORD = SMTP_PASSWORD
        alert = staticmethod(alert)
        payload = staticmethod(payload)
        poll = staticmethod(poll)

    return Helpers  # type: ignore[return-value]
