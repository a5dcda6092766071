"""The checks of tools/compose-smoke, made through the running containers of the demo stack.

tools/compose-smoke builds the images, starts the compose `demo` profile and then runs

    compose_smoke.py wait-healthy --project P --timeout 300 SERVICE...
    compose_smoke.py check --project P --report-dir DIR --timings FILE

`wait-healthy` returns once every named service has a running container whose health check
passes (a one-shot job without a check: exited 0), read from the container engine's API
(DOCKER_HOST, as compose reads it). `check` then asks the stack itself: Prometheus on its
published port (every scrape target up, every rule group of prometheus/rules loaded and
evaluated without error), both Alertmanagers (one gossip cluster of two; member 2 through
`ENGINE exec`, it publishes no port), then injects a Parichay outage into the simulator's
fault API and waits for the page: one SMS per on-call number and language at the stand-in
gateway (its GET /messages, read inside its container), one email at the mail catcher
(Mailpit's /api/v1/messages) and "ITDA has been alerted" on the status page; it runs the
monthly report inside the status page's container (`ENGINE exec ... parichay-status report`)
and reads the PDF's Hindi back with pdftotext; after recovery, exactly one RESOLVED of each
(the RESOLVED email comes from the SMS bridge, the FIRING one from Alertmanager).
Every wait is bounded; each failed check is reported and the others still run; exit status
1 if any failed. Timings go to stdout and, as `key=seconds` lines, to --timings.

Standard library and httpx only (it runs from the project's virtualenv on the host).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO = Path(__file__).resolve().parents[1]
IST = timezone(timedelta(hours=5, minutes=30), "IST")

PROMETHEUS = "http://127.0.0.1:9090"
ALERTMANAGER_1 = "http://127.0.0.1:9093"
FAULTS = "http://127.0.0.1:8090/_sim/faults/sso"
MAILPIT = "http://127.0.0.1:8025"
STATUSPAGE = "http://127.0.0.1:10073"

SMS_GATEWAY = "sms-gateway"
ALERTMANAGER_2 = "alertmanager-2-demo"
STATUSPAGE_SERVICE = "statuspage-demo"
REPORT_OUT = "/tmp/compose-smoke-report"  # inside the status page container
ALERT = "ParichayDown"  # what a Parichay outage pages with (prometheus/rules/availability.yml)
ALERTED = "ITDA has been alerted"  # servicekit/phrasebook.py's ITDA_ALERTED
# After the first notification, how long a duplicate from the other Alertmanager member
# could still come: a member waits 15 s per position in the cluster before it notifies.
SETTLE = 20.0

# The texts of deploy/smsbridge-demo.yml's alert_en and alert_hi templates.
_SMS_EN = re.compile(r"^ITDA ALERT (FIRING|RESOLVED): .*? - (\w+) \(")
_SMS_HI = re.compile(r"^ITDA चेतावनी (चालू|समाप्त): .*? - (\w+) ")
# alertmanager/templates/parichay.tmpl's subject: "[FIRING] PAGE ParichayDown | scope: ..."
_SUBJECT = re.compile(r"^\[(FIRING|RESOLVED)(?: x\d+)?\] \S+ (\w+) ")

T = TypeVar("T")


class CheckFailed(Exception):
    """One check of the stack did not hold; the message says what was seen."""


def say(message: str) -> None:
    print(f"compose-smoke: {message}", flush=True)


def wait_for(what: str, probe: Callable[[], T | None], *, timeout: float, every: float = 2.0) -> T:
    """Call `probe` until it returns a value; CheckFailed after `timeout` seconds.

    `probe` may raise CheckFailed to say what it sees; the last such message is reported."""
    deadline = time.monotonic() + timeout
    seen = "nothing yet"
    while True:
        try:
            value = probe()
        except (CheckFailed, httpx.HTTPError, OSError, ValueError, KeyError) as exc:
            value, seen = None, str(exc) or type(exc).__name__
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise CheckFailed(f"{what}: not within {timeout:.0f} s; last seen: {seen}")
        time.sleep(every)


# --------------------------------------------------------------------------- the engine


@dataclass(frozen=True, slots=True)
class Container:
    id: str
    name: str
    service: str
    state: str  # running, exited, ...
    health: str  # healthy, unhealthy, starting, or "" without a health check
    exit_code: int

    @property
    def ready(self) -> bool:
        """Running and healthy, or a one-shot job (no health check) that exited 0."""
        if self.state == "running":
            return self.health in ("healthy", "")
        return self.state == "exited" and self.exit_code == 0 and not self.health

    @property
    def failed(self) -> bool:
        """Exited, and not as a successful one-shot job: waiting longer will not help."""
        return self.state in ("exited", "dead") and not self.ready


class Engine:
    """The Docker Engine API that compose talks to (DOCKER_HOST), and the CLI for exec.

    Exec goes through the CLI (`podman exec`, `docker exec`): podman 4.3's Docker API
    keeps a conmon process alive for five minutes after every API exec."""

    def __init__(self, *, project: str, cli: str) -> None:
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        if not host.startswith("unix://"):
            raise SystemExit(f"compose_smoke: DOCKER_HOST={host}: only unix:// sockets")
        self.project = project
        self.cli = cli
        self.api = httpx.Client(
            transport=httpx.HTTPTransport(uds=host.removeprefix("unix://")),
            base_url="http://engine",
            timeout=30,
            trust_env=False,
        )

    def containers(self) -> list[Container]:
        label = f"com.docker.compose.project={self.project}"
        listed = self.api.get(
            "/containers/json", params={"all": "1", "filters": json.dumps({"label": [label]})}
        )
        listed.raise_for_status()
        out = []
        for item in listed.json():
            labels = item.get("Labels") or {}
            if labels.get("com.docker.compose.oneoff") == "True":
                continue  # `compose run` containers (the report) are not services
            detail = self.api.get(f"/containers/{item['Id']}/json")
            detail.raise_for_status()
            state = detail.json()["State"]
            out.append(
                Container(
                    id=item["Id"],
                    name=detail.json()["Name"].lstrip("/"),
                    service=labels.get("com.docker.compose.service", ""),
                    state=state.get("Status", ""),
                    health=(state.get("Health") or {}).get("Status", ""),
                    exit_code=int(state.get("ExitCode") or 0),
                )
            )
        return out

    def container(self, service: str) -> Container:
        found = [c for c in self.containers() if c.service == service]
        if len(found) != 1:
            raise CheckFailed(f"expected one running {service} container, found {len(found)}")
        return found[0]

    def exec(self, service: str, *argv: str, timeout: float = 30) -> str:
        name = self.container(service).name
        proc = subprocess.run(
            [self.cli, "exec", name, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise CheckFailed(
                f"{self.cli} exec {name}: exit {proc.returncode}: {proc.stderr[-300:]}"
            )
        return proc.stdout


class Fatal(Exception):
    """A state no amount of waiting changes (a service exited)."""


def wait_healthy(engine: Engine, services: list[str], *, timeout: float) -> None:
    """Until every service is running and healthy (a one-shot job: exited 0)."""

    def probe() -> bool | None:
        by_service = {c.service: c for c in engine.containers()}
        pending = []
        for name in services:
            c = by_service.get(name)
            if c is not None and c.failed:
                raise Fatal(f"{name} exited with code {c.exit_code} ({c.health or 'no check'})")
            if c is None or not c.ready:
                state = "missing" if c is None else f"{c.state} {c.health}".strip()
                pending.append(f"{name} ({state})")
        if pending:
            raise CheckFailed("waiting for " + ", ".join(pending))
        return True

    wait_for("every service healthy", probe, timeout=timeout, every=2.0)


# --------------------------------------------------------------------------- what ships


def scrape_targets() -> set[str]:
    """Every host:port prometheus/prometheus.yml scrapes (static_configs)."""
    text = (REPO / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    jobs = text.split("scrape_configs:", 1)[1]
    return set(re.findall(r"^\s+- ([\w.-]+:\d+)\s*$", jobs, flags=re.M))


def rule_groups() -> dict[tuple[str, str], int]:
    """(file name, group name) -> number of rules, for prometheus/rules/*.yml."""
    out: dict[tuple[str, str], int] = {}
    for path in sorted((REPO / "prometheus" / "rules").glob("*.yml")):
        group = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if m := re.match(r"^\s*- name:\s*['\"]?([\w:.-]+)", line):
                group = (path.name, m.group(1))
                out[group] = 0
            elif group is not None and re.match(r"^\s*- (alert|record):", line):
                out[group] += 1
    return out


def oncall_numbers() -> set[str]:
    """The phone numbers of deploy/smsbridge-demo.yml's recipients."""
    text = (REPO / "deploy" / "smsbridge-demo.yml").read_text(encoding="utf-8")
    return set(re.findall(r"number:\s*\"(\+\d+)\"", text))


# --------------------------------------------------------------------------- sinks


@dataclass(frozen=True, slots=True)
class Note:
    """One notification as a sink received it: SMS (per number and language) or email."""

    at: float  # epoch seconds, as the sink stamped it
    kind: str  # "sms en", "sms hi", "email"
    to: str
    status: str  # FIRING / RESOLVED / OTHER
    alertname: str

    def brief(self) -> str:
        return f"{self.kind} {self.status} {self.alertname or '?'} to {self.to}"


def parse_sms(raw: dict[str, Any]) -> Note:
    text = str(raw.get("text") or "")
    kind, status, alertname = "sms ?", "OTHER", ""
    if m := _SMS_EN.match(text):
        kind, status, alertname = "sms en", m.group(1), m.group(2)
    elif m := _SMS_HI.match(text):
        kind, alertname = "sms hi", m.group(2)
        status = "FIRING" if m.group(1) == "चालू" else "RESOLVED"
    return Note(float(raw["received_at"]), kind, str(raw.get("to")), status, alertname)


def parse_mail(raw: dict[str, Any]) -> Note:
    m = _SUBJECT.match(str(raw.get("Subject") or ""))
    to = ",".join(a.get("Address", "") for a in raw.get("To") or [])
    created = datetime.fromisoformat(str(raw["Created"]).replace("Z", "+00:00"))
    status, alertname = (m.group(1), m.group(2)) if m else ("OTHER", "")
    return Note(created.timestamp(), "email", to, status, alertname)


def sent_sms(engine: Engine) -> list[Note]:
    # The gateway publishes no port: ask it from inside its own container.
    code = (
        "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
        "'http://127.0.0.1:9480/messages', timeout=5).read().decode())"
    )
    answer = json.loads(engine.exec(SMS_GATEWAY, "python", "-c", code))
    return [parse_sms(m) for m in answer["messages"]]


def caught_mail(http: httpx.Client) -> list[Note]:
    answer = http.get(f"{MAILPIT}/api/v1/messages", params={"limit": "500"})
    answer.raise_for_status()
    return [parse_mail(m) for m in answer.json()["messages"]]


def expected_notes(numbers: set[str]) -> list[tuple[str, str]]:
    """(kind, to) of one page: an SMS per number and language, one email (any address)."""
    return [(kind, n) for n in sorted(numbers) for kind in ("sms en", "sms hi")] + [("email", "")]


def matching(notes: list[Note], kind: str, to: str, status: str, since: float) -> list[Note]:
    return [
        n
        for n in notes
        if n.kind == kind
        and (not to or n.to == to)
        and n.status == status
        and n.alertname == ALERT
        and n.at >= since
    ]


# --------------------------------------------------------------------------- the checks


@dataclass
class Run:
    engine: Engine
    http: httpx.Client
    report_dir: Path
    timings: Path | None
    failures: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)

    def step(self, name: str, check: Callable[[], str]) -> bool:
        started = time.monotonic()
        try:
            said = check()
        except CheckFailed as exc:
            self.failures.append(f"{name}: {exc}")
            say(f"FAILED {name}: {exc}")
            return False
        say(f"ok     {name}: {said} ({time.monotonic() - started:.1f} s)")
        return True

    def figure(self, key: str, seconds: float) -> None:
        self.figures[key] = seconds
        if self.timings is not None:
            with self.timings.open("a", encoding="utf-8") as out:
                out.write(f"{key}={seconds:.1f}\n")

    # -- Prometheus ---------------------------------------------------------------------

    def prometheus_targets(self) -> str:
        wanted = scrape_targets()

        def probe() -> str | None:
            answer = self.http.get(f"{PROMETHEUS}/api/v1/targets", params={"state": "active"})
            answer.raise_for_status()
            active = answer.json()["data"]["activeTargets"]
            health = {t["labels"]["instance"]: t["health"] for t in active}
            if set(health) != wanted:
                raise CheckFailed(f"targets {sorted(health)}, prometheus.yml has {sorted(wanted)}")
            down = {i: h for i, h in health.items() if h != "up"}
            if down:
                errors = {t["labels"]["instance"]: t.get("lastError") for t in active}
                raise CheckFailed(", ".join(f"{i} {h} ({errors[i]})" for i, h in down.items()))
            return f"{len(health)}/{len(wanted)} up ({', '.join(sorted(health))})"

        return wait_for("every scrape target up", probe, timeout=90)

    def prometheus_rules(self) -> str:
        wanted = rule_groups()

        def probe() -> str | None:
            answer = self.http.get(f"{PROMETHEUS}/api/v1/rules")
            answer.raise_for_status()
            groups = answer.json()["data"]["groups"]
            loaded = {(Path(g["file"]).name, g["name"]): len(g["rules"]) for g in groups}
            if loaded != wanted:
                missing = sorted(set(wanted.items()) ^ set(loaded.items()))
                raise CheckFailed(f"loaded (file, group): rules differ from the files: {missing}")
            bad = [
                f"{g['name']}/{r['name']}: {r.get('health')} {r.get('lastError', '')}".strip()
                for g in groups
                for r in g["rules"]
                if r.get("health") != "ok"
            ]
            if bad:
                raise CheckFailed(f"{len(bad)} rule(s) not evaluated ok, e.g. {bad[:3]}")
            return f"{len(loaded)} groups, {sum(loaded.values())} rules loaded and evaluated ok"

        return wait_for("every rule group loaded", probe, timeout=90)

    # -- Alertmanager -------------------------------------------------------------------

    def alertmanager_cluster(self) -> str:
        def member(raw: str, which: str) -> str:
            cluster = json.loads(raw)["cluster"]
            peers = sorted(p["name"] for p in cluster.get("peers") or [])
            if cluster.get("status") != "ready" or len(peers) != 2:
                raise CheckFailed(f"member {which}: {cluster.get('status')}, peers {peers}")
            return ",".join(peers)

        def probe() -> str | None:
            one = self.http.get(f"{ALERTMANAGER_1}/api/v2/status")
            one.raise_for_status()
            peers_1 = member(one.text, "1")
            raw_2 = self.engine.exec(
                ALERTMANAGER_2, "wget", "-q", "-O", "-", "http://127.0.0.1:9093/api/v2/status"
            )
            peers_2 = member(raw_2, "2")
            if peers_1 != peers_2:
                raise CheckFailed(f"member 1 sees {peers_1}, member 2 sees {peers_2}")
            return "both members ready, each sees the same 2 peers"

        return wait_for("one Alertmanager cluster of two", probe, timeout=90, every=3)

    # -- the page -------------------------------------------------------------------------

    def notes(self) -> list[Note]:
        return sent_sms(self.engine) + caught_mail(self.http)

    def set_fault(self, mode: str) -> float:
        at = time.time()
        answer = self.http.post(FAULTS, json={"mode": mode})
        if answer.status_code != 200:
            raise CheckFailed(f"fault API answered {answer.status_code}: {answer.text[:200]}")
        return at

    def wait_notes(self, status: str, since: float, numbers: set[str]) -> dict[str, float]:
        """Wait for every expected notification of `status`; kind -> seconds after `since`."""

        def probe() -> dict[str, float] | None:
            notes = self.notes()
            got: dict[str, float] = {}
            missing = []
            for kind, to in expected_notes(numbers):
                found = matching(notes, kind, to, status, since)
                if found:
                    got[f"{kind} {to}".strip()] = min(n.at for n in found) - since
                else:
                    missing.append(f"{kind} {to}".strip())
            if missing:
                raise CheckFailed(f"no {status} {ALERT} yet for: {', '.join(missing)}")
            return got

        return wait_for(f"{status} {ALERT} notifications", probe, timeout=240, every=2)

    def exactly_one(self, status: str, since: float, numbers: set[str]) -> str:
        notes = self.notes()
        counts = {
            f"{kind} {to}".strip(): len(matching(notes, kind, to, status, since))
            for kind, to in expected_notes(numbers)
        }
        wrong = {k: n for k, n in counts.items() if n != 1}
        if wrong:
            raise CheckFailed(f"expected exactly one {status} {ALERT} each, got {wrong}")
        others = sorted({n.brief() for n in notes if n.at >= since and n.alertname != ALERT})
        tail = f"; other notifications meanwhile: {others}" if others else ""
        return f"exactly one {status} {ALERT} per number and language, one email{tail}"

    def headline(self) -> str:
        seen: list[str] = []

        def probe() -> str | None:
            answer = self.http.get(f"{STATUSPAGE}/status.json")
            answer.raise_for_status()
            lines = answer.json()["headline"]
            seen[:] = [h["en"] for h in lines]
            for h in lines:
                if h.get("alertname") == ALERT and ALERTED in h["en"]:
                    return str(h["en"])
            raise CheckFailed(f"headline {seen}")

        return wait_for(f'status page headline "{ALERTED}"', probe, timeout=60, every=3)

    def runbook_link(self) -> str:
        """The firing alert's runbook_url (from the shipped `runbook_base`) opens, from
        inside the compose network, the runbook the status page serves."""
        answer = self.http.get(
            f"{ALERTMANAGER_1}/api/v2/alerts", params={"filter": f'alertname="{ALERT}"'}
        )
        answer.raise_for_status()
        urls = sorted({a["annotations"].get("runbook_url", "") for a in answer.json()})
        if not urls or not urls[0]:
            raise CheckFailed(f"no runbook_url on the {ALERT} alert in Alertmanager")
        page = self.engine.exec(ALERTMANAGER_2, "wget", "-q", "-O", "-", urls[0])
        if f"<h1>{ALERT}</h1>" not in page:
            raise CheckFailed(f"{urls[0]} did not serve the {ALERT} runbook: {page[:200]!r}")
        return f"{urls[0]} serves the {ALERT} runbook ({len(page)} bytes)"

    def start_report(self) -> tuple[subprocess.Popen[str], str]:
        """`parichay-status report` inside the running status page container, in the
        background. (`compose run` would be the documented way, but docker-compose 1.29
        links a one-off container to its dependencies, which podman's API refuses.)"""
        month = datetime.now(IST).strftime("%Y-%m")
        argv = [
            self.engine.cli,
            "exec",
            self.engine.container(STATUSPAGE_SERVICE).name,
            "parichay-status",
            "report",
            "--month",
            month,
            "--format",
            "pdf,json",
            "--out",
            REPORT_OUT,
            "--prometheus",
            "http://prometheus:9090",
            "--alertmanager",
            "http://alertmanager-1:9093",
        ]
        self.report_dir.mkdir(parents=True, exist_ok=True)
        with (self.report_dir / "report.log").open("w", encoding="utf-8") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, text=True)
        return proc, month

    def check_report(self, proc: subprocess.Popen[str], month: str) -> str:
        try:
            rc = proc.wait(timeout=240)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
            raise CheckFailed("the report did not finish within 240 s") from None
        log = (self.report_dir / "report.log").read_text(encoding="utf-8")
        if rc != 0:
            raise CheckFailed(f"report exited {rc}: {log.strip()[-500:]}")
        name = self.engine.container(STATUSPAGE_SERVICE).name
        copied = subprocess.run(
            [self.engine.cli, "cp", f"{name}:{REPORT_OUT}/.", str(self.report_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if copied.returncode != 0:
            raise CheckFailed(f"{self.engine.cli} cp of the report failed: {copied.stderr[-300:]}")
        pdf = self.report_dir / f"parichay-report-{month}.pdf"
        data = self.report_dir / f"parichay-report-{month}.json"
        if not pdf.is_file() or not data.is_file():
            raise CheckFailed(f"no {pdf.name} / {data.name}; the report said: {log[-300:]}")
        pdftotext = shutil.which("pdftotext")
        if pdftotext is None:
            raise CheckFailed("pdftotext is missing: apt-get install poppler-utils")
        text = subprocess.run(
            [pdftotext, "-enc", "UTF-8", str(pdf), "-"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        # pdftotext guesses word breaks (a Devanagari vowel sign can look like a space):
        # compare without whitespace, as tests/statuspage/test_report.py does.
        hindi = re.sub(r"\s+", "", json.loads(data.read_text(encoding="utf-8"))["summary"]["hi"])
        if not re.search(r"[\u0900-\u097f]", hindi) or hindi not in re.sub(r"\s+", "", text):
            raise CheckFailed(f"the PDF lacks the Hindi summary; pdftotext read: {text[:300]!r}")
        incident = ALERT in re.sub(r"\s+", "", text)
        return (
            f"{pdf.name}, {pdf.stat().st_size // 1024} KiB, Hindi summary read back by "
            f"pdftotext; the {ALERT} incident {'is' if incident else 'is NOT yet'} listed"
        )

    # -- the whole run --------------------------------------------------------------------

    def run(self) -> int:
        numbers = oncall_numbers()
        if not numbers:
            raise SystemExit("compose_smoke: deploy/smsbridge-demo.yml names no number")
        self.step("Prometheus scrape targets", self.prometheus_targets)
        self.step("Prometheus rule groups", self.prometheus_rules)
        self.step("Alertmanager cluster", self.alertmanager_cluster)

        outage = self.set_fault("http_503")
        say(f"Parichay outage injected (http_503 on the simulator's SSO); {len(numbers)} number(s)")

        def fired() -> str:
            got = self.wait_notes("FIRING", outage, numbers)
            sms = max(v for k, v in got.items() if k.startswith("sms"))
            self.figure("outage_to_sms", sms)
            self.figure("outage_to_email", got["email"])
            return f"SMS {sms:.1f} s and email {got['email']:.1f} s after the outage began"

        paged = self.step("page on outage", fired)
        self.step("status page headline", self.headline)
        self.step("runbook link", self.runbook_link)
        if paged:
            # Room for a duplicate from the second Alertmanager member before counting.
            time.sleep(max(0.0, outage + self.figures["outage_to_email"] + SETTLE - time.time()))
            self.step("one page each", lambda: self.exactly_one("FIRING", outage, numbers))

        recovery = self.set_fault("ok")
        say("Parichay recovered (fault mode ok)")
        report, month = self.start_report()

        def resolved() -> str:
            got = self.wait_notes("RESOLVED", recovery, numbers)
            sms = max(v for k, v in got.items() if k.startswith("sms"))
            self.figure("recovery_to_resolved_sms", sms)
            self.figure("recovery_to_resolved_email", got["email"])
            return f"SMS {sms:.1f} s and email {got['email']:.1f} s after recovery"

        if self.step("RESOLVED on recovery", resolved):
            last = recovery + max(
                self.figures["recovery_to_resolved_sms"],
                self.figures["recovery_to_resolved_email"],
            )
            time.sleep(max(0.0, last + SETTLE - time.time()))
            self.step("one RESOLVED each", lambda: self.exactly_one("RESOLVED", recovery, numbers))
        self.step("monthly report in the image", lambda: self.check_report(report, month))

        if self.failures:
            say(f"{len(self.failures)} check(s) failed:")
            for failure in self.failures:
                say(f"  - {failure}")
            return 1
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--project", required=True, help="the compose project name")
    parser.add_argument("--engine-cli", default="podman", help="CLI for exec (podman, docker)")
    sub = parser.add_subparsers(dest="command", required=True)
    healthy = sub.add_parser("wait-healthy", help="wait until every SERVICE is healthy")
    healthy.add_argument("--timeout", type=float, default=300)
    healthy.add_argument("services", nargs="+")
    check = sub.add_parser("check", help="check the running stack")
    check.add_argument("--report-dir", type=Path, required=True)
    check.add_argument("--timings", type=Path)
    args = parser.parse_args(argv)
    engine = Engine(project=args.project, cli=args.engine_cli)
    try:
        if args.command == "wait-healthy":
            try:
                wait_healthy(engine, args.services, timeout=args.timeout)
            except (CheckFailed, Fatal) as exc:
                say(f"FAILED {exc}")
                return 1
            return 0
        with httpx.Client(timeout=10, trust_env=False) as http:
            return Run(engine, http, args.report_dir, args.timings).run()
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        engine.api.close()


if __name__ == "__main__":
    sys.exit(main())
