"""The pinned Prometheus and Alertmanager binaries for tests (lookup in `tools/binaries.py`).

A missing binary fails the test, with the command that installs it, instead of skipping
it: a skipped alerting test would let broken rules and configs ship.
"""

from __future__ import annotations

import pytest

from tools import binaries


def pinned_binary(name: str) -> str:
    """Path of a pinned binary (`prometheus`, `promtool`, `prometheus-alertmanager`, `amtool`)."""
    try:
        return binaries.binary(name)
    except binaries.BinaryNotFound as exc:
        pytest.fail(str(exc), pytrace=False)


def binary_path(name: str) -> str:
    """Path of a pinned binary, or HarnessError naming the command that installs it.

    For code that also runs outside pytest (the benchmarks, `make statuspage-demo`).
    """
    from tests.support.timing import HarnessError

    try:
        return binaries.binary(name)
    except binaries.BinaryNotFound as exc:
        raise HarnessError(str(exc)) from None
