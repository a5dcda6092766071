"""Alertmanager HA end to end: two real Alertmanagers gossiping (`--cluster.peer`), both
fed by Prometheus, one of them killed (SIGKILL) during a central Parichay outage.

Which Alertmanager sends is told by the email itself: its last line is the sender's
`--web.external-url` (`Alertmanager: {{ .ExternalURL }}` in parichay.tmpl), and each
Alertmanager of the stack has its own. The SMS bridge de-duplicates what both peers post,
so "one email" is the test of Alertmanager's own de-duplication (the notification log
gossiped between peers) and "one SMS per recipient and template" the test of the whole
chain.
"""

from __future__ import annotations

import time

import pytest

from tests.support.stack import AlertingStack, AlertmanagerNode
from tests.support.timing import PAGE_WITHIN, RESOLVE_WITHIN, SETTLE, sleep_until
from tests.support.world import World, exactly_once_problems, unexpected, wait_for_page

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.binaries,
    pytest.mark.asyncio(loop_scope="session"),
]



def node_by_url(stack: AlertingStack, url: str) -> AlertmanagerNode:
    nodes = [am for am in stack.alertmanagers if am.url == url.rstrip("/")]
    assert nodes, f"email sent by {url!r}, which is none of {[a.url for a in stack.alertmanagers]}"
    return nodes[0]


async def paged_once_then_resolved_by(world: World, survivor: AlertmanagerNode) -> None:
    """After the settle time: one ParichayDown page and no other alert; then Parichay
    recovers and the survivor sends the one RESOLVED, with still no second FIRING."""
    assert exactly_once_problems(world, "ParichayDown", scope="central", status="FIRING") == []
    assert unexpected(world, {"ParichayDown", "ExporterDown"}) == []

    world.sim.set_fault("sso", "ok")
    resolved = await wait_for_page(
        world, "ParichayDown", scope="central", status="RESOLVED", within=RESOLVE_WITHIN
    )
    await sleep_until(resolved.last_at + SETTLE)
    assert resolved.mails[0].sent_by == survivor.url
    assert exactly_once_problems(world, "ParichayDown", scope="central", status="RESOLVED") == []
    assert exactly_once_problems(world, "ParichayDown", scope="central", status="FIRING") == []


@pytest.mark.timeout(120)
async def test_killing_the_alertmanager_that_paged_loses_nothing_and_duplicates_nothing(
    world: World, stack: AlertingStack
) -> None:
    """The Alertmanager that sent the ParichayDown page is killed mid-outage: the survivor
    does not page it again, pages the dead peer (ExporterDown), and sends the one RESOLVED."""
    world.sim.set_fault("sso", "http_503")
    page = await wait_for_page(world, "ParichayDown", scope="central", within=PAGE_WITHIN)
    sender = node_by_url(stack, page.mails[0].sent_by)
    survivor = next(am for am in stack.alertmanagers if am is not sender)
    killed_at = time.monotonic()
    await sender.proc.kill()

    # The survivor notices its dead peer through Prometheus: ExporterDown for that
    # instance pages after `for:`; by then any duplicate ParichayDown would have arrived
    # (the survivor's next flushes come every group_interval after its peer-timeout wait).
    down = await wait_for_page(world, "ExporterDown", scope="monitoring", within=PAGE_WITHIN)
    assert down.mails[0].sent_by == survivor.url
    assert f"at {sender.address} cannot be" in down.mails[0].text.replace("\n", " ")
    await sleep_until(max(down.last_at, killed_at + SETTLE))
    await paged_once_then_resolved_by(world, survivor)


@pytest.mark.timeout(120)
async def test_killing_the_alertmanager_due_to_page_first_still_pages_once(
    world: World, stack: AlertingStack
) -> None:
    """The peer at cluster position 0 (the one that notifies without waiting) is killed as
    the outage begins: the other one sends the single ParichayDown page and its RESOLVED."""
    positions = await stack.sender_position()
    first = next(am for am in stack.alertmanagers if positions[am.index] == 0)
    survivor = next(am for am in stack.alertmanagers if am is not first)
    world.sim.set_fault("sso", "http_503")
    await first.proc.kill()

    page = await wait_for_page(world, "ParichayDown", scope="central", within=PAGE_WITHIN)
    assert page.mails[0].sent_by == survivor.url
    await sleep_until(page.last_at + SETTLE)
    await paged_once_then_resolved_by(world, survivor)
