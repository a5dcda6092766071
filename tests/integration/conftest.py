"""Fixtures for integration tests: the simulator over real loopback sockets, with TLS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from exporter.demo import render_demo_config
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


@pytest.fixture
def demo_config(sim: Simulator, ca_file: str, tmp_path: Path) -> str:
    """The demo exporter's config against this simulator: its CA, a loopback listener and
    the login state file in tmp_path."""
    return render_demo_config(
        sso=sim.sso_url,
        app=sim.app_url,
        control=sim.control_url,
        ca=ca_file,
        listen="127.0.0.1:0",
        org="UKSec",
        state_file=str(tmp_path / "login-state.json"),
    )
