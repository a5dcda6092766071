"""The child run of tests/test_harness_cleanup.py: an e2e stack that waits to be killed.

Not collected on its own (no `test_` file name); the parent runs it as
`python -m pytest tests/support/cleanup_child.py` with PARICHAY_CLEANUP_PIDS naming the
file where this writes, once everything answers, one line per server: its name, PID and
start time (field 22 of /proc/<pid>/stat, so that a reused PID is not mistaken for it).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.support.stack import AlertingStack
from tests.support.timing import E2E
from tests.support.world import World

pytestmark = [pytest.mark.binaries, pytest.mark.e2e]


def start_time(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat (after the parenthesised command name)."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    return stat.rsplit(")", 1)[1].split()[19]


async def test_an_e2e_stack_waits_to_be_killed(tmp_path: Path) -> None:
    """Bring up World and AlertingStack, write their PIDs, then wait (bounded) for a signal."""
    out = Path(os.environ["PARICHAY_CLEANUP_PIDS"])
    async with World(tmp_path / "world", timing=E2E) as world:
        stack = AlertingStack(world, tmp_path / "stack", timing=E2E)
        try:
            await stack.start()
            lines = []
            for proc in stack.procs:
                assert proc.pid is not None and proc.running
                lines.append(f"{proc.name} {proc.pid} {start_time(proc.pid)}\n")
            tmp = out.with_suffix(".tmp")
            tmp.write_text("".join(lines), encoding="utf-8")
            tmp.rename(out)
            # The parent signals this run within seconds; never waits past the parent's bound.
            await asyncio.sleep(90)
        finally:
            await stack.stop()
