"""A killed test run leaves nothing running (tests/support/reaper.py, tests/conftest.py).

A child `python -m pytest` brings up the e2e chain (Prometheus, two Alertmanagers, the SMS
bridge: tests/support/cleanup_child.py) and writes their PIDs; this test then stops that
child with SIGTERM (what `timeout` sends) or SIGKILL, and 5 s later none of those processes
may be alive. SIGTERM is turned into an interrupt, so the child's fixtures tear down;
SIGKILL gives the child no chance at all, and the parent-death signal must do the work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import reaper

pytestmark = [pytest.mark.binaries, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[1]
CHILD = "tests/support/cleanup_child.py"


def _alive(pid: int, started: str) -> str | None:
    """The state of `pid` if it is still that process and not a zombie, else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    state, start = fields[0], fields[19]
    if start != started or state in ("Z", "X"):
        return None
    return state


def _wait_for_pids(child: subprocess.Popen[bytes], pids: Path, log: Path) -> list[tuple[str, int, str]]:
    deadline = time.monotonic() + 120
    while not pids.exists():
        if child.poll() is not None:
            pytest.fail(f"the child run ended ({child.returncode}) before its stack was up:\n"
                        + log.read_text(encoding="utf-8", errors="replace")[-3000:])
        if time.monotonic() > deadline:
            pytest.fail("the child's stack was not up within 120 s:\n"
                        + log.read_text(encoding="utf-8", errors="replace")[-3000:])
        time.sleep(0.2)
    out = []
    for line in pids.read_text(encoding="utf-8").splitlines():
        name, pid, started = line.split()
        out.append((name, int(pid), started))
    return out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_killed_run_leaves_no_server_running(sig: signal.Signals, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    log = tmp_path / "child.log"
    env = {**os.environ, "PARICHAY_CLEANUP_PIDS": str(pids)}
    with open(log, "wb") as out:
        child = reaper.popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
             "--basetemp", str(tmp_path / "child-tmp"), CHILD],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        servers = _wait_for_pids(child, pids, log)
        assert sorted(name for name, _, _ in servers) == [
            "alertmanager-1", "alertmanager-2", "prometheus", "smsbridge",
        ]  # fmt: skip
        assert all(_alive(pid, started) for _, pid, started in servers)
        child.send_signal(sig)
        try:
            code = child.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the child run did not end within 30 s of {sig.name}")
        time.sleep(5)  # the point of the test: 5 s after the run ended, nothing is left
        left = {name: (pid, _alive(pid, started)) for name, pid, started in servers}
        assert {k: v for k, v in left.items() if v[1] is not None} == {}, (
            log.read_text(encoding="utf-8", errors="replace")[-3000:]
        )
        if sig == signal.SIGTERM:
            # An interrupted run (exit 2), not a killed one: the fixtures tore down.
            assert code == 2, log.read_text(encoding="utf-8", errors="replace")[-3000:]
        else:
            assert code == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
