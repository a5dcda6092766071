"""Helpers shared by the rule and Alertmanager tests: repository paths and the real binaries.

The binaries are the pinned releases that compose ships, installed by `tools/fetch-binaries`
(see `tests/support/binaries.py`); a missing one fails the test rather than skipping it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.binaries import pinned_binary as binary  # noqa: F401  (used by the rule tests)

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
PROMTOOL_TESTS_DIR = PROMETHEUS_DIR / "tests"
ALERTMANAGER_DIR = REPO / "alertmanager"
RUNBOOKS_DIR = REPO / "docs" / "runbooks"


def run(args: list[str], *, cwd: Path | None = None, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    """Run a command with output captured as text; the caller asserts on the return code."""
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def load_rule_groups() -> list[tuple[Path, dict[str, Any]]]:
    """Every rule group of prometheus/rules/*.yml with the file it comes from."""
    groups = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        groups.extend((path, group) for group in doc["groups"])
    return groups
