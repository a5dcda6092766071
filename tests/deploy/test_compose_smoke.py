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
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.net import HOST, free_port

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
        proc = subprocess.Popen(
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
