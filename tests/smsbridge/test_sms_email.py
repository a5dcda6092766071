"""The dead man's switch's email through a real SMTP server (aiosmtpd, STARTTLS, AUTH)."""

from __future__ import annotations

import asyncio
import email
import ssl
from pathlib import Path
from typing import Any

import trustme
from prometheus_client import CollectorRegistry

from servicekit.clock import FakeClock
from servicekit.secrets import Secret
from smsbridge.app import BridgeService
from smsbridge.config import SmtpConfig, parse_config
from smsbridge.mailer import build_email, send_email


def _smtp(server: Any, **overrides: Any) -> SmtpConfig:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "tls": "starttls",
        "username": "smsbridge",
        "password": Secret(server_password()),
        "sender": "monitoring@itda.example.in",
        "ca_file": server.ca_file,
        "timeout": 5.0,
    }
    values.update(overrides)
    return SmtpConfig(**values)


def server_password() -> str:
    from tests.smsbridge.conftest import SMTP_PASSWORD

    return SMTP_PASSWORD


def _mail(config: SmtpConfig) -> Any:
    return build_email(
        config=config, to="oncall@itda.example.in", subject="s", text="t", message_id=7
    )


async def test_starttls_with_a_verified_certificate_and_login(smtp_server: Any) -> None:
    """The mail goes over STARTTLS (certificate checked against ca_file), authenticated."""
    config = _smtp(smtp_server)
    result = await asyncio.to_thread(send_email, config, _mail(config))
    assert result.ok, result
    (mail,) = smtp_server.received()
    assert (mail.tls, mail.authenticated) == (True, True)
    assert mail.recipients == ["oncall@itda.example.in"]
    message_id = email.message_from_bytes(mail.content)["Message-ID"].strip()
    assert message_id.startswith("<smsbridge-7-") and message_id.endswith("@itda.example.in>")
    # The same row built again (a retry after a crash) carries the same Message-ID.
    assert str(_mail(config)["Message-ID"]) == message_id


async def test_an_untrusted_certificate_is_refused_before_the_password_is_sent(
    smtp_server: Any, tmp_path: Path
) -> None:
    """A relay whose certificate is not from the configured CA gets nothing: tls_error."""
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    config = _smtp(smtp_server, ca_file=other)
    result = await asyncio.to_thread(send_email, config, _mail(config))
    assert (result.ok, result.reason) == (False, "tls_error")
    assert smtp_server.received() == []


async def test_a_wrong_password_is_an_auth_failure_that_does_not_echo_it(
    smtp_server: Any,
) -> None:
    """Rejected credentials come back as reason 'auth'; the password is not in the detail."""
    config = _smtp(smtp_server, password=Secret("not-the-password"))
    result = await asyncio.to_thread(send_email, config, _mail(config))
    assert (result.ok, result.reason) == (False, "auth")
    assert "not-the-password" not in result.detail


async def test_the_sender_delivers_the_broken_and_recovery_emails(
    tmp_path: Path, gateway: Any, smtp_server: Any, sms: Any
) -> None:
    """Outbox email rows go to the relay with the English and Hindi text; a relay that
    is down is retried like an SMS (here: the first attempt fails, the next succeeds)."""
    data = sms.with_heartbeat(
        sms.base_config(tmp_path, gateway_url=gateway.url),
        silence="5m",
        smtp=smtp_server,
        tmp_path=tmp_path,
    )
    real_port = data["smtp"]["port"]
    clock = FakeClock(1_764_000_000.0, autoadvance=True)
    registry = CollectorRegistry()
    service = BridgeService(parse_config(data), registry=registry, clock=clock)
    await service.start(run_sender=False, run_watch=False)
    try:
        # The relay is unreachable at first: a closed port.
        service.reload(parse_config({**data, "smtp": {**data["smtp"], "port": 9}}))
        clock.step(300)
        assert await service.watch.check() is True
        while await service.sender.run_once():
            pass
        assert (
            registry.get_sample_value(
                "parichay_smsbridge_email_failures_total", {"reason": "connect_error"}
            )
            == 1
        )
        assert smtp_server.received() == []
        service.reload(parse_config({**data, "smtp": {**data["smtp"], "port": real_port}}))
        clock.step(60)
        while await service.sender.run_once():
            pass
        (broken,) = smtp_server.received()
        assert broken.subject == (
            "[ITDA] FIRING: monitoring chain broken - no heartbeat since 24 Nov 21:30 IST"
        )
        assert "NO monitoring alert can reach you" in broken.text
        assert "निगरानी श्रृंखला टूटी है" in broken.text
        await service.watch.beat()
        while await service.sender.run_once():
            pass
        recovered = smtp_server.received()[1]
        assert recovered.subject == "[ITDA] RESOLVED: monitoring chain restored at 24 Nov 21:36 IST"
        assert registry.get_sample_value("parichay_smsbridge_emails_sent_total") == 2
    finally:
        await service.stop()


async def test_implicit_tls_relay_with_a_verified_certificate(tmp_path: Path) -> None:
    """`tls: implicit` (port 465 style) speaks TLS from the first byte (a plain client
    could not talk to this server at all), and verifies the certificate."""
    from aiosmtpd.controller import Controller

    from tests.support.net import free_port
    from tests.support.sinks import SmtpSink

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    box = SmtpSink(ca_file=ca_file)
    box.port = port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, ssl_context=server_ctx)
    controller.start()
    try:
        config = _smtp(box, tls="implicit", username=None, password=None)
        result = await asyncio.to_thread(send_email, config, _mail(config))
        assert result.ok, result
        assert len(box.received()) == 1
        # The same relay under another CA is refused: the handshake really is verified.
        other = tmp_path / "other.pem"
        trustme.CA().cert_pem.write_to_path(str(other))
        refused = _smtp(box, tls="implicit", username=None, password=None, ca_file=other)
        result = await asyncio.to_thread(send_email, refused, _mail(refused))
        assert (result.ok, result.reason) == (False, "tls_error")
        assert len(box.received()) == 1
    finally:
        controller.stop()
