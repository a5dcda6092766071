"""What the alerting chain delivers, caught on loopback: one SMS-gateway stand-in, one SMTP sink.

`GatewayStandIn` is the one stand-in for an SMS gateway in the tests: it records every
request, answers NIC-style (or like a generic JSON gateway under `/http`), can be told to
fail, and parses each alert SMS into an `Sms`. `SmtpSink` is a real aiosmtpd server that
keeps every email as a `Mail`. (`deploy/sms_gateway_standin.py` is the compose demo's
gateway, shipped product code; it is not a test helper.)
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.net import HOST, LoopbackService, serve_app


@dataclass(frozen=True, slots=True)
class Sms:
    """One SMS as the gateway stand-in received it (one recipient, one template)."""

    at: float  # time.monotonic()
    path: str
    number: str
    template_id: str
    text: str
    status: str  # FIRING / RESOLVED, parsed from the text
    alertname: str

    def brief(self) -> str:
        return f"{self.status} {self.alertname} to {self.number} [{self.template_id}]: {self.text}"


_SMS_EN = re.compile(r"^ITDA ALERT (FIRING|RESOLVED): .*? - (\w+) \(")
_SMS_HI = re.compile(r"^ITDA चेतावनी (चालू|समाप्त): .*? - (\w+) ")


# The bridge's own dead man's switch texts (chain_broken_* / chain_ok_* templates).
_CHAIN_BROKEN = ("ITDA ALERT: monitoring chain broken", "ITDA चेतावनी: निगरानी श्रृंखला टूटी")
_CHAIN_OK = ("ITDA OK: monitoring chain restored", "ITDA सूचना: निगरानी श्रृंखला")


def parse_sms_text(text: str) -> tuple[str, str]:
    """(status, alertname) of an alert SMS rendered from config/smsbridge.yml's templates.

    The dead man's switch's texts are told as the Watchdog's: FIRING when the bridge says the
    chain is broken, RESOLVED when it says the chain is restored."""
    if text.startswith(_CHAIN_BROKEN):
        return "FIRING", "Watchdog"
    if text.startswith(_CHAIN_OK):
        return "RESOLVED", "Watchdog"
    if m := _SMS_EN.match(text):
        return m.group(1), m.group(2)
    if m := _SMS_HI.match(text):
        return ("FIRING" if m.group(1) == "चालू" else "RESOLVED"), m.group(2)
    return "OTHER", ""


@dataclass
class RecordedRequest:
    """One request the gateway stand-in received, as it arrived."""

    at: float  # time.monotonic()
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    json: Any
    headers: dict[str, str]
    raw: bytes


# A NIC gateway's answer to an accepted SMS; the request id counts up from 12345678.
NIC_ACCEPTED = "Message Accepted for Request ID=12345678~code=API000 & info=Platform accepted"


@dataclass
class GatewayStandIn(LoopbackService):
    """A local SMS gateway that records every request and answers as scripted.

    Paths: `/nic`, `/nic2` (NIC's API: form fields, a text answer with a request id) and
    `/http...` (a generic JSON gateway). `fail_next` requests (or all, `fail_always`) get
    `fail_status`; afterwards NIC-style success (or `ok_body`). Every request also becomes
    an `Sms` (status and alert name parsed from the text, `OTHER` when it is no alert).

    Example::

        async with GatewayStandIn() as gateway:
            ...  # point the bridge at f"{gateway.url}/nic"
            await gateway.wait_for(1, path="/nic")
    """

    requests: list[RecordedRequest] = field(default_factory=list)
    delivered: list[RecordedRequest] = field(default_factory=list)
    sms: list[Sms] = field(default_factory=list)
    fail_next: int = 0
    fail_always: bool = False
    fail_status: int = 503
    ok_body: str = NIC_ACCEPTED
    url: str = ""
    _counter: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner, self.url = await serve_app(app)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def clear(self) -> None:
        self.requests.clear()
        self.delivered.clear()
        self.sms.clear()

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        form: dict[str, str] = {}
        body_json: Any = None
        ctype = request.headers.get("Content-Type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            form = {k: str(v) for k, v in (await request.post()).items()}
        elif ctype.startswith("application/json"):
            body_json = json.loads(raw)
        now = time.monotonic()
        recorded = RecordedRequest(
            at=now,
            method=request.method,
            path=request.path,
            query=dict(request.query),
            form=form,
            json=body_json,
            headers=dict(request.headers),
            raw=raw,
        )
        self.requests.append(recorded)
        self.sms.append(_sms_of(recorded))
        if self.fail_always or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            return web.Response(status=self.fail_status, text="temporarily unavailable")
        self._counter += 1
        self.delivered.append(recorded)
        if request.path.startswith("/http"):
            return web.json_response({"type": "success", "request_id": f"req-{self._counter}"})
        return web.Response(text=self.ok_body.replace("12345678", str(12345677 + self._counter)))

    def on(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, count: int, *, path: str | None = None, within: float = 10.0) -> None:
        """Until `count` requests (to `path`, if given) arrived; AssertionError after `within` s."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            seen = self.on(path) if path else self.requests
            if len(seen) >= count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"gateway got {len(self.requests)} request(s), wanted {count}")


def _sms_of(r: RecordedRequest) -> Sms:
    """The SMS a request asks for: NIC's form fields (UC messages are hex UTF-16BE)."""
    fields = {**r.form, **r.query}
    if isinstance(r.json, dict):
        fields.update({k: str(v) for k, v in r.json.items() if isinstance(v, str | int)})
    message = fields.get("message", "")
    if fields.get("msgType") == "UC":
        # A malformed UC text is kept as sent, for the test to see; never a 500 here.
        with contextlib.suppress(ValueError):
            message = bytes.fromhex(message).decode("utf-16-be")
    status, alertname = parse_sms_text(message)
    return Sms(
        at=r.at,
        path=r.path,
        number=fields.get("mnumber", ""),
        template_id=fields.get("dlt_template_id", ""),
        text=message,
        status=status,
        alertname=alertname,
    )


@dataclass(frozen=True, slots=True)
class Mail:
    """One email as the SMTP sink received it; alert fields parsed from an Alertmanager subject."""

    at: float
    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    text: str
    html: str
    status: str  # FIRING / RESOLVED from the subject, OTHER for any other mail
    alertname: str
    scope: str
    target: str
    # (line number, octets) of every line longer than SMTP allows.
    long_lines: tuple[tuple[int, int], ...] = ()
    content: bytes = b""  # the message as sent
    tls: bool = False  # it came over TLS (STARTTLS or implicit)
    authenticated: bool = False  # the client logged in first

    @property
    def recipients(self) -> list[str]:
        return list(self.rcpt_tos)

    def brief(self) -> str:
        return self.subject

    @property
    def sent_by(self) -> str:
        """The Alertmanager that sent it (its --web.external-url, last line of the text)."""
        m = re.search(r"^Alertmanager: (\S+)\s*$", self.text, flags=re.MULTILINE)
        return m.group(1) if m else ""


# RFC 5321 4.5.3.1.6: a line is at most 1000 octets with its CRLF.
SMTP_MAX_LINE = 998


class _LenientSMTP(SMTP):
    """aiosmtpd with room for over-long lines, so they are received and then *reported*.

    Stock aiosmtpd (like Exim, whose message_linelength_limit is 998) answers "500 Line too
    long"; Alertmanager 0.25 ignores that answer and logs "Notify success", so the mail
    would vanish without a trace. The sink takes it instead and records every over-long
    line in `Mail.long_lines`, which the tests assert is empty.
    """

    line_length_limit = 1 << 20


_SUBJECT = re.compile(
    r"^\[(FIRING|RESOLVED)(?: x\d+)?\] (\S+) (\S+) \| scope: (\S*)(?: \| target: (\S+))?"
)


class SmtpSink(LoopbackService):
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts.

    `start()` serves it plainly in the running event loop (the end-to-end chain). It is
    also an aiosmtpd handler, so a test can serve it with TLS and AUTH through aiosmtpd's
    `Controller` (in its own thread; `received()` is safe to call from the test), setting
    `port` and `ca_file` for the client's config.
    """

    def __init__(self, *, ca_file: Path | None = None) -> None:
        self.mails: list[Mail] = []
        self.errors: list[str] = []
        self.port = 0
        self.ca_file = ca_file
        self._lock = threading.Lock()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _LenientSMTP(self, hostname="mail.e2e.test"), HOST, 0
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def clear(self) -> None:
        with self._lock:
            self.mails.clear()

    def received(self) -> list[Mail]:
        """Every mail so far (a copy)."""
        with self._lock:
            return list(self.mails)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        try:
            mail = _mail_of(session, envelope)
        except Exception as exc:  # a parsing bug must be seen, not turned into a 500
            self.errors.append(f"{type(exc).__name__}: {exc}")
            raise
        with self._lock:
            self.mails.append(mail)
        return "250 Message accepted for delivery"


def _mail_of(session: Session, envelope: Envelope) -> Mail:
    raw = envelope.original_content or envelope.content or b""
    if isinstance(raw, str):
        raw = raw.encode()
    long_lines = tuple(
        (i + 1, len(line)) for i, line in enumerate(raw.split(b"\r\n")) if len(line) > SMTP_MAX_LINE
    )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    subject = str(msg["Subject"] or "").strip()
    text_part = msg.get_body(("plain",))
    html_part = msg.get_body(("html",))
    text = text_part.get_content() if text_part is not None else ""
    html = html_part.get_content() if html_part is not None else ""
    text, html = text.replace("\r\n", "\n"), html.replace("\r\n", "\n")
    m = _SUBJECT.match(subject)
    return Mail(
        at=time.monotonic(),
        mail_from=str(envelope.mail_from),
        rcpt_tos=tuple(envelope.rcpt_tos),
        subject=subject,
        text=text,
        html=html,
        status=m.group(1) if m else "OTHER",
        alertname=m.group(3) if m else "",
        scope=m.group(4) if m else "",
        target=(m.group(5) or "") if m else "",
        long_lines=long_lines,
        content=raw,
        tls=session.ssl is not None,
        authenticated=bool(session.authenticated),
    )
