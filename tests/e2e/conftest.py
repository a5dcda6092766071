"""Fixtures for the end-to-end tests: one `World` per session, one alerting stack per test.

`world` (session): the simulator, a neutral site for control targets, one network path per
vantage (TCP forwarders that can be cut), three in-process exporters (vantages
secretariat-dehradun, district-haridwar and cloud-mumbai, which also runs the synthetic
login), a real SMTP server and a recording SMS-gateway stand-in.

`stack` (per test): a fresh real `prometheus`, two real `prometheus-alertmanager`s
clustered with each other, and the SMS bridge, configured from the repository's files with
only addresses and timings substituted (see `tests/support/stack.py`, `render_*`). A fresh
stack per scenario means no alert, notification log, silence, SLO window or SMS rate limit
can carry over from one scenario to the next. The harness waits for a clean baseline
(every probe passes, the cluster has settled, Prometheus sees all targets healthy and has
no ALERTS) and empties the inboxes before the test starts.

When a test fails, the logs of Prometheus, both Alertmanagers and the bridge, and every SMS
and email received, are added to its report.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.stack import AlertingStack
from tests.support.timing import E2E, HarnessError
from tests.support.world import World


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with World(tmp_path_factory.mktemp("e2e-world"), timing=E2E) as w:
        await w.wait_healthy(within=60)
        yield w


@contextlib.asynccontextmanager
async def running_stack(
    world: World,
    root: Path,
    request: pytest.FixtureRequest,
    *,
    statuspage: str | None = None,
    before_ready: Callable[[AlertingStack], Awaitable[None]] | None = None,
) -> AsyncIterator[AlertingStack]:
    """A started stack on a healed world, ready (clean baseline) and with empty inboxes.

    `before_ready` runs once every process of the stack is up, before the baseline is
    awaited (e.g. to start the status page Prometheus scrapes at `statuspage`).
    """
    await world.heal()
    await world.wait_healthy(within=60)
    s = AlertingStack(world, root, timing=E2E, statuspage=statuspage)
    request.node.e2e_stack = s
    try:
        await s.start()
        if before_ready is not None:
            await before_ready(s)
    except HarnessError as exc:
        await s.stop()
        pytest.fail(str(exc), pytrace=False)
    try:
        # The session's first login uses an OTP and remembers the device; the next one
        # cannot come before the next TOTP window (up to 30 s, once per session), so wait
        # for it here, while the stack starts up, rather than before.
        await world.wait_settled(within=60)
        await s.wait_ready(within=60)
        world.clear_inboxes()
        yield s
    finally:
        await s.stop()
        await world.heal()


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    world: World, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[AlertingStack]:
    async with running_stack(world, tmp_path / "stack", request) as s:
        yield s


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        stack = getattr(item, "e2e_stack", None)
        if isinstance(stack, AlertingStack):
            for title, text in stack.logs(lines=60):
                report.sections.append((title, text))
            report.sections.append(("SMS and email received", stack.world.inbox()))
    return report
