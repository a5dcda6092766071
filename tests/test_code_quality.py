"""The shipped packages stay ruff- and mypy --strict-clean (CONVENTIONS rule 16)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing() -> None:
    """ruff's configured rules pass on the packages, their tests and the benchmarks."""
    proc = _run(str(BIN / "ruff"), "check", "exporter", "smsbridge", "grafana", "bench/probe_cost.py",
                "tests/exporter", "tests/integration", "tests/smsbridge")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_finds_nothing() -> None:
    """mypy --strict (configured in pyproject.toml) passes on exporter and smsbridge."""
    proc = _run(str(BIN / "mypy"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout
