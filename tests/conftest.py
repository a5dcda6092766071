"""Shared pytest fixtures and the run's header."""

from __future__ import annotations

import pytest

from tools import binaries


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Print the versions of the real binaries this run uses, so CI logs show them."""
    lines = []
    for name in binaries.BINARIES:
        try:
            lines.append(binaries.version_line(name))
        except binaries.BinaryNotFound as exc:
            lines.append(str(exc))
    return lines
