"""Email over an SMTP relay (stdlib smtplib), for the dead man's switch.

`build_email()` is pure; `send_email()` connects with the configured TLS mode
(STARTTLS or implicit TLS, certificates and host names verified against the system
store or `smtp.ca_file`; `none` only for a relay on the same host), logs in if a
username is set, and sends. It blocks, so the sender runs it in a thread. Failures
come back as a `MailResult` with a closed reason; the password never appears in one.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from .config import SmtpConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class MailResult:
    ok: bool
    reason: str = ""
    detail: str = ""


def split_stored(body: str) -> tuple[str, str]:
    """An outbox email row's body is ``subject\\n\\ntext``."""
    subject, _, text = body.partition("\n\n")
    return subject, text


def build_email(
    *, config: SmtpConfig, to: str, subject: str, text: str, message_id: int
) -> EmailMessage:
    """The message; its Message-ID is stable per outbox row, so a resend after a crash
    can be recognised as the same mail."""
    msg = EmailMessage()
    msg["From"] = config.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    domain = config.sender.rpartition("@")[2]
    digest = hashlib.sha256(f"{to}\n{subject}\n{text}".encode()).hexdigest()[:16]
    msg["Message-ID"] = f"<smsbridge-{message_id}-{digest}@{domain}>"
    msg.set_content(text)
    return msg


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    # create_default_context verifies the chain and the host name.
    return ssl.create_default_context(
        cafile=str(config.ca_file) if config.ca_file is not None else None
    )


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    # One mechanism, PLAIN when offered: login() would go on to try LOGIN after a
    # rejected PLAIN, which some relays answer by waiting (a timeout, not "auth").
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" not in offered:
        smtp.login(username, password)
        return
    smtp.user, smtp.password = username, password  # documented inputs of auth_plain
    smtp.auth("PLAIN", smtp.auth_plain)


def send_email(config: SmtpConfig, message: EmailMessage) -> MailResult:
    """Deliver `message` to the relay (blocking)."""
    try:
        smtp: smtplib.SMTP
        if config.tls == "implicit":
            smtp = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=_tls_context(config)
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with smtp:
            smtp.ehlo()
            if config.tls == "starttls":
                smtp.starttls(context=_tls_context(config))
                smtp.ehlo()
            if config.username is not None and config.password is not None:
                _login(smtp, config.username, config.password.reveal())
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        return MailResult(ok=False, reason="auth", detail=f"SMTP {exc.smtp_code}")
    except smtplib.SMTPNotSupportedError:
        return MailResult(ok=False, reason="tls_error", detail="relay does not offer STARTTLS")
    except smtplib.SMTPResponseException as exc:
        return MailResult(ok=False, reason="rejected", detail=f"SMTP {exc.smtp_code}")
    except smtplib.SMTPRecipientsRefused:
        return MailResult(ok=False, reason="rejected", detail="recipient refused")
    except (ssl.SSLError, ssl.CertificateError) as exc:
        return MailResult(ok=False, reason="tls_error", detail=type(exc).__name__)
    except TimeoutError:
        return MailResult(ok=False, reason="timeout", detail="timed out")
    except (OSError, smtplib.SMTPException) as exc:
        return MailResult(ok=False, reason="connect_error", detail=type(exc).__name__)
    return MailResult(ok=True)
