"""`parichay-status serve` logs as the other services do: JSON lines through servicekit's
setup, with the credentials of the source options scrubbed."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from servicekit.logs import setup_logging
from statuspage.cli import _secrets, parser
from tests.support import reaper
from tests.support.logs import restored_loggers
from tests.support.net import HOST, free_port

REPO = Path(__file__).resolve().parents[2]
TOKEN = "prom-token-4c1d9e"
PASSWORD = "am-password-77f0"


@pytest.fixture
def statuspage_loggers() -> Iterator[None]:
    """setup_logging() rewires these loggers; put them back for the tests that follow."""
    with restored_loggers(*("statuspage", "aiohttp", "httpx", "httpcore")):
        yield


@pytest.mark.usefixtures("statuspage_loggers")
def test_the_credentials_files_are_scrubbed_from_log_lines(tmp_path: Path) -> None:
    token, password = tmp_path / "token", tmp_path / "password"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    password.write_text(PASSWORD, encoding="utf-8")
    args = parser().parse_args(
        [
            "serve",
            "--prometheus-bearer-token-file", str(token),
            "--alertmanager-username", "ops",
            "--alertmanager-password-file", str(password),
        ]
    )
    stream = io.StringIO()
    setup_logging(service="statuspage", secrets=_secrets(args), stream=stream)
    logging.getLogger("statuspage.web").warning("sent %s and %s", TOKEN, PASSWORD)
    logging.getLogger("aiohttp.server").error("echo: Bearer %s", TOKEN)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["msg"] for r in lines] == ["sent <secret> and <secret>", "echo: Bearer <secret>"]


def test_serve_writes_json_lines_to_stderr(tmp_path: Path) -> None:
    """The start-up line is a JSON record of logger statuspage.cli; a missing token file is
    no start-up error (the first request says why)."""
    port = free_port()
    proc = reaper.popen(
        [
            sys.executable, "-m", "statuspage.cli", "serve",
            "--listen", f"{HOST}:{port}",
            "--runbooks", str(REPO / "docs" / "runbooks"),
            "--prometheus-bearer-token-file", str(tmp_path / "absent"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        record = json.loads(proc.stderr.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        out = proc.stdout.read() if proc.stdout else ""
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert (record["level"], record["logger"]) == ("info", "statuspage.cli")
    assert record["msg"].startswith(f"parichay-status serving on http://{HOST}:{port}/ (")
    assert out == ""
