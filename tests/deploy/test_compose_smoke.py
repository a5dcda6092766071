"""tools/compose-smoke's parts that run without containers: the mail catcher stand-in
(tools/mailpit_standin.py) speaks SMTP and the slice of Mailpit's API the smoke test reads,
and the smoke checks (tools/compose_smoke.py) read SMS, mails and rule files as shipped."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from smsbridge.config import load_config as load_bridge_config
from smsbridge.intake import plan_deliveries
from smsbridge.payload import parse_webhook
from smsbridge.render import resolved_email
from tests.support import reaper
from tests.support.demo import BRIDGE_DEMO, bridge_config_for, run_demo_init
from tests.support.net import HOST, free_port
from tools import compose_smoke

REPO = Path(__file__).resolve().parents[2]
STANDIN = REPO / "tools" / "mailpit_standin.py"


def _readyz(api: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STANDIN), "readyz", "--listen", api],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_mailpit_standin_catches_mail_and_lists_it_as_mailpit_does(tmp_path: Path) -> None:
    """A mail sent over SMTP shows in GET /api/v1/messages with Mailpit's field names and
    its Subject decoded; `readyz` exits 0 while the API answers and 1 when nothing does."""
    smtp_port, api_port = free_port(), free_port()
    api = f"{HOST}:{api_port}"
    assert _readyz(api).returncode == 1
    log = tmp_path / "standin.log"
    with log.open("wb") as out:
        proc = reaper.popen(
            [sys.executable, str(STANDIN), "--smtp", f"{HOST}:{smtp_port}", "--listen", api],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while _readyz(api).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        mail = EmailMessage()
        mail["From"] = "Parichay monitoring <parichay-alerts@itda.example.gov.in>"
        mail["To"] = "itda-ops@example.gov.in"
        mail["Subject"] = "[FIRING] PAGE ParichayDown | scope: central | चालू"
        mail.set_content("Parichay is down.\nपरिचय बंद है।")
        before = time.time()
        with smtplib.SMTP(HOST, smtp_port, timeout=10) as smtp:
            smtp.send_message(mail)
        with urllib.request.urlopen(f"http://{api}/api/v1/messages", timeout=10) as answer:
            listed = json.loads(answer.read())
    finally:
        proc.terminate()
        proc.wait(10)
    assert listed["total"] == 1
    (got,) = listed["messages"]
    assert got["Subject"] == "[FIRING] PAGE ParichayDown | scope: central | चालू"
    assert got["From"] == {
        "Name": "Parichay monitoring",
        "Address": "parichay-alerts@itda.example.gov.in",
    }
    assert got["To"] == [{"Name": "", "Address": "itda-ops@example.gov.in"}]
    assert got["Snippet"] == "Parichay is down. परिचय बंद है।"
    created = got["Created"]
    assert created.endswith("Z")
    assert before - 1 <= datetime.fromisoformat(created).timestamp() <= time.time() + 1
    assert proc.returncode == 0, log.read_text()


@pytest.mark.parametrize("argv", [["--smtp", "nonsense"], ["frobnicate"]], ids=["addr", "cmd"])
def test_mailpit_standin_refuses_bad_arguments(argv: list[str]) -> None:
    """A malformed address or an unknown command is an error, not a half-started server."""
    proc = subprocess.run(
        [sys.executable, str(STANDIN), *argv],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode != 0


# --------------------------------------------------------------------------- the checks


def _webhook(status: str) -> dict[str, Any]:
    """A ParichayDown webhook as Alertmanager sends it to the bridge (version 4)."""
    labels = {
        "alertname": "ParichayDown",
        "severity": "page",
        "scope": "central",
        "target": "parichay-login-page",
        "role": "sso",
    }
    alert = {
        "status": status,
        "labels": labels,
        "annotations": {"summary": "Parichay SSO is down", "summary_hi": "परिचय बंद है"},
        "startsAt": "2026-11-30T04:12:00Z",
        "endsAt": "2026-11-30T04:20:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "0123456789abcdef",
    }
    return {
        "version": "4",
        "groupKey": '{}/{severity="page"}:{alertname="ParichayDown"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "ops-sms",
        "groupLabels": {"alertname": "ParichayDown", "scope": "central"},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [alert],
    }


@pytest.mark.parametrize("status", ["firing", "resolved"])
def test_smoke_reads_the_sms_the_demo_bridge_renders(status: str, tmp_path: Path) -> None:
    """Every SMS the demo bridge plans for a ParichayDown page parses as that alert, in
    English and Hindi, to the numbers oncall_numbers() reads from the demo config."""
    run_demo_init(tmp_path)
    config = load_bridge_config(bridge_config_for(tmp_path, BRIDGE_DEMO))
    deliveries = plan_deliveries(parse_webhook(_webhook(status)), config=config)
    notes = [
        compose_smoke.parse_sms({"received_at": 1.0, "to": d.number, "text": d.text})
        for d in deliveries
    ]
    want = "FIRING" if status == "firing" else "RESOLVED"
    assert {(n.status, n.alertname) for n in notes} == {(want, "ParichayDown")}
    numbers = compose_smoke.oncall_numbers()
    assert numbers == {r.number for group in config.recipients.values() for r in group}
    assert sorted((n.kind, n.to) for n in notes) == sorted(
        (kind, to) for kind, to in compose_smoke.expected_notes(numbers) if kind != "email"
    )


@pytest.mark.parametrize(
    ("subject", "status"),
    [
        ("[FIRING] PAGE ParichayDown | scope: central | target: parichay-login-page | चालू", "FIRING"),
        ("[FIRING x2] PAGE ParichayDown | scope: central | चालू", "FIRING"),
        ("[RESOLVED] PAGE ParichayDown | scope: central | समाप्त", "RESOLVED"),
    ],
    ids=["firing", "two-firing", "resolved"],
)
def test_smoke_reads_the_email_subject(subject: str, status: str) -> None:
    """alertmanager/templates/parichay.tmpl's subject gives the status and the alert name."""
    note = compose_smoke.parse_mail(
        {"Subject": subject, "To": [{"Address": "itda-ops@example.gov.in"}],
         "Created": "2026-11-30T04:13:10.5Z"}
    )  # fmt: skip
    assert (note.kind, note.status, note.alertname) == ("email", status, "ParichayDown")
    assert note.at == datetime(2026, 11, 30, 4, 13, 10, 500000, tzinfo=UTC).timestamp()


def test_smoke_reads_the_resolved_email_the_bridge_sends() -> None:
    """A page's RESOLVED email comes from the SMS bridge (Alertmanager sends the FIRING only);
    its subject parses as the RESOLVED of that alert too."""
    subject, _ = resolved_email(parse_webhook(_webhook("resolved")), tz=ZoneInfo("Asia/Kolkata"))
    note = compose_smoke.parse_mail(
        {"Subject": subject, "To": [{"Address": "itda-ops@example.gov.in"}],
         "Created": "2026-11-30T04:21:00Z"}
    )  # fmt: skip
    assert (note.status, note.alertname) == ("RESOLVED", "ParichayDown")


def test_smoke_knows_every_rule_group_and_scrape_target_that_ships() -> None:
    """The rule files' groups (with their rule counts) and prometheus.yml's targets, read
    without PyYAML by the smoke test, are what PyYAML reads."""
    groups = {}
    for path in sorted((REPO / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            groups[(path.name, group["name"])] = len(group["rules"])
    assert compose_smoke.rule_groups() == groups
    cfg = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = {
        t for job in cfg["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    assert compose_smoke.scrape_targets() == targets


def test_smoke_counts_one_page_per_number_language_and_email() -> None:
    """exactly-one counts only the alert's notes of that status since the given moment."""
    note = compose_smoke.Note
    notes = [
        note(10.0, "sms en", "+919000000001", "FIRING", "ParichayDown"),
        note(10.5, "sms hi", "+919000000001", "FIRING", "ParichayDown"),
        note(11.0, "email", "itda-ops@example.gov.in", "FIRING", "ParichayDown"),
        note(5.0, "sms en", "+919000000001", "FIRING", "ParichayDown"),  # before `since`
        note(12.0, "sms en", "+919000000001", "FIRING", "EOfficeDown"),  # another alert
        note(13.0, "sms en", "+919000000001", "RESOLVED", "ParichayDown"),
    ]
    for kind, to in compose_smoke.expected_notes({"+919000000001"}):
        assert len(compose_smoke.matching(notes, kind, to, "FIRING", since=8.0)) == 1, kind
