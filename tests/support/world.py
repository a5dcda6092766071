"""The long-lived part of the end-to-end chain: simulator, network paths, exporters, inboxes.

`World` (in the caller's event loop, bound to 127.0.0.1 on ports chosen at run time): the
simulator (fake Parichay and e-Office), a neutral "public site" for control targets
(`ControlSite`), one TCP path per vantage (`VantagePath`: `Forwarder`s that can be cut, or
told to reset the next connection), one in-process exporter per vantage, a real SMTP
server and the SMS-gateway stand-in (`tests/support/sinks.py`). Anything in-process only
serves while the event loop runs: every wait here is a coroutine.

The pages of a notification (`Page`, `wait_for_page`, `exactly_once_problems`) are what
the tests and `bench/time_to_page.py` assert on.

Example::

    async with World(tmp, timing=E2E) as world:
        async with AlertingStack(world, tmp / "run1", timing=E2E) as stack:
            await stack.wait_ready()
            world.sim.set_fault("sso", "http_503")
            await wait_for_page(world, "ParichayDown", scope="central", within=30)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from exporter.app import Exporter
from exporter.config import load_config
from exporter.demo import LOGIN_STEPS, indent
from simulator import Simulator
from tests.support.layout import (
    APP_TARGET,
    CONTROL_TARGETS,
    LOGIN_TARGET,
    LOGIN_VANTAGE,
    ORG,
    SSO_TARGET,
    VANTAGES,
)
from tests.support.metrics import Metrics, parse
from tests.support.net import HOST, LoopbackService, serve_app
from tests.support.sinks import GatewayStandIn, Mail, Sms, SmtpSink
from tests.support.stack import BridgePlan, bridge_plan, substitute
from tests.support.timing import Timing, wait_until

# --------------------------------------------------------------------------- network paths


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


class ControlSite(LoopbackService):
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
        self._runner, url = await serve_app(app)
        self.port = int(url.rsplit(":", 1)[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


# --------------------------------------------------------------------------- exporters


EXPORTER_CONFIG_TEMPLATE = """\
# Written by tests/support/world.py: the targets of config/exporter.yml (one SSO page, the
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


class World(LoopbackService):
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
            # model_copy skips validation on purpose: it is what lets the interval go below 60 s.
            targets = tuple(
                t.model_copy(
                    update={
                        "interval": self.timing.login_interval,
                        "timeout": self.timing.login_timeout,
                    }
                )
                if t.kind == "login"
                else t
                for t in config.targets
            )
            config = config.model_copy(update={"targets": targets})
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

    def metrics(self, vantage: str) -> Metrics:
        """What `vantage`'s exporter serves on /metrics now (the handler's own text)."""
        return parse(b"".join(self.exporters[vantage].metrics_parts()))

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
        return self.metrics(vantage).value(metric, base)

    def failures(self, vantage: str, target: str) -> float:
        """Failed probes of `target` from `vantage` so far (all reasons)."""
        assert self.exporters[vantage].config.target(target) is not None
        samples = self.metrics(vantage).matching("parichay_probes_total", target=target)
        return sum(s.value for s in samples if s.labels.get("result") != "success")

    def unhealthy(self) -> list[str]:
        """Every (vantage, target) whose last probe did not pass (empty = all healthy)."""
        bad = []
        for vantage in self.exporters:
            for target, _, _ in self.targets_of(vantage):
                if self.probe_value(vantage, target) != 1.0:
                    bad.append(f"{vantage}/{target}")
        return bad

    def login_successes(self) -> float:
        value = self.metrics(LOGIN_VANTAGE).value(
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
