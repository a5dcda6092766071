"""The dead man's switch end to end: Prometheus's always-firing Watchdog reaches the SMS
bridge's heartbeat through both real Alertmanagers; when both stop, the bridge itself
texts the on-call group, once, and once more when the chain is back.

Timings are the harness's compressed ones (`E2E`): a heartbeat every 2 s instead of every
minute, silence 12 s instead of 5 minutes, Prometheus resending firing alerts every 2 s
instead of every minute. The requirement scales with them: the broken-chain SMS must come
within the silence plus one heartbeat period plus the bridge's check period (a quarter of
the silence) and the send, which is what "within the silence plus one minute" is in
production.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

import httpx
import pytest

from tests.support.stack import AlertingStack
from tests.support.timing import E2E, sleep_until
from tests.support.world import World, unexpected

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.binaries,
    pytest.mark.asyncio(loop_scope="session"),
]

T = E2E
# As the NIC gateway receives them: country code, no plus.
ON_CALL = {"919000000001", "919000000002"}
# Templates of config/smsbridge.yml's heartbeat section, by DLT template id.
BROKEN_TEMPLATES = {"1107160000000000004", "1107160000000000005"}
RESTORED_TEMPLATES = {"1107160000000000006", "1107160000000000007"}
# Silence + one heartbeat period + the bridge's check period + a send with retries.
BROKEN_WITHIN = T.heartbeat_silence_s + T.heartbeat_every_s + T.heartbeat_silence_s / 4 + 15
# A restarted Alertmanager hears of the Watchdog at Prometheus's next resend, then waits
# the route's group_wait (5 s) before the first heartbeat.
RESTORED_WITHIN = T.alert_resend_delay_s + 5 + T.peer_timeout_s + 20


async def heartbeats(stack: AlertingStack) -> float:
    """parichay_smsbridge_heartbeats_total as the bridge exports it."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{stack.bridge_url}/metrics")).text
    m = re.search(r"^parichay_smsbridge_heartbeats_total (\S+)$", text, re.M)
    assert m, "the bridge exports no parichay_smsbridge_heartbeats_total"
    return float(m.group(1))


async def wait_for(predicate: Callable[[], bool], *, within: float, what: str) -> float:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {what} within {within:.0f} s")


@pytest.mark.timeout(240)
async def test_both_alertmanagers_stopped_texts_the_on_call_once_then_one_recovery(
    world: World, stack: AlertingStack
) -> None:
    """Both Alertmanagers stop: the bridge texts every on-call number, in English and Hindi,
    "monitoring chain broken", once; they start again: exactly one "restored" text each."""
    # The chain works: heartbeats arrive before anything is stopped.
    first = await heartbeats(stack)
    deadline = time.monotonic() + T.heartbeat_every_s * 3 + 10
    while await heartbeats(stack) <= first:
        assert time.monotonic() < deadline, "no heartbeat reached the bridge"
        await asyncio.sleep(0.5)
    world.clear_inboxes()

    stopped_at = time.monotonic()
    await asyncio.gather(*(am.proc.stop() for am in stack.alertmanagers))

    def broken() -> list[str]:
        return [s.number for s in world.sms_for("Watchdog", "FIRING")]

    got_at = await wait_for(
        lambda: set(broken()) == ON_CALL and len(broken()) == 2 * len(ON_CALL),
        within=BROKEN_WITHIN,
        what="broken-chain SMS to every on-call number in both languages",
    )
    assert got_at - stopped_at >= T.heartbeat_silence_s - T.heartbeat_every_s, (
        "the chain was called broken before the silence had passed"
    )
    # Once per outage: nothing more while the Alertmanagers stay down.
    await sleep_until(time.monotonic() + T.heartbeat_silence_s)
    sms = world.sms_for("Watchdog", "FIRING")
    assert sorted((s.number, s.template_id) for s in sms) == sorted(
        (n, t) for n in ON_CALL for t in BROKEN_TEMPLATES
    )
    assert all("no heartbeat since" in s.text for s in sms if s.template_id.endswith("4"))
    assert world.sms_for("Watchdog", "RESOLVED") == []

    restarted_at = time.monotonic()
    for am in stack.alertmanagers:
        await am.proc.start()

    def restored() -> list[str]:
        return [s.number for s in world.sms_for("Watchdog", "RESOLVED")]

    await wait_for(
        lambda: set(restored()) == ON_CALL and len(restored()) == 2 * len(ON_CALL),
        within=RESTORED_WITHIN,
        what="restored-chain SMS to every on-call number in both languages",
    )
    # Exactly one recovery: heartbeats keep coming, nothing more is sent.
    await sleep_until(time.monotonic() + 3 * T.heartbeat_every_s + T.heartbeat_silence_s / 4)
    ok = world.sms_for("Watchdog", "RESOLVED")
    assert sorted((s.number, s.template_id) for s in ok) == sorted(
        (n, t) for n in ON_CALL for t in RESTORED_TEMPLATES
    )
    assert len(world.sms_for("Watchdog", "FIRING")) == 2 * len(ON_CALL)
    assert time.monotonic() - restarted_at < RESTORED_WITHIN + 30
    # Stopping the Alertmanagers pages nothing else by SMS (Prometheus cannot reach them),
    # and the bridge sends no email here (the e2e bridge config has no smtp: relay).
    assert unexpected(world, {"Watchdog", "ExporterDown"}) == []
