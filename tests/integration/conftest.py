"""Fixtures for integration tests: the simulator over real loopback sockets, with TLS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simulator import Simulator


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """A TLS simulator on free 127.0.0.1 ports; its CA is written to tmp_path/ca.pem."""
    s = Simulator(tls=True)
    await s.start()
    s.write_ca(tmp_path / "ca.pem")
    try:
        yield s
    finally:
        await s.stop()


@pytest.fixture
def ca_file(sim: Simulator, tmp_path: Path) -> str:
    return str(tmp_path / "ca.pem")
