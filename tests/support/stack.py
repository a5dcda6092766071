"""Real Prometheus and Alertmanager processes for tests: one launcher per binary.

`Prometheus` and `Alertmanager` start the pinned binaries (`tools/fetch-binaries`) on
loopback with their output in a log file, wait for `/-/ready`, and stop them by PID only.
Every test that needs one uses these: the end-to-end chain, the rule and routing tests,
the SMS bridge's Alertmanager tests, the dashboards' queries and the status page.

`AlertingStack` is the end-to-end chain of one scenario: Prometheus, two clustered
Alertmanagers and the SMS bridge, configured from the repository's own files with only
addresses, intervals, `for:` durations and group timings substituted (`render_*`; every
substitution must match the expected number of times, so a change in those files cannot
turn it into a silent no-op).

Example::

    async with Alertmanager(config=cfg, storage=tmp / "am", log=tmp / "am.log") as am:
        await am.post_alerts([{"labels": {"alertname": "X"}}])
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tests.support import reaper
from tests.support.binaries import binary_path
from tests.support.layout import (
    ALERTMANAGER_DIR,
    NIC_PIN,
    PROMETHEUS_DIR,
    SMSBRIDGE_CONFIG,
    WEBHOOK_TOKEN,
)
from tests.support.net import HOST, LoopbackService, free_port
from tests.support.timing import HarnessError, Timing, wait_until

if TYPE_CHECKING:
    from tests.support.world import World


# --------------------------------------------------------------------------- processes


class Proc:
    """A real subprocess with its output in a log file; stopped by its PID, never by name."""

    def __init__(
        self, name: str, args: list[str], log: Path, *, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.args = args
        self.log = log
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def spawn(self) -> None:
        """Start the process (no waiting); its output is appended to `log`."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            # Dies with the run: the parent-death signal, and `reaper.kill_all` at exit.
            self.process = reaper.popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=self.env,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def stop(self, *, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; only this process, by its PID."""
        await asyncio.to_thread(self.stop_sync, grace=grace)

    def stop_sync(self, *, grace: float = 10.0) -> None:
        """`stop` for synchronous tests."""
        p = self.process
        if p is None or p.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
            p.wait()

    async def kill(self) -> None:
        """SIGKILL: the process dies without any goodbye (no cluster leave, no snapshot)."""
        p = self.process
        if p is None or p.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGKILL)
        await asyncio.to_thread(p.wait)

    def output(self) -> str:
        """Everything the process wrote so far."""
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 60) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.output().splitlines()[-lines:])


class Server(Proc, LoopbackService):
    """A `Proc` serving HTTP on a loopback port that answers `GET /-/ready` once it is up."""

    def __init__(self, name: str, args: list[str], log: Path, *, port: int) -> None:
        super().__init__(name, args, log)
        self.port = port
        self.url = f"http://{HOST}:{port}"

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise HarnessError(f"{self.name} exited:\n{self.tail(30)}")

    async def wait_ready(self, *, within: float = 60.0) -> None:
        """Until `/-/ready` answers 200; HarnessError (with the log) if it exits or times out."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            while True:
                self._check_alive()
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/-/ready")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise HarnessError(
                        f"{self.name} not ready within {within:g} s:\n{self.tail(30)}"
                    )
                await asyncio.sleep(0.1)

    def wait_ready_sync(self, *, within: float = 60.0) -> None:
        """`wait_ready` for synchronous tests (the process belongs to no event loop)."""
        asyncio.run(self.wait_ready(within=within))

    async def start(self, *, within: float = 60.0) -> None:
        """Spawn and wait until ready; stopped again if it never gets there."""
        self.spawn()
        try:
            await self.wait_ready(within=within)
        except BaseException:
            await self.stop()
            raise

    def start_sync(self, *, within: float = 60.0) -> None:
        """`start` for synchronous tests."""
        self.spawn()
        try:
            self.wait_ready_sync(within=within)
        except BaseException:
            self.stop_sync()
            raise


class Prometheus(Server):
    """The pinned `prometheus` on a loopback port (a free one unless given)."""

    def __init__(
        self,
        *,
        config: Path,
        data: Path,
        log: Path,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        name: str = "prometheus",
    ) -> None:
        port = port or free_port()
        args = [
            binary_path("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address={HOST}:{port}",
            f"--web.external-url=http://{HOST}:{port}",
            *extra_args,
        ]
        super().__init__(name, args, log, port=port)


class Alertmanager(Server):
    """The pinned `prometheus-alertmanager` on a loopback port, startable again on its data.

    Without `cluster_port` it runs alone (`--cluster.listen-address=`); with it, it gossips
    with `peers` (`host:port` of their cluster ports).
    """

    def __init__(
        self,
        *,
        config: Path,
        storage: Path,
        log: Path,
        port: int | None = None,
        cluster_port: int | None = None,
        peers: Sequence[str] = (),
        extra_args: Sequence[str] = (),
        name: str = "alertmanager",
    ) -> None:
        port = port or free_port()
        args = [
            binary_path("prometheus-alertmanager"),
            f"--config.file={config}",
            f"--storage.path={storage}",
            f"--web.listen-address={HOST}:{port}",
            f"--web.external-url=http://{HOST}:{port}",
        ]
        if cluster_port is None:
            args.append("--cluster.listen-address=")
        else:
            args += [
                f"--cluster.listen-address={HOST}:{cluster_port}",
                f"--cluster.advertise-address={HOST}:{cluster_port}",
            ]
            args += [f"--cluster.peer={peer}" for peer in peers]
        super().__init__(name, [*args, *extra_args], log, port=port)

    async def post_alerts(self, alerts: list[dict[str, object]]) -> None:
        """Push alerts as Prometheus would (labels, annotations, startsAt, endsAt)."""
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            response = await client.post(f"{self.url}/api/v2/alerts", json=alerts)
            response.raise_for_status()


# --------------------------------------------------------------------------- configs


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
    statuspage: str | None = None,
) -> Path:
    """Write prometheus.yml and rules/ under `dest`; returns the config path.

    Addresses: `exporter:10071` (one line per vantage), `smsbridge:10072`,
    `alertmanager-1:9093` / `alertmanager-2:9093` (alerting and scrape), `localhost:9090`,
    and the status page's scrape target `statuspage:10073` (its job is left out when no
    status page runs: it would only fail and page ExporterDown).
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
    if statuspage is None:
        text = substitute_re(
            text, r"^  - job_name: statuspage\n(?:    .*\n)+", "", count=1, where=where
        )
    else:
        text = substitute_re(
            text, r"^(\s*- )statuspage:10073$", rf"\g<1>{statuspage}", count=1, where=where
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
    if timing.heartbeat_every:
        text = substitute_re(
            text,
            r'(- matchers: \[alertname="Watchdog"\]\n(?:      .*\n)*?)'
            r"      group_interval: 1m\n      repeat_interval: 1m\n",
            rf"\g<1>      group_interval: {timing.heartbeat_every}\n"
            rf"      repeat_interval: {timing.heartbeat_every}\n",
            count=1,
            where=where,
        )
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
    dest: Path,
    *,
    gateway: str,
    token_file: Path,
    pin_file: Path,
    outbox: Path,
    smtp: str,
    heartbeat_silence: str | None = None,
) -> Path:
    """Write the bridge config: config/smsbridge.yml with the gateway URLs (primary and
    secondary -> the stand-in), the token and pin files, the outbox path and the SMTP relay
    (`smtp`, host:port of the local aiosmtpd, which speaks plain SMTP without STARTTLS or
    AUTH, so `tls: none` and no login, as for the demo's mail catcher) substituted.
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
    host, _, port = smtp.rpartition(":")
    text = substitute_re(
        text,
        r"^  host: smtp\.itda\.example\.gov\.in\n  port: 587\n  tls: starttls .*\n"
        r"  username: parichay-alerts\n  password_file: /run/secrets/smtp_password\n",
        f"  host: {host}\n  port: {port}\n  tls: none\n",
        count=1,
        where=where,
    )
    if heartbeat_silence:
        text = substitute(
            text, "  silence: 5m\n", f"  silence: {heartbeat_silence}\n", count=1, where=where
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


# --------------------------------------------------------------------------- the chain


@dataclass
class AlertmanagerNode:
    index: int
    web_port: int
    cluster_port: int
    proc: Alertmanager
    url: str = ""

    @property
    def address(self) -> str:
        return f"{HOST}:{self.web_port}"


@dataclass
class AlertingStack(LoopbackService):
    """Prometheus, two clustered Alertmanagers and the SMS bridge for one scenario/run."""

    world: World
    root: Path
    timing: Timing
    prometheus: Prometheus | None = None
    prometheus_url: str = ""
    alertmanagers: list[AlertmanagerNode] = field(default_factory=list)
    bridge: Proc | None = None
    bridge_url: str = ""
    # host:port where a status page will listen (Prometheus scrapes it); None: no page.
    statuspage: str | None = None
    _client: httpx.AsyncClient | None = None

    @property
    def procs(self) -> list[Proc]:
        out: list[Proc] = [p for p in (self.prometheus,) if p is not None]
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
        # Fail before starting anything when a pinned binary is missing.
        for name in ("prometheus", "prometheus-alertmanager"):
            binary_path(name)
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
            smtp=f"{HOST}:{self.world.smtp.port}",
            heartbeat_silence=self.timing.heartbeat_silence,
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
        self.bridge.spawn()
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
            extra = ["--log.level=debug"]
            if self.timing.peer_timeout:
                extra.append(f"--cluster.peer-timeout={self.timing.peer_timeout}")
            if self.timing.gossip_interval:
                extra.append(f"--cluster.gossip-interval={self.timing.gossip_interval}")
            proc = Alertmanager(
                name=f"alertmanager-{i + 1}",
                config=am_cfg,
                storage=data,
                log=self.root / f"alertmanager-{i + 1}.log",
                port=web_port,
                cluster_port=cluster_port,
                peers=[f"{HOST}:{other}"],
                extra_args=extra,
            )
            node = AlertmanagerNode(
                index=i + 1,
                web_port=web_port,
                cluster_port=cluster_port,
                proc=proc,
                url=proc.url,
            )
            self.alertmanagers.append(node)
            node.proc.spawn()

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
            statuspage=self.statuspage,
        )
        self.prometheus = Prometheus(
            config=prom_cfg,
            data=self.root / "prometheus-data",
            log=self.root / "prometheus.log",
            port=prom_port,
            extra_args=(
                [f"--rules.alert.resend-delay={self.timing.alert_resend_delay}"]
                if self.timing.alert_resend_delay
                else []
            ),
        )
        self.prometheus.spawn()
        servers: list[tuple[str, Server]] = [(self.prometheus_url, self.prometheus)]
        servers += [(am.url, am.proc) for am in self.alertmanagers]
        for url, server in servers:
            await wait_until(
                functools.partial(self._ready, url, server),
                within=30,
                what=f"{server.name} to be ready",
                describe=functools.partial(server.tail, 15),
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
