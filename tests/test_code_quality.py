"""The shipped packages stay ruff- and mypy --strict-clean (docs/architecture.md, conventions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# `make check` runs `make lint` instead of these (docs/e2e.md, "Test tiers").
pytestmark = pytest.mark.lint


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing() -> None:
    """ruff's configured rules pass on the packages, the deployment helpers, the benchmarks,
    the binary lookup and every test."""
    proc = _run(str(BIN / "ruff"), "check", "exporter", "simulator", "smsbridge", "servicekit", "statuspage",
                "grafana", "deploy", "bench", "tools", "tests")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_finds_nothing() -> None:
    """mypy --strict (configured in pyproject.toml) passes on every package of pyproject's list."""
    proc = _run(str(BIN / "mypy"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout


def test_mypy_strict_finds_nothing_in_scripts() -> None:
    """The benchmarks, the test helpers (tests/support), the compose helpers and the binary
    lookup are typed as strictly."""
    scripts = sorted(
        str(p.relative_to(ROOT))
        for d in ("bench", "deploy", "tools", "tests/support")
        for p in (ROOT / d).glob("*.py")
    )
    assert len(scripts) >= 6
    proc = _run(str(BIN / "mypy"), "--strict", "--explicit-package-bases", *scripts)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout
