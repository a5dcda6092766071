"""The shipped packages stay ruff- and mypy --strict-clean (one style across the repository)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing() -> None:
    """ruff's configured rules pass on the packages, the deployment helpers, the benchmarks,
    the binary lookup and every test."""
    proc = _run(str(BIN / "ruff"), "check", "exporter", "smsbridge", "servicekit", "statuspage",
                "grafana", "deploy", "bench", "tools", "tests")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_finds_nothing() -> None:
    """mypy --strict (configured in pyproject.toml) passes on exporter, smsbridge and grafana."""
    proc = _run(str(BIN / "mypy"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout


def test_mypy_strict_finds_nothing_in_scripts() -> None:
    """The benchmarks, the e2e harness, the compose helpers and the binary lookup are typed
    as strictly."""
    scripts = sorted(
        str(p.relative_to(ROOT)) for d in ("bench", "deploy", "tools") for p in (ROOT / d).glob("*.py")
    )
    assert len(scripts) >= 6
    proc = _run(str(BIN / "mypy"), "--strict", "--explicit-package-bases", *scripts)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout
