"""Fixtures: real Prometheus over backfilled history, and a real Alertmanager.

`history` (module scope): 90 days of `standard_history` ending now, in a real Prometheus.
`alertmanager` (per test): a fresh real Alertmanager, so no silence carries over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.backfill import (
    Scenario,
    create_blocks,
    history_prometheus,
    holding_alertmanager,
    standard_history,
)
from tests.support.stack import Alertmanager, Prometheus


@dataclass
class History:
    """A running Prometheus over a scenario; `now` is the scenario's end."""

    scenario: Scenario
    prometheus: Prometheus

    @property
    def now(self) -> datetime:
        return self.scenario.end

    @property
    def url(self) -> str:
        return self.prometheus.url


def now_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


async def start_history(scenario: Scenario, root: Path) -> History:
    data = create_blocks(scenario, root / "tsdb")
    prom = history_prometheus(data_dir=data, workdir=root)
    await prom.start()
    return History(scenario, prom)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def history(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[History]:
    h = await start_history(standard_history(now_minute()), tmp_path_factory.mktemp("history"))
    try:
        yield h
    finally:
        await h.prometheus.stop()


@pytest_asyncio.fixture
async def alertmanager(tmp_path: Path) -> AsyncIterator[Alertmanager]:
    am = holding_alertmanager(workdir=tmp_path / "am")
    await am.start()
    try:
        yield am
    finally:
        await am.stop()
