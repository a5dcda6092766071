"""Outbox, acceptor and sender with a fake clock: back-off, dead letters, dedup, rate limits."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from servicekit.clock import FakeClock
from smsbridge import providers
from smsbridge.config import Config, parse_config
from smsbridge.intake import Acceptor
from smsbridge.metrics import BridgeMetrics
from smsbridge.outbox import Outbox, OutboxUnavailable
from smsbridge.payload import parse_webhook
from smsbridge.sender import Sender, backoff_delay


class UpperRng(random.Random):
    """Always draws the top of the jitter range, to make delays exact."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Rig:
    """Config + outbox + acceptor + sender wired to a scripted MockTransport gateway."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.clock = FakeClock(1_764_000_000.0, autoadvance=True)
        self.registry = CollectorRegistry()
        self.metrics = BridgeMetrics(self.registry, providers=config.providers)
        self.outbox = Outbox(config.outbox.path, busy_timeout=0.1)
        self.outbox.open()
        self.responses: list[int] = []  # status codes to answer, then 200 API000
        self.requests: list[httpx.Request] = []
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self._handle))
        self.acceptor = Acceptor(
            config=config, outbox=self.outbox, clock=self.clock, metrics=self.metrics
        )
        self.sender = Sender(
            config=config,
            outbox=self.outbox,
            client=self.client,
            clock=self.clock,
            metrics=self.metrics,
            rng=UpperRng(),
            providers=[providers.create(name=n, config=c) for n, c in config.providers.items()],
        )

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.responses:
            return httpx.Response(self.responses.pop(0), text="down")
        return httpx.Response(200, text=f"Request ID={len(self.requests)}~code=API000")

    def value(self, name: str, **labels: str) -> float:
        sample = self.registry.get_sample_value("parichay_smsbridge_" + name, labels or None)
        assert sample is not None, name
        return sample

    def states(self) -> list[tuple[str, int]]:
        with sqlite3.connect(self.config.outbox.path) as conn:
            return [
                (r[0], r[1]) for r in conn.execute("SELECT state, attempts FROM outbox ORDER BY id")
            ]


@pytest.fixture
def make_rig(tmp_path: Path, sms: Any) -> Iterator[Any]:
    rigs: list[Rig] = []

    def make(**changes: Any) -> Rig:
        data = sms.base_config(tmp_path, gateway_url="http://gw.test")
        data["sender"] = {"retry_initial": "15s", "retry_max": "10m"}
        data["outbox"]["max_age"] = "1h"
        for key, value in changes.items():
            data[key] = value
        rig = Rig(parse_config(data))
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.outbox.close()


def test_backoff_is_exponential_capped_and_jittered_downwards() -> None:
    """Delays double from retry_initial up to retry_max; jitter only shortens by up to half."""
    top = [backoff_delay(n, initial=15, maximum=600, rng=UpperRng()) for n in range(1, 9)]
    assert top == [15, 30, 60, 120, 240, 480, 600, 600]
    rng = random.Random(7)
    for n in range(1, 9):
        delay = backoff_delay(n, initial=15, maximum=600, rng=rng)
        assert top[n - 1] / 2 <= delay <= top[n - 1]


async def test_gateway_failing_then_recovering_delivers_once_with_retries_counted(
    make_rig: Any, sms: Any
) -> None:
    """Two 503s then success: one SMS sent, 2 retries, 2 failures by reason, 3 requests."""
    rig = make_rig(
        routes=[
            {
                "name": "oncall",
                "match": {"severity": "page"},
                "recipients": ["on-call"],
                "templates": ["alert_en"],
            }
        ]
    )
    rig.responses = [503, 503]
    await rig.acceptor.accept(parse_webhook(sms.payload()))
    assert await rig.sender.run_once() == 1
    assert await rig.sender.run_once() == 0  # not due yet: 15s back-off
    rig.clock.step(15)
    assert await rig.sender.run_once() == 1
    rig.clock.step(29)
    assert await rig.sender.run_once() == 0
    rig.clock.step(1)
    assert await rig.sender.run_once() == 1
    assert len(rig.requests) == 3
    assert rig.states() == [("sent", 3)]
    assert rig.value("sent_total", provider="nic") == 1
    assert rig.value("retries_total") == 2
    assert rig.value("send_failures_total", provider="nic", reason="http_status") == 2
    assert rig.outbox.stats().depth == 0


async def test_a_message_failing_past_max_age_is_dead(make_rig: Any, sms: Any) -> None:
    """With the gateway always down, the SMS is given up once the next retry passes max_age."""
    rig = make_rig()
    rig.responses = [503] * 100
    await rig.acceptor.accept(parse_webhook(sms.payload([sms.alert(scope="app")])))
    for _ in range(50):  # bounded: far more rounds than the 1h schedule needs
        await rig.sender.run_once()
        due = rig.outbox.next_due_at()
        if due is None:
            break
        rig.clock.step(due - rig.clock.now())
    # attempts at t=0, 15, 45, 105, 225, 465, 945, 1545, 2145, 2745, 3345 s; next > 1h
    assert rig.states() == [("dead", 11)]
    assert rig.value("dead_total", reason="max_age") == 1
    assert rig.value("retries_total") == 10
    assert rig.value("sent_total", provider="nic") == 0


async def test_a_message_older_than_max_age_is_dead_without_sending(
    make_rig: Any, sms: Any
) -> None:
    """After a long outage of the bridge itself, stale SMS are not sent late."""
    rig = make_rig()
    await rig.acceptor.accept(parse_webhook(sms.payload([sms.alert(scope="app")])))
    rig.clock.step(3601)
    assert await rig.sender.run_once() == 1
    assert rig.requests == []
    assert rig.states() == [("dead", 0)]
    assert rig.value("dead_total", reason="expired") == 1


async def test_duplicates_are_dropped_within_the_window_only(make_rig: Any, sms: Any) -> None:
    """The same notification twice in 15m is one SMS; after the window it is new again."""
    rig = make_rig()
    body = parse_webhook(sms.payload([sms.alert(scope="app")]))
    first = await rig.acceptor.accept(body)
    second = await rig.acceptor.accept(body)
    assert (first.duplicate, len(first.ids)) == (False, 1)
    assert (second.duplicate, second.ids) == (True, ())
    assert rig.value("duplicates_dropped_total") == 1
    rig.clock.step(15 * 60 + 1)
    third = await rig.acceptor.accept(body)
    assert third.duplicate is False


async def test_rate_limit_trips_once_with_a_summary_sms(make_rig: Any, sms: Any) -> None:
    """Limit 2/h: alerts 1-2 queue, alert 3 trips it (one summary), alert 4 is suppressed."""
    rig = make_rig(rate_limit={"max_messages": 2, "per": "1h", "summary_template": "rate_limited"})
    for n in range(4):
        alert = sms.alert(scope="app", fingerprint=f"f{n}", alertname="EOfficeDown")
        await rig.acceptor.accept(parse_webhook(sms.payload([alert], group_key=f"g{n}")))
    with sqlite3.connect(rig.config.outbox.path) as conn:
        rows = conn.execute("SELECT kind, number, body FROM outbox ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["alert", "alert", "summary"]
    assert rows[2][2] == (
        "ITDA: SMS limit of 2 reached; more alerts until 24 Nov 22:30 IST by email. -ITDA"
    )
    assert rig.value("suppressed_total", reason="rate_limited") == 2
    assert rig.value("messages_queued_total", kind="summary") == 1
    rig.clock.step(3601)
    alert = sms.alert(scope="app", fingerprint="late", alertname="EOfficeDown")
    await rig.acceptor.accept(parse_webhook(sms.payload([alert], group_key="late")))
    assert rig.value("messages_queued_total", kind="alert") == 3


async def test_resolved_goes_only_to_people_who_got_the_firing(make_rig: Any, sms: Any) -> None:
    """resolved: if_fired sends RESOLVED after a FIRING; never-routes and unseen groups don't."""
    rig = make_rig()
    resolved_alert = sms.alert(status="resolved", ends_at="2026-11-25T05:00:00Z")
    orphan = await rig.acceptor.accept(
        parse_webhook(sms.payload([resolved_alert], status="resolved", group_key="other"))
    )
    assert orphan.ids == ()
    await rig.acceptor.accept(parse_webhook(sms.payload()))
    resolved = await rig.acceptor.accept(
        parse_webhook(sms.payload([resolved_alert], status="resolved"))
    )
    with sqlite3.connect(rig.config.outbox.path) as conn:
        rows = conn.execute(
            "SELECT number, status, body FROM outbox WHERE id = ?", (resolved.ids[0],)
        ).fetchall()
    assert len(resolved.ids) == 1  # on-call only; the director route has resolved: never
    assert rows == [
        (
            "+919876543210",
            "resolved",
            "ITDA ALERT RESOLVED: Parichay - ParichayDown (central scope) since 25 Nov 09:42 IST. -ITDA",
        )
    ]
    assert rig.value("suppressed_total", reason="resolved_policy") == 3


async def test_a_locked_outbox_raises_outbox_unavailable(make_rig: Any, sms: Any) -> None:
    """If the database cannot be written, accept() fails loudly and nothing is half-written."""
    rig = make_rig()
    blocker = sqlite3.connect(rig.config.outbox.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OutboxUnavailable):
            await rig.acceptor.accept(parse_webhook(sms.payload()))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert rig.states() == []
    again = await rig.acceptor.accept(parse_webhook(sms.payload()))
    assert again.duplicate is False


async def test_a_provider_bug_is_a_failed_attempt_not_a_dead_worker(
    make_rig: Any, sms: Any
) -> None:
    """An exception inside a provider is logged and retried like a transport error."""
    rig = make_rig()

    class Exploding:
        name = "nic"

        async def send(self, sms_: Any, *, client: httpx.AsyncClient) -> Any:
            raise RuntimeError("bug")

    rig.sender.providers = (Exploding(),)
    await rig.acceptor.accept(parse_webhook(sms.payload([sms.alert(scope="app")])))
    assert await rig.sender.run_once() == 1
    assert rig.states() == [("pending", 1)]
    assert rig.value("send_failures_total", provider="nic", reason="transport_error") == 1
    assert rig.value("retries_total") == 1


def _rows(rig: Any) -> list[tuple[str, str, str]]:
    with sqlite3.connect(rig.config.outbox.path) as conn:
        return [
            (r[0], r[1], r[2])
            for r in conn.execute("SELECT kind, number, status FROM outbox ORDER BY id")
        ]


async def test_a_stale_firing_after_the_resolved_is_dropped_even_after_the_dedup_window(
    make_rig: Any, sms: Any
) -> None:
    """Two Alertmanagers: the second can send the group's FIRING again after its peer sent
    the RESOLVED (alertmanager#4008). Nothing goes out for it, however long the incident
    lasted; a real re-fire (a new startsAt) still pages."""
    rig = make_rig()
    firing = sms.payload()
    await rig.acceptor.accept(parse_webhook(firing))
    rig.clock.step(3 * 3600)  # longer than dedup_window (15m): the key alone would not catch it
    resolved_alert = sms.alert(status="resolved", ends_at="2026-11-25T07:12:00Z")
    await rig.acceptor.accept(parse_webhook(sms.payload([resolved_alert], status="resolved")))
    before = _rows(rig)
    stale = await rig.acceptor.accept(parse_webhook(firing))
    assert stale.ids == ()
    assert _rows(rig) == before
    assert [status for _, _, status in before] == ["firing", "firing", "resolved"]
    assert rig.value("suppressed_total", reason="stale_firing") == 1
    again = sms.alert(starts_at="2026-11-25T08:00:00Z")
    refire = await rig.acceptor.accept(parse_webhook(sms.payload([again])))
    assert len(refire.ids) == 2  # on-call and director: a new incident


async def test_the_resolved_email_goes_once_and_only_after_a_firing(
    make_rig: Any, sms: Any, tmp_path: Path
) -> None:
    """resolved_email_to: one RESOLVED email per address, only for a group that paged this
    route; the duplicate RESOLVED of the second Alertmanager adds nothing."""
    routes = sms.base_config(tmp_path, gateway_url="http://gw.test")["routes"]
    routes[0]["resolved_email_to"] = ["itda-ops@example.gov.in", "noc@example.gov.in"]
    rig = make_rig(
        routes=routes,
        smtp={"host": "127.0.0.1", "port": 2525, "tls": "none", "from": "bridge@example.gov.in"},
    )
    resolved_alert = sms.alert(status="resolved", ends_at="2026-11-25T05:00:00Z")
    orphan = await rig.acceptor.accept(
        parse_webhook(sms.payload([resolved_alert], status="resolved", group_key="never-fired"))
    )
    assert orphan.ids == ()
    await rig.acceptor.accept(parse_webhook(sms.payload()))
    resolved = sms.payload([resolved_alert], status="resolved")
    await rig.acceptor.accept(parse_webhook(resolved))
    await rig.acceptor.accept(parse_webhook(resolved))  # the peer's copy
    emails = [(n, s) for kind, n, s in _rows(rig) if kind == "email"]
    assert emails == [
        ("itda-ops@example.gov.in", "resolved"),
        ("noc@example.gov.in", "resolved"),
    ]
    with sqlite3.connect(rig.config.outbox.path) as conn:
        (body,) = conn.execute("SELECT body FROM outbox WHERE kind = 'email' LIMIT 1").fetchone()
    subject, _, text = body.partition("\n\n")
    assert subject == "[RESOLVED] PAGE ParichayDown | scope: central | target: parichay | समस्या समाप्त"
    assert "Since / कब से:          25 Nov 2026 09:42 IST (04:12 UTC)" in text
    assert "Resolved / समाप्त:      25 Nov 2026 10:30 IST (05:00 UTC)" in text
    assert rig.value("messages_queued_total", kind="email") == 2
