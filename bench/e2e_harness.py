"""End-to-end harness: the whole alerting chain on loopback, shared by tests/e2e and bench.

It owns two layers, both bound to 127.0.0.1 on ports chosen free at run time:

* `World` (long-lived, in the caller's event loop): the simulator (fake Parichay and
  e-Office), a neutral "public site" for control targets, one TCP path per vantage
  (forwarders that can be cut, or told to reset the next connection), one in-process
  exporter per vantage, a real SMTP server (aiosmtpd) and a recording SMS-gateway stand-in.
* `AlertingStack` (one per scenario or benchmark run): the real `prometheus`, two real
  `prometheus-alertmanager` processes gossiping with each other, and the SMS bridge, all
  configured from the repository's own files with only addresses, intervals, `for:`
  durations and group timings substituted (`render_*`; every substitution must match the
  expected number of times, so a change in those files cannot turn it into a silent no-op).

Anything in-process only serves while the event loop runs: every wait here is a coroutine.

Example::

    async with World(tmp, timing=E2E) as world:
        async with AlertingStack(world, tmp / "run1", timing=E2E) as stack:
            await stack.wait_ready()
            world.sim.set_fault("sso", "http_503")
            await world.wait_for(lambda: world.sms_for("ParichayDown"), within=30, what="SMS")
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email
import email.policy
import functools
import json
import os
import re
import shutil
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from exporter.app import Exporter
from exporter.config import load_config
from exporter.demo import LOGIN_STEPS, indent
from simulator import Simulator
from tools import binaries

REPO = Path(__file__).resolve().parents[1]
PROMETHEUS_DIR = REPO / "prometheus"
ALERTMANAGER_DIR = REPO / "alertmanager"
SMSBRIDGE_CONFIG = REPO / "config" / "smsbridge.yml"
EXPORTER_CONFIG = REPO / "config" / "exporter.yml"

HOST = "127.0.0.1"
ORG = "UKSec"
VANTAGES = ("secretariat-dehradun", "district-haridwar", "cloud-mumbai")
# The vantage whose network the tests cut, and the one that runs the synthetic login (the
# simulator has one monitoring account; two vantages sharing it would race for TOTP codes).
CUTTABLE_VANTAGE = "district-haridwar"
LOGIN_VANTAGE = "cloud-mumbai"
# Partial reachability: the vantages whose route to Parichay the tests and the bench cut
# (`World.cut_sso`), two of three; the login vantage keeps its route.
PARTIAL_VANTAGES = ("district-haridwar", "secretariat-dehradun")
SSO_TARGET = "parichay-login-page"
APP_TARGET = "eoffice-root"
LOGIN_TARGET = "eoffice-login"
CONTROL_TARGETS = ("control-india-gov-in", "control-portal-tcp")

# Numbers and DLT template ids of config/smsbridge.yml (read from it, see `bridge_plan`).
WEBHOOK_TOKEN = "e2e-webhook-token-7c41"
NIC_PIN = "e2e-nic-pin-5521"


class HarnessError(Exception):
    """The harness itself could not do what was asked (not a failed expectation)."""


# --------------------------------------------------------------------------- timing


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """How fast everything runs.

    `E2E` compresses time so a scenario takes seconds; `PRODUCTION` keeps every interval,
    `for:` and group timing of the repository's files (only addresses change) and the
    probe intervals of config/exporter.yml.
    """

    name: str
    sso_interval: float
    app_interval: float
    control_interval: float
    probe_timeout: float
    login_interval: float
    login_timeout: float
    # None: keep the repository's values.
    scrape_interval: str | None = None
    evaluation_interval: str | None = None
    scrape_timeout: str | None = None
    page_for: str | None = None  # replaces `for: 30s` (availability.yml) and `for: 1m` (meta.yml)
    login_for: str | None = None  # replaces `for: 2m` of EOfficeLoginFailing (login.yml)
    group_wait: str | None = None
    group_interval: str | None = None
    # Alertmanager cluster flags (None: Alertmanager's defaults, as deployed).
    peer_timeout: str | None = None
    gossip_interval: str | None = None
    # Logins remember their device (persistent_cookies) so they need no fresh TOTP window.
    remember_device: bool = False

    @property
    def peer_timeout_s(self) -> float:
        return _seconds(self.peer_timeout or "15s")

    @property
    def group_wait_s(self) -> float:
        return _seconds(self.group_wait or "10s")

    @property
    def group_interval_s(self) -> float:
        return _seconds(self.group_interval or "1m")

    @property
    def scrape_s(self) -> float:
        return _seconds(self.scrape_interval or "15s")

    @property
    def eval_s(self) -> float:
        return _seconds(self.evaluation_interval or "15s")

    @property
    def page_for_s(self) -> float:
        return _seconds(self.page_for or "30s")

    @property
    def login_for_s(self) -> float:
        return _seconds(self.login_for or "2m")

    def lag(self) -> float:
        """Worst-case seconds from a probe result to Alertmanager's first flush, beyond `for:`.

        One probe interval until the result exists, one scrape, two evaluations (the one
        that starts `for:` may lag the scrape, the one that ends it lags `for:`), the group
        wait, and the second peer's wait before it sends.
        """
        return (
            max(self.sso_interval, self.app_interval, self.control_interval)
            + self.scrape_s
            + 2 * self.eval_s
            + self.group_wait_s
            + self.peer_timeout_s
        )


def _seconds(text: str) -> float:
    total, pos = 0.0, 0
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise HarnessError(f"not a duration: {text!r}")
    return total


# Compressed time for the tests. Probes every second; scrape and evaluation every second;
# `for: 30s` (and meta.yml's `for: 1m`) -> 5s and `for: 2m` -> 10s keep the production rule
# "at least two consecutive failed probes" (30 s / 15 s probes; here 5 s / 1 s; the 2 s login
# gets 10 s, i.e. 5 logins as the 60 s login gets 2 in 2 m); group_wait 10s -> 1s and
# group_interval 1m -> 4s so first and resolved notifications come within seconds.
E2E = Timing(
    name="e2e",
    sso_interval=1.0,
    app_interval=1.0,
    control_interval=1.0,
    probe_timeout=0.8,
    # Below the 60 s config minimum on purpose: applied with dataclasses.replace() after
    # validation, only in this harness, against a simulator account (no real account).
    login_interval=2.0,
    login_timeout=1.5,
    scrape_interval="1s",
    evaluation_interval="1s",
    scrape_timeout="900ms",
    page_for="5s",
    login_for="10s",
    group_wait="1s",
    # Must stay well above peer_timeout, as in production (1m vs 15s). Both peers' group
    # timers tick together, but a RESOLVED that arrives between the two ticks makes one
    # peer flush it a whole group_interval later than the other; the other sends after
    # peer_timeout. With group_interval == peer_timeout both sent at once (a duplicate
    # RESOLVED seen in CI); at 2x, the first send has gossiped a second before the second.
    group_interval="4s",
    # The second Alertmanager waits peer_timeout x its position before it sends (and then
    # only if the first did not); 2 s keeps "no duplicate" waits short. Faster gossip only
    # makes the cluster settle (and the notification log spread) sooner.
    peer_timeout="2s",
    gossip_interval="50ms",
    remember_device=True,
)


def production_timing() -> Timing:
    """The repository's own timings; probe intervals as in config/exporter.yml."""
    import yaml

    data = yaml.safe_load(EXPORTER_CONFIG.read_text(encoding="utf-8"))
    default = _seconds(str(data["defaults"]["interval"]))
    timeout = _seconds(str(data["defaults"]["timeout"]))
    by_name = {t["name"]: t for t in data["targets"]}

    def interval(name: str) -> float:
        if name not in by_name:
            raise HarnessError(f"config/exporter.yml has no target {name!r}; update the bench")
        return _seconds(str(by_name[name].get("interval", data["defaults"]["interval"])))

    return Timing(
        name="production",
        sso_interval=interval(SSO_TARGET),
        app_interval=interval(APP_TARGET),
        control_interval=default,
        probe_timeout=timeout,
        login_interval=60.0,
        login_timeout=30.0,
    )


# --------------------------------------------------------------------------- substitution


def substitute(text: str, old: str, new: str, *, count: int, where: str) -> str:
    """Replace a literal that must occur exactly `count` times (fail loudly otherwise)."""
    found = text.count(old)
    if found != count:
        raise HarnessError(
            f"{where}: expected {count} occurrence(s) of {old!r}, found {found}; the file "
            "changed, so update the end-to-end substitution (docs/alerting.md lists them)"
        )
    return text.replace(old, new)


def substitute_re(text: str, pattern: str, repl: str, *, count: int, where: str) -> str:
    """Like `substitute`, for a multi-line regex (e.g. only `for:` lines, not comments)."""
    new, found = re.subn(pattern, repl, text, flags=re.MULTILINE)
    if found != count:
        raise HarnessError(
            f"{where}: expected {count} match(es) of /{pattern}/, found {found}; the file "
            "changed, so update the end-to-end substitution (docs/alerting.md lists them)"
        )
    return new


def render_prometheus(
    dest: Path,
    *,
    exporters: Iterable[str],
    bridge: str,
    alertmanagers: tuple[str, str],
    prometheus: str,
    timing: Timing,
) -> Path:
    """Write prometheus.yml and rules/ under `dest`; returns the config path.

    Addresses: `exporter:10071` (one line per vantage), `smsbridge:10072`,
    `alertmanager-1:9093` / `alertmanager-2:9093` (alerting and scrape), `localhost:9090`.
    Timing (E2E only): scrape/evaluation interval and scrape timeout; `for: 30s` in
    availability.yml (the Down, partial-reachability and site-network/resolver alerts) and
    `for: 1m` in meta.yml; `for: 2m` in login.yml (EOfficeLoginFailing). The burn-rate,
    intermittent, latency, TLS and self-monitoring alerts keep their production `for:`
    (1m-15m) and windows: they are not compressed, so they must not fire within a scenario.
    """
    src = (PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8")
    where = "prometheus/prometheus.yml"
    lines = "\n".join(rf"\g<1>{addr}" for addr in exporters)
    text = substitute_re(src, r"^(\s*- )exporter:10071$", lines, count=1, where=where)
    text = substitute(text, "smsbridge:10072", bridge, count=1, where=where)
    text = substitute(text, "alertmanager-1:9093", alertmanagers[0], count=2, where=where)
    text = substitute(text, "alertmanager-2:9093", alertmanagers[1], count=2, where=where)
    text = substitute(text, "localhost:9090", prometheus, count=1, where=where)
    # No status page runs in the e2e stack: its scrape job would only fail and page
    # ExporterDown, so it is left out.
    text = substitute_re(
        text, r"^  - job_name: statuspage\n(?:    .*\n)+", "", count=1, where=where
    )
    if timing.scrape_interval:
        text = substitute(
            text,
            "scrape_interval: 15s",
            f"scrape_interval: {timing.scrape_interval}",
            count=1,
            where=where,
        )
    if timing.evaluation_interval:
        text = substitute(
            text,
            "evaluation_interval: 15s",
            f"evaluation_interval: {timing.evaluation_interval}",
            count=1,
            where=where,
        )
    if timing.scrape_timeout:
        text = substitute(
            text,
            "scrape_timeout: 10s",
            f"scrape_timeout: {timing.scrape_timeout}",
            count=1,
            where=where,
        )
    dest.mkdir(parents=True, exist_ok=True)
    rules = dest / "rules"
    rules.mkdir(exist_ok=True)
    page_for = {"availability.yml": ("30s", 6), "meta.yml": ("1m", 2)}
    for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
        body = path.read_text(encoding="utf-8")
        rwhere = f"prometheus/rules/{path.name}"
        if timing.page_for and path.name in page_for:
            body = substitute_re(
                body,
                rf"^(\s+)for: {page_for[path.name][0]}$",
                rf"\g<1>for: {timing.page_for}",
                count=page_for[path.name][1],
                where=rwhere,
            )
        if timing.login_for and path.name == "login.yml":
            body = substitute_re(
                body, r"^(\s+)for: 2m$", rf"\g<1>for: {timing.login_for}", count=1, where=rwhere
            )
        (rules / path.name).write_text(body, encoding="utf-8")
    config = dest / "prometheus.yml"
    config.write_text(text, encoding="utf-8")
    return config


def render_alertmanager(
    dest: Path,
    *,
    smtp: str,
    webhook: str,
    heartbeat: str,
    token_file: Path,
    smtp_password_file: Path,
    timing: Timing,
) -> Path:
    """Write alertmanager.yml and templates/ under `dest`; returns the config path.

    Addresses: `mailcatcher:1025` (SMTP), `http://smsbridge:10072/alertmanager`, the
    Watchdog's `http://smsbridge:10072/heartbeat`, the two secret files (the bridge token is
    used by both webhooks). `smtp_require_tls: false` is kept (checked, not changed): the local
    aiosmtpd speaks plain SMTP without STARTTLS, exactly like the demo's mailcatcher.
    Timing (E2E only): the root route's `group_wait: 10s` and `group_interval: 1m`, which
    the page routes inherit; ticket timings and repeat intervals stay as they are.
    """
    src = (ALERTMANAGER_DIR / "alertmanager.yml").read_text(encoding="utf-8")
    where = "alertmanager/alertmanager.yml"
    text = substitute(src, "mailcatcher:1025", smtp, count=1, where=where)
    text = substitute(text, "http://smsbridge:10072/alertmanager", webhook, count=1, where=where)
    text = substitute(text, "http://smsbridge:10072/heartbeat", heartbeat, count=1, where=where)
    text = substitute(
        text, "/etc/alertmanager/secrets/smsbridge_token", str(token_file), count=2, where=where
    )
    text = substitute(
        text,
        "/etc/alertmanager/secrets/smtp_password",
        str(smtp_password_file),
        count=1,
        where=where,
    )
    substitute(text, "smtp_require_tls: false", "", count=1, where=where)
    if timing.group_wait:
        text = substitute_re(
            text,
            r"^(  )group_wait: 10s$",
            rf"\g<1>group_wait: {timing.group_wait}",
            count=1,
            where=where,
        )
    if timing.group_interval:
        text = substitute_re(
            text,
            r"^(  )group_interval: 1m$",
            rf"\g<1>group_interval: {timing.group_interval}",
            count=1,
            where=where,
        )
    dest.mkdir(parents=True, exist_ok=True)
    # `templates: [templates/*.tmpl]` is relative to the config file's directory.
    shutil.copytree(ALERTMANAGER_DIR / "templates", dest / "templates", dirs_exist_ok=True)
    config = dest / "alertmanager.yml"
    config.write_text(text, encoding="utf-8")
    return config


def render_smsbridge(
    dest: Path, *, gateway: str, token_file: Path, pin_file: Path, outbox: Path
) -> Path:
    """Write the bridge config: config/smsbridge.yml with the gateway URLs (primary and
    secondary -> the stand-in), the token and pin files and the outbox path substituted.
    Routes, recipients, templates, rate limits and sender timings are production's."""
    src = SMSBRIDGE_CONFIG.read_text(encoding="utf-8")
    where = "config/smsbridge.yml"
    text = substitute(
        src,
        "token_file: /run/secrets/smsbridge_token",
        f"token_file: {token_file}",
        count=1,
        where=where,
    )
    text = substitute(
        text,
        "path: /var/lib/parichay-smsbridge/outbox.sqlite3",
        f"path: {outbox}",
        count=1,
        where=where,
    )
    text = substitute(
        text,
        "url: https://smsgw.sms.gov.in/failsafe/HttpLink",
        f"url: {gateway}/nic",
        count=1,
        where=where,
    )
    text = substitute(
        text,
        "secondary_url: https://smsgw.sms.gov.in/failsafe/MLink",
        f"secondary_url: {gateway}/nic2",
        count=1,
        where=where,
    )
    text = substitute(
        text,
        "pin_file: /run/secrets/nic_sms_pin",
        f"pin_file: {pin_file}",
        count=1,
        where=where,
    )
    dest.mkdir(parents=True, exist_ok=True)
    config = dest / "smsbridge.yml"
    config.write_text(text, encoding="utf-8")
    return config


@dataclass(frozen=True, slots=True)
class BridgePlan:
    """Who must get which SMS for a page, read from config/smsbridge.yml."""

    oncall: tuple[str, ...]  # NIC mnumber form, 91XXXXXXXXXX
    director: tuple[str, ...]
    template_en: str
    template_hi: str


def bridge_plan() -> BridgePlan:
    import yaml

    data = yaml.safe_load(SMSBRIDGE_CONFIG.read_text(encoding="utf-8"))

    def numbers(group: str) -> tuple[str, ...]:
        return tuple(r["number"].lstrip("+") for r in data["recipients"][group])

    return BridgePlan(
        oncall=numbers("on-call"),
        director=numbers("director"),
        template_en=str(data["templates"]["alert_en"]["dlt_template_id"]),
        template_hi=str(data["templates"]["alert_hi"]["dlt_template_id"]),
    )


# --------------------------------------------------------------------------- small parts


def free_port() -> int:
    """A port free right now on 127.0.0.1 (for processes that need it in their config)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _binary(name: str) -> str:
    try:
        return binaries.binary(name)
    except binaries.BinaryNotFound as exc:
        raise HarnessError(str(exc)) from None


async def wait_until(
    check: Callable[[], Any],
    *,
    within: float,
    what: str,
    interval: float = 0.1,
    describe: Callable[[], str] | None = None,
) -> Any:
    """Poll `check` (sync or async) until it returns a truthy value; AssertionError after
    `within` seconds, naming `what` and, if given, the current state."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            state = f"\nstate: {describe()}" if describe else ""
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}{state}")
        await asyncio.sleep(interval)


class Forwarder:
    """One TCP path from a vantage to an upstream port; `cut()` it like a failed uplink.

    `cut()` closes the listener and every open connection (new connections are refused);
    `restore()` listens on the same port again. `reset_next(n)` resets the next `n`
    accepted connections at once (a lone failed probe, without touching the upstream).
    """

    def __init__(self, *, name: str, upstream_port: int) -> None:
        self.name = name
        self.upstream_port = upstream_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._reset_next = 0
        self.resets = 0

    @property
    def is_cut(self) -> bool:
        return self._server is None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, HOST, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._conns):
            writer.transport.abort()
        self._conns.clear()
        if server is not None:
            await server.wait_closed()

    async def restore(self) -> None:
        if self._server is None:
            await self.start()

    def reset_next(self, n: int = 1) -> None:
        self._reset_next += n

    def cancel_resets(self) -> None:
        self._reset_next = 0

    async def stop(self) -> None:
        await self.cut()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._reset_next > 0:
            self._reset_next -= 1
            self.resets += 1
            sock = writer.get_extra_info("socket")
            if sock is not None:
                # SO_LINGER 0: close with RST, as a dropped connection looks to a client.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._conns.update((writer, up_writer))
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._tasks.discard(task)
            for w in (writer, up_writer):
                self._conns.discard(w)
                w.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()


@dataclass
class VantagePath:
    """Everything one vantage reaches (SSO, e-Office, the neutral site) goes through here."""

    vantage: str
    sso: Forwarder
    app: Forwarder
    control: Forwarder

    @property
    def forwarders(self) -> tuple[Forwarder, Forwarder, Forwarder]:
        return (self.sso, self.app, self.control)

    async def cut(self) -> None:
        for f in self.forwarders:
            await f.cut()

    async def restore(self) -> None:
        for f in self.forwarders:
            await f.restore()


# --------------------------------------------------------------------------- recorders


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


def parse_sms_text(text: str) -> tuple[str, str]:
    """(status, alertname) of an alert SMS rendered from config/smsbridge.yml's templates."""
    if m := _SMS_EN.match(text):
        return m.group(1), m.group(2)
    if m := _SMS_HI.match(text):
        return ("FIRING" if m.group(1) == "चालू" else "RESOLVED"), m.group(2)
    return "OTHER", ""


class GatewayStandIn:
    """NIC SMS gateway stand-in: records every request and accepts it NIC-style."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.sms: list[Sms] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.url = f"http://{HOST}:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def clear(self) -> None:
        self.requests.clear()
        self.sms.clear()

    async def _handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        form.update(request.query)
        now = time.monotonic()
        self.requests.append({"at": now, "path": request.path, "form": form})
        message = form.get("message", "")
        if form.get("msgType") == "UC":
            message = bytes.fromhex(message).decode("utf-16-be")
        status, alertname = parse_sms_text(message)
        self.sms.append(
            Sms(
                at=now,
                path=request.path,
                number=form.get("mnumber", ""),
                template_id=form.get("dlt_template_id", ""),
                text=message,
                status=status,
                alertname=alertname,
            )
        )
        n = len(self.requests)
        return web.Response(
            text=f"Message Accepted for Request ID={10000000 + n}~code=API000 & info=Accepted"
        )


@dataclass(frozen=True, slots=True)
class Mail:
    """One email as the SMTP server received it."""

    at: float
    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    text: str
    html: str
    status: str  # FIRING / RESOLVED from the subject
    alertname: str
    scope: str
    target: str
    # (line number, octets) of every line longer than SMTP allows.
    long_lines: tuple[tuple[int, int], ...] = ()

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


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.errors: list[str] = []
        self.port = 0
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
        self.mails.clear()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        try:
            self._record(envelope)
        except Exception as exc:  # a parsing bug must be seen, not turned into a 500
            self.errors.append(f"{type(exc).__name__}: {exc}")
            raise
        return "250 Message accepted for delivery"

    def _record(self, envelope: Envelope) -> None:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        long_lines = tuple(
            (i + 1, len(line))
            for i, line in enumerate(raw.split(b"\r\n"))
            if len(line) > SMTP_MAX_LINE
        )
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        subject = str(msg["Subject"] or "")
        text_part = msg.get_body(("plain",))
        html_part = msg.get_body(("html",))
        text = text_part.get_content() if text_part is not None else ""
        html = html_part.get_content() if html_part is not None else ""
        text, html = text.replace("\r\n", "\n"), html.replace("\r\n", "\n")
        m = _SUBJECT.match(subject)
        self.mails.append(
            Mail(
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
            )
        )


class ControlSite:
    """A neutral, always-up "public site" (the stand-in for www.india.gov.in)."""

    def __init__(self) -> None:
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def page(request: web.Request) -> web.Response:
            return web.Response(
                text="<html><title>National Portal of India</title></html>",
                content_type="text/html",
            )

        app = web.Application()
        app.router.add_get("/", page)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


# --------------------------------------------------------------------------- exporters


EXPORTER_CONFIG_TEMPLATE = """\
# Written by bench/e2e_harness.py: the targets of config/exporter.yml (one SSO page, the
# e-Office root stopping at its redirect, two control targets), pointed at the simulator
# and the neutral site through this vantage's own network path.
vantage: {vantage}
listen: 127.0.0.1:0
defaults: {{interval: {control_interval}s, timeout: {timeout}s}}
targets:
  - name: {sso_target}
    role: sso
    kind: http
    url: http://127.0.0.1:{sso_port}/pnv1/assets/login?sid=eOffice{org}
    interval: {sso_interval}s
    expect: {{status: [200], body_contains: Parichay}}
  - name: {app_target}
    role: app
    kind: http
    url: http://127.0.0.1:{app_port}/
    interval: {app_interval}s
    follow_redirects: false
    expect: {{status: [302], redirect_host: "{sso_hostport}"}}
  - name: {control_http}
    role: control
    kind: http
    url: http://127.0.0.1:{control_port}/
    expect: {{status: [200, 301, 302]}}
  - name: {control_tcp}
    role: control
    kind: tcp
    host: 127.0.0.1
    port: {control_port}
"""

LOGIN_TARGET_TEMPLATE = """\
  - name: {login_target}
    role: app
    kind: login
    interval: 1m
    credentials:
      username_file: {secrets}/username
      password_file: {secrets}/password
      totp_secret_file: {secrets}/totp
    state_file: {state_file}
{persistent}    vars: {{app: "{app}", sso: "{sso}"}}
    steps:
{steps}"""


def exporter_config_text(
    *,
    vantage: str,
    path: VantagePath,
    sim: Simulator,
    timing: Timing,
    secrets_dir: Path,
    state_file: Path,
) -> str:
    """The exporter config of one vantage (E2E or production probe intervals)."""
    sso_real = sim.sso_url.split("://", 1)[1]
    text = EXPORTER_CONFIG_TEMPLATE.format(
        vantage=vantage,
        sso_target=SSO_TARGET,
        app_target=APP_TARGET,
        control_http=CONTROL_TARGETS[0],
        control_tcp=CONTROL_TARGETS[1],
        sso_port=path.sso.port,
        app_port=path.app.port,
        control_port=path.control.port,
        org=ORG,
        sso_hostport=sso_real,
        sso_interval=timing.sso_interval,
        app_interval=timing.app_interval,
        control_interval=timing.control_interval,
        timeout=timing.probe_timeout,
    )
    if vantage == LOGIN_VANTAGE:
        steps = LOGIN_STEPS
        persistent = ""
        if timing.remember_device:
            # The shipped journey with "remember this device" ticked, and the device cookie
            # kept between runs (persistent_cookies): later logins skip the OTP, so they can
            # run every few seconds without ever reusing a TOTP code.
            steps = substitute(
                steps,
                "remember_device: false",
                "remember_device: true",
                count=1,
                where="exporter.demo.LOGIN_STEPS",
            )
            persistent = "    persistent_cookies: [PARICHAY_DEVICE]\n"
        # The login goes straight to the simulator (the redirects name its real ports
        # anyway), so nothing a forwarder does to this vantage's path touches it.
        text += LOGIN_TARGET_TEMPLATE.format(
            login_target=LOGIN_TARGET,
            secrets=secrets_dir,
            state_file=state_file,
            persistent=persistent,
            app=sim.app_url,
            sso=sim.sso_url,
            steps=indent(steps, 4),
        )
    return text


# --------------------------------------------------------------------------- the world


class World:
    """Simulator, neutral site, vantage paths, exporters, SMTP server and SMS gateway."""

    def __init__(self, root: Path, *, timing: Timing) -> None:
        self.root = root
        self.timing = timing
        self.sim = Simulator(tls=False, org=ORG)
        self.site = ControlSite()
        self.smtp = SmtpSink()
        self.gateway = GatewayStandIn()
        self.paths: dict[str, VantagePath] = {}
        self.exporters: dict[str, Exporter] = {}

    async def __aenter__(self) -> World:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        await self.sim.start()
        await self.site.start()
        await self.smtp.start()
        await self.gateway.start()
        secrets_dir = self.root / "login-secrets"
        secrets_dir.mkdir(exist_ok=True, mode=0o700)
        for name, value in (
            ("username", self.sim.account.username),
            ("password", self.sim.account.password),
            ("totp", self.sim.account.totp_secret),
        ):
            secret_file = secrets_dir / name
            secret_file.write_text(value + "\n", encoding="utf-8")
            secret_file.chmod(0o600)

        def port_of(url: str) -> int:
            return int(url.rsplit(":", 1)[1])

        for vantage in VANTAGES:
            path = VantagePath(
                vantage=vantage,
                sso=Forwarder(name=f"{vantage}/sso", upstream_port=port_of(self.sim.sso_url)),
                app=Forwarder(name=f"{vantage}/app", upstream_port=port_of(self.sim.app_url)),
                control=Forwarder(name=f"{vantage}/control", upstream_port=self.site.port),
            )
            for f in path.forwarders:
                await f.start()
            self.paths[vantage] = path
            cfg_path = self.root / f"exporter-{vantage}.yml"
            cfg_path.write_text(
                exporter_config_text(
                    vantage=vantage,
                    path=path,
                    sim=self.sim,
                    timing=self.timing,
                    secrets_dir=secrets_dir,
                    state_file=self.root / f"login-state-{vantage}.json",
                ),
                encoding="utf-8",
            )
            config = load_config(cfg_path)
            # Login intervals below the validated 60 s minimum (E2E only; see Timing).
            targets = tuple(
                dataclasses.replace(
                    t, interval=self.timing.login_interval, timeout=self.timing.login_timeout
                )
                if t.kind == "login"
                else t
                for t in config.targets
            )
            config = dataclasses.replace(config, targets=targets)
            exporter = Exporter(config=config, config_path=cfg_path)
            await exporter.start(listen=f"{HOST}:0")
            self.exporters[vantage] = exporter

    async def stop(self) -> None:
        for exporter in self.exporters.values():
            with contextlib.suppress(Exception):
                await exporter.stop()
        self.exporters.clear()
        for path in self.paths.values():
            for f in path.forwarders:
                await f.stop()
        for part in (self.gateway, self.smtp, self.site):
            with contextlib.suppress(Exception):
                await part.stop()
        await self.sim.stop()

    # -- state -----------------------------------------------------------------------

    def targets_of(self, vantage: str) -> list[tuple[str, str, str]]:
        """(target, role, kind) probed from `vantage`."""
        exp = self.exporters[vantage]
        return [(t.name, str(t.role), t.kind) for t in exp.config.targets]

    def probe_value(
        self, vantage: str, target: str, metric: str = "parichay_probe_success", **labels: str
    ) -> float | None:
        exp = self.exporters[vantage]
        t = exp.config.target(target)
        if t is None:
            return None
        base = {"target": target, "vantage": vantage}
        if metric == "parichay_probe_success":
            base.update(role=str(t.role), kind=t.kind)
        base.update(labels)
        return exp.registry.get_sample_value(metric, base)

    def failures(self, vantage: str, target: str) -> float:
        """Failed probes of `target` from `vantage` so far (all reasons)."""
        exp = self.exporters[vantage]
        t = exp.config.target(target)
        assert t is not None
        total = 0.0
        for metric in exp.registry.collect():
            if metric.name != "parichay_probes":
                continue
            for s in metric.samples:
                if (
                    s.name == "parichay_probes_total"
                    and s.labels.get("target") == target
                    and s.labels.get("result") != "success"
                ):
                    total += s.value
        return total

    def unhealthy(self) -> list[str]:
        """Every (vantage, target) whose last probe did not pass (empty = all healthy)."""
        bad = []
        for vantage in self.exporters:
            for target, _, _ in self.targets_of(vantage):
                if self.probe_value(vantage, target) != 1.0:
                    bad.append(f"{vantage}/{target}")
        return bad

    def login_successes(self) -> float:
        exp = self.exporters[LOGIN_VANTAGE]
        value = exp.registry.get_sample_value(
            "parichay_probes_total",
            {"target": LOGIN_TARGET, "role": "app", "vantage": LOGIN_VANTAGE, "result": "success"},
        )
        return value or 0.0

    async def wait_settled(self, *, within: float) -> None:
        """Every probe passes and the login runs on its own cadence.

        The first login of a session sends an OTP; the exporter never sends a second login
        in the same 30 s TOTP window (even one that will not need a code), so until a second
        login has passed, a fault could go unseen by the login for up to 30 s.
        """
        await self.wait_healthy(within=within)
        if self.timing.remember_device:
            await wait_until(
                lambda: self.login_successes() >= 2,
                within=within,
                what="a second login, with the remembered device",
            )

    async def wait_healthy(self, *, within: float) -> None:
        await wait_until(
            lambda: not self.unhealthy(),
            within=within,
            what="every probe from every vantage to pass",
            describe=lambda: ", ".join(self.unhealthy()),
        )

    async def heal(self) -> None:
        """Undo every fault this harness can stage (simulator faults, cut paths)."""
        for app in ("sso", "app"):
            self.sim.set_fault(app, "ok")
        for path in self.paths.values():
            await path.restore()
            for f in path.forwarders:
                f.cancel_resets()

    async def cut_sso(self, vantages: Iterable[str]) -> None:
        """Cut only the SSO path of these vantages (new connections refused): their control
        and e-Office paths stay up, like a broken route between those sites and NIC."""
        for vantage in vantages:
            await self.paths[vantage].sso.cut()

    async def restore_sso(self, vantages: Iterable[str]) -> None:
        for vantage in vantages:
            await self.paths[vantage].sso.restore()

    def clear_inboxes(self) -> None:
        self.smtp.clear()
        self.gateway.clear()

    # -- what arrived ----------------------------------------------------------------

    def sms_for(self, alertname: str, status: str | None = None) -> list[Sms]:
        return [
            s
            for s in self.gateway.sms
            if s.alertname == alertname and (status is None or s.status == status)
        ]

    def mails_for(self, alertname: str, status: str | None = None) -> list[Mail]:
        return [
            m
            for m in self.smtp.mails
            if m.alertname == alertname and (status is None or m.status == status)
        ]

    def inbox(self) -> str:
        """Everything received so far, for failure messages."""
        lines = [f"SMS ({len(self.gateway.sms)}):"]
        lines += [f"  +{s.at:.1f} {s.brief()}" for s in self.gateway.sms]
        lines.append(f"email ({len(self.smtp.mails)}):")
        lines += [f"  +{m.at:.1f} {m.brief()}" for m in self.smtp.mails]
        return "\n".join(lines)


# --------------------------------------------------------------------------- processes


class Proc:
    """A real subprocess with its output in a log file; stopped by its PID."""

    def __init__(
        self, name: str, args: list[str], log: Path, *, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.args = args
        self.log = log
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self) -> None:
        with open(self.log, "ab") as out:  # noqa: ASYNC230 (opening a local log file)
            self.process = await asyncio.create_subprocess_exec(
                *self.args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=self.env,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self, *, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; only this process, by its PID."""
        p = self.process
        if p is None or p.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(p.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
            await p.wait()

    async def kill(self) -> None:
        """SIGKILL: the process dies without any goodbye (no cluster leave, no snapshot)."""
        p = self.process
        if p is None or p.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGKILL)
        await p.wait()

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class AlertmanagerNode:
    index: int
    web_port: int
    cluster_port: int
    proc: Proc
    url: str = ""

    @property
    def address(self) -> str:
        return f"{HOST}:{self.web_port}"


@dataclass
class AlertingStack:
    """Prometheus, two clustered Alertmanagers and the SMS bridge for one scenario/run."""

    world: World
    root: Path
    timing: Timing
    prometheus: Proc | None = None
    prometheus_url: str = ""
    alertmanagers: list[AlertmanagerNode] = field(default_factory=list)
    bridge: Proc | None = None
    bridge_url: str = ""
    _client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> AlertingStack:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def procs(self) -> list[Proc]:
        out = [p for p in (self.prometheus,) if p is not None]
        out += [am.proc for am in self.alertmanagers]
        if self.bridge is not None:
            out.append(self.bridge)
        return out

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0, trust_env=False)
        return self._client

    async def start(self) -> None:
        prometheus_bin = _binary("prometheus")
        alertmanager_bin = _binary("prometheus-alertmanager")
        self.root.mkdir(parents=True, exist_ok=True)
        secrets = self.root / "secrets"
        secrets.mkdir(exist_ok=True, mode=0o700)
        token_file = secrets / "smsbridge_token"
        token_file.write_text(WEBHOOK_TOKEN + "\n", encoding="utf-8")
        pin_file = secrets / "nic_sms_pin"
        pin_file.write_text(NIC_PIN + "\n", encoding="utf-8")
        smtp_password = secrets / "smtp_password"
        smtp_password.write_text("unused-local-smtp-password\n", encoding="utf-8")

        # 1. The SMS bridge first: its port goes into the Alertmanager and Prometheus configs.
        bridge_cfg = render_smsbridge(
            self.root / "smsbridge",
            gateway=self.world.gateway.url,
            token_file=token_file,
            pin_file=pin_file,
            outbox=self.root / "smsbridge" / "outbox.sqlite3",
        )
        self.bridge = Proc(
            "smsbridge",
            [
                sys.executable,
                "-m",
                "smsbridge",
                "run",
                "--config",
                str(bridge_cfg),
                "--listen",
                f"{HOST}:0",
            ],
            self.root / "smsbridge.log",
        )
        await self.bridge.start()
        port = await wait_until(
            self._bridge_port,
            within=20,
            what="the SMS bridge to listen",
            describe=lambda: self.bridge.tail(10) if self.bridge else "",
        )
        self.bridge_url = f"http://{HOST}:{port}"

        # 2. Two Alertmanagers, each peering with the other.
        ports = [(free_port(), free_port()) for _ in range(2)]
        am_cfg = render_alertmanager(
            self.root / "alertmanager",
            smtp=f"{HOST}:{self.world.smtp.port}",
            webhook=f"{self.bridge_url}/alertmanager",
            heartbeat=f"{self.bridge_url}/heartbeat",
            token_file=token_file,
            smtp_password_file=smtp_password,
            timing=self.timing,
        )
        for i, (web_port, cluster_port) in enumerate(ports):
            other = ports[1 - i][1]
            data = self.root / f"alertmanager-{i + 1}-data"
            data.mkdir(exist_ok=True)
            args = [
                alertmanager_bin,
                f"--config.file={am_cfg}",
                f"--storage.path={data}",
                f"--web.listen-address={HOST}:{web_port}",
                f"--web.external-url=http://{HOST}:{web_port}",
                f"--cluster.listen-address={HOST}:{cluster_port}",
                f"--cluster.advertise-address={HOST}:{cluster_port}",
                f"--cluster.peer={HOST}:{other}",
                "--log.level=debug",
            ]
            if self.timing.peer_timeout:
                args.append(f"--cluster.peer-timeout={self.timing.peer_timeout}")
            if self.timing.gossip_interval:
                args.append(f"--cluster.gossip-interval={self.timing.gossip_interval}")
            node = AlertmanagerNode(
                index=i + 1,
                web_port=web_port,
                cluster_port=cluster_port,
                proc=Proc(f"alertmanager-{i + 1}", args, self.root / f"alertmanager-{i + 1}.log"),
                url=f"http://{HOST}:{web_port}",
            )
            self.alertmanagers.append(node)
            await node.proc.start()

        # 3. Prometheus with the repository's rules.
        prom_port = free_port()
        self.prometheus_url = f"http://{HOST}:{prom_port}"
        prom_cfg = render_prometheus(
            self.root / "prometheus",
            exporters=[exp.url.split("://", 1)[1] for exp in self.world.exporters.values()],
            bridge=f"{HOST}:{port}",
            alertmanagers=(self.alertmanagers[0].address, self.alertmanagers[1].address),
            prometheus=f"{HOST}:{prom_port}",
            timing=self.timing,
        )
        self.prometheus = Proc(
            "prometheus",
            [
                prometheus_bin,
                f"--config.file={prom_cfg}",
                f"--storage.tsdb.path={self.root / 'prometheus-data'}",
                f"--web.listen-address={HOST}:{prom_port}",
                f"--web.external-url={self.prometheus_url}",
            ],
            self.root / "prometheus.log",
        )
        await self.prometheus.start()
        for url, proc in [(self.prometheus_url, self.prometheus)] + [
            (am.url, am.proc) for am in self.alertmanagers
        ]:
            await wait_until(
                functools.partial(self._ready, url, proc),
                within=30,
                what=f"{proc.name} to be ready",
                describe=functools.partial(proc.tail, 15),
            )

    def _bridge_port(self) -> int | None:
        assert self.bridge is not None
        if not self.bridge.running:
            raise HarnessError(f"the SMS bridge exited:\n{self.bridge.tail(30)}")
        try:
            text = self.bridge.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if isinstance(rec, dict) and rec.get("msg") == "sms bridge listening":
                    return int(rec["port"])
        return None

    async def _ready(self, url: str, proc: Proc) -> bool:
        if not proc.running:
            raise HarnessError(f"{proc.name} exited:\n{proc.tail(30)}")
        try:
            r = await self.client.get(f"{url}/-/ready")
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    async def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(Exception):
                await proc.stop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- Alertmanager cluster --------------------------------------------------------

    async def am_status(self, node: AlertmanagerNode) -> dict[str, Any]:
        r = await self.client.get(f"{node.url}/api/v2/status")
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    async def cluster_ready(self) -> bool:
        for node in self.alertmanagers:
            if not node.proc.running:
                return False
            try:
                st = (await self.am_status(node)).get("cluster", {})
            except httpx.HTTPError:
                return False
            if st.get("status") != "ready" or len(st.get("peers") or []) != 2:
                return False
        return True

    async def am_alerts(self, node: AlertmanagerNode) -> list[dict[str, Any]]:
        r = await self.client.get(f"{node.url}/api/v2/alerts")
        r.raise_for_status()
        data: list[dict[str, Any]] = r.json()
        return data

    # -- Prometheus ------------------------------------------------------------------

    async def query(self, expr: str) -> list[dict[str, Any]]:
        r = await self.client.get(f"{self.prometheus_url}/api/v1/query", params={"query": expr})
        r.raise_for_status()
        body = r.json()
        if body.get("status") != "success":
            raise HarnessError(f"query {expr!r} failed: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def alerts(self, state: str | None = None) -> list[dict[str, str]]:
        """Active alerts in Prometheus (labels plus alertstate), except the Watchdog, which
        fires always (see `watchdog_firing`)."""
        sel = 'alertname!="Watchdog"' + (f',alertstate="{state}"' if state else "")
        return [r["metric"] for r in await self.query(f"ALERTS{{{sel}}}")]

    async def watchdog_firing(self) -> bool:
        """The always-firing Watchdog is firing: the rules are loaded and evaluated."""
        return bool(await self.query('ALERTS{alertname="Watchdog",alertstate="firing"}'))

    async def ever_fired(self, alertname: str, window_s: float) -> list[dict[str, str]]:
        sel = f'ALERTS{{alertname="{alertname}",alertstate="firing"}}'
        expr = f"max_over_time({sel}[{int(window_s) + 1}s])"
        return [r["metric"] for r in await self.query(expr)]

    async def baseline_ok(self) -> bool:
        """Prometheus sees every target healthy from every vantage, the Watchdog firing
        and no other alert at all."""
        up = await self.query("up == 0")
        if up:
            return False
        healthy = await self.query("target:parichay_probe_success:max_network_healthy == 1")
        targets = {r["metric"].get("target") for r in healthy}
        wanted = {
            t
            for v in self.world.exporters
            for t, role, _ in self.world.targets_of(v)
            if role in ("sso", "app")
        }
        if targets != wanted:
            return False
        controls = await self.query("vantage:parichay_control_probe_success:max == 1")
        if {r["metric"].get("vantage") for r in controls} != set(self.world.exporters):
            return False
        # A heartbeat the bridge refuses (its /heartbeat is being added in parallel; also
        # while it starts) makes AlertmanagerNotificationsFailing pend. Its `for: 5m` cannot
        # end within a scenario, so pending it does not spoil the baseline; firing it would.
        others = [
            a
            for a in await self.alerts()
            if not (
                a.get("alertstate") == "pending"
                and a.get("alertname") == "AlertmanagerNotificationsFailing"
            )
        ]
        return await self.watchdog_firing() and not others

    async def wait_ready(self, *, within: float = 60.0) -> None:
        """Everything up, the cluster settled, a clean healthy baseline in Prometheus."""
        await self.world.wait_healthy(within=within)
        await wait_until(
            self.cluster_ready,
            within=within,
            what="the Alertmanager cluster to settle",
            describe=lambda: "\n".join(am.proc.tail(10) for am in self.alertmanagers),
        )
        await wait_until(
            self.baseline_ok,
            within=within,
            what="a healthy baseline in Prometheus (all up, no ALERTS)",
            describe=self._baseline_state,
        )

    def _baseline_state(self) -> str:
        return f"unhealthy probes: {self.world.unhealthy()}"

    def logs(self, lines: int = 80) -> list[tuple[str, str]]:
        return [(f"{p.name} log (pid {p.pid})", p.tail(lines)) for p in self.procs]

    async def sender_position(self) -> dict[int, int]:
        """Alertmanager index -> its position in the cluster (0 notifies first)."""
        names: dict[int, str] = {}
        peers: list[str] = []
        for node in self.alertmanagers:
            st = (await self.am_status(node))["cluster"]
            names[node.index] = st["name"]
            peers = sorted(p["name"] for p in st["peers"])
        return {i: peers.index(n) for i, n in names.items()}


# --------------------------------------------------------------------------- pages


@dataclass(frozen=True, slots=True)
class Page:
    """The SMS and emails of one notification (one alert group, one status)."""

    alertname: str
    status: str
    sms: tuple[Sms, ...]
    mails: tuple[Mail, ...]

    @property
    def sms_at(self) -> float:
        """When the last SMS the bridge owed for this notification reached the gateway."""
        return max(s.at for s in self.sms)

    @property
    def mail_at(self) -> float:
        return min(m.at for m in self.mails)

    @property
    def last_at(self) -> float:
        return max(self.sms_at, self.mail_at)


def expected_sms(
    *, scope: str, status: str, plan: BridgePlan | None = None
) -> set[tuple[str, str]]:
    """(number, DLT template id) pairs config/smsbridge.yml's routes owe for one page.

    Route on-call-pages: every severity=page, both templates, RESOLVED if it got the FIRING;
    route director-central: scope=central, Hindi only, never RESOLVED.
    """
    plan = plan or bridge_plan()
    owed = {(n, t) for n in plan.oncall for t in (plan.template_en, plan.template_hi)}
    if scope == "central" and status == "FIRING":
        owed |= {(n, plan.template_hi) for n in plan.director}
    return owed


def page_of(world: World, alertname: str, status: str) -> Page:
    return Page(
        alertname=alertname,
        status=status,
        sms=tuple(world.sms_for(alertname, status)),
        mails=tuple(world.mails_for(alertname, status)),
    )


async def wait_for_page(
    world: World, alertname: str, *, scope: str, status: str = "FIRING", within: float
) -> Page:
    """Wait until every SMS owed for this notification and its email have arrived."""
    owed = expected_sms(scope=scope, status=status)

    def complete() -> Page | None:
        page = page_of(world, alertname, status)
        got = {(s.number, s.template_id) for s in page.sms}
        return page if owed <= got and page.mails else None

    result: Page = await wait_until(
        complete,
        within=within,
        what=f"the {status} {alertname} SMS and email",
        describe=world.inbox,
    )
    return result


def exactly_once_problems(world: World, alertname: str, *, scope: str, status: str) -> list[str]:
    """Anything but one SMS per owed (number, template) and one email for this notification."""
    owed = expected_sms(scope=scope, status=status)
    page = page_of(world, alertname, status)
    problems = []
    counts: dict[tuple[str, str], int] = {}
    for s in page.sms:
        counts[(s.number, s.template_id)] = counts.get((s.number, s.template_id), 0) + 1
    for key in sorted(owed | set(counts)):
        n = counts.get(key, 0)
        if key not in owed:
            problems.append(f"SMS to {key[0]} with template {key[1]} was not owed ({n}x)")
        elif n != 1:
            problems.append(f"SMS to {key[0]} with template {key[1]} arrived {n}x")
    if len(page.mails) != 1:
        problems.append(f"{len(page.mails)} {status} {alertname} emails arrived, expected 1")
    return problems


def unexpected(world: World, allowed: set[str]) -> list[str]:
    """Every SMS or email received for an alert other than `allowed`."""
    out = [f"SMS: {s.brief()}" for s in world.gateway.sms if s.alertname not in allowed]
    out += [f"email: {m.brief()}" for m in world.smtp.mails if m.alertname not in allowed]
    return out


async def sleep_until(deadline: float) -> None:
    """Sleep (without blocking the loop) until time.monotonic() reaches `deadline`."""
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
