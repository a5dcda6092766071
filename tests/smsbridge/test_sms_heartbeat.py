"""The dead man's switch with an injected clock: silence, recovery, restarts, auth, limits."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from servicekit.clock import FakeClock
from smsbridge.app import BridgeService
from smsbridge.config import parse_config
from smsbridge.heartbeat import format_silence

START = 1_764_000_000.0  # 2025-11-24 16:00:00 UTC = 21:30 IST
ON_CALL = ("+919876543210", "+919811111111")


def _config(tmp_path: Path, gateway: Any, sms: Any, **heartbeat: Any) -> dict[str, Any]:
    data = sms.base_config(tmp_path, gateway_url=gateway.url)
    data["recipients"]["on-call"].append({"name": "Duty 2", "number": ON_CALL[1]})
    return sms.with_heartbeat(data, **heartbeat)


class Harness:
    """A BridgeService on loopback whose clock, sender and watch the test drives."""

    def __init__(self, tmp_path: Path, data: dict[str, Any], clock: FakeClock) -> None:
        self.tmp_path = tmp_path
        self.data = data
        self.clock = clock
        self.registry = CollectorRegistry()
        self.service = BridgeService(parse_config(data), registry=self.registry, clock=clock)

    async def start(self) -> None:
        await self.service.start(run_sender=False, run_watch=False)

    async def restart(self) -> None:
        """Stop and start a fresh service on the same outbox (a bridge restart)."""
        await self.service.stop()
        self.registry = CollectorRegistry()
        self.service = BridgeService(
            parse_config(self.data), registry=self.registry, clock=self.clock
        )
        await self.start()

    async def post(
        self, path: str, body: Any, *, token: str | None = None, raw: bytes | None = None
    ) -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(trust_env=False) as client:
            url = f"http://127.0.0.1:{self.service.port}{path}"
            if raw is not None:
                return await client.post(url, content=raw, headers=headers)
            return await client.post(url, json=body, headers=headers)

    def rows(self, *kinds: str) -> list[tuple[str, str, str, str, str]]:
        """(kind, number, template, status, body) of the outbox rows of these kinds."""
        marks = ",".join("?" * len(kinds))
        with sqlite3.connect(self.tmp_path / "outbox.sqlite3") as conn:
            return [
                (r[0], r[1], r[2], r[3], r[4])
                for r in conn.execute(
                    "SELECT kind, number, template, status, body FROM outbox"
                    f" WHERE kind IN ({marks}) ORDER BY id",
                    kinds,
                )
            ]

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        return self.registry.get_sample_value(name, labels or {})


def watchdog(sms: Any, *, status: str = "firing") -> dict[str, Any]:
    """The webhook Alertmanager sends for the Watchdog alert."""
    alert = sms.alert(
        alertname="Watchdog", severity="none", scope="monitoring", fingerprint="0d0d0d0d0d0d0d0d"
    )
    alert["labels"] = {"alertname": "Watchdog", "severity": "none", "scope": "monitoring"}
    alert["status"] = status
    return sms.payload(
        [alert], status=status, group_key='{}/{alertname="Watchdog"}:{alertname="Watchdog"}'
    )


@pytest.fixture
async def harness(tmp_path: Path, gateway: Any, sms: Any) -> AsyncIterator[Callable[..., Any]]:
    made: list[Harness] = []

    async def make(data: dict[str, Any] | None = None, **heartbeat: Any) -> Harness:
        h = Harness(
            tmp_path,
            data if data is not None else _config(tmp_path, gateway, sms, **heartbeat),
            FakeClock(START, autoadvance=True),
        )
        await h.start()
        made.append(h)
        return h

    yield make
    for h in made:
        await h.service.stop()


async def beat(h: Harness, sms: Any) -> None:
    response = await h.post("/heartbeat", watchdog(sms), token=sms.TOKEN)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "heartbeat", "queued": 0}


async def test_silence_queues_exactly_one_broken_message_per_recipient_and_template(
    harness: Callable[..., Any], sms: Any
) -> None:
    """No heartbeat for the silence: each on-call number gets each 'broken' template
    once, and later checks in the same outage queue nothing more."""
    h = await harness(silence="5m")
    await beat(h, sms)
    h.clock.step(299)
    assert await h.service.watch.check() is False
    assert h.rows("heartbeat") == []
    h.clock.step(1)
    assert await h.service.watch.check() is True
    rows = h.rows("heartbeat")
    assert sorted((r[1], r[2]) for r in rows) == sorted(
        (n, t) for n in ON_CALL for t in ("chain_broken_en", "chain_broken_hi")
    )
    english = next(r[4] for r in rows if r[2] == "chain_broken_en")
    assert english == (
        "ITDA ALERT: monitoring chain broken: no heartbeat since 24 Nov 21:30 IST (limit 5m)."
        " Alerts may not reach you. -ITDA"
    )
    hindi = next(r[4] for r in rows if r[2] == "chain_broken_hi")
    assert hindi == "ITDA चेतावनी: निगरानी श्रृंखला टूटी: 24 Nov 21:30 IST से कोई हार्टबीट नहीं। -ITDA"
    assert h.metric("parichay_smsbridge_heartbeat_missing") == 1
    for _ in range(10):
        h.clock.step(60)
        assert await h.service.watch.check() is False
    assert len(h.rows("heartbeat")) == 4
    assert h.metric("parichay_smsbridge_messages_queued_total", {"kind": "heartbeat"}) == 4


async def test_resumed_heartbeats_queue_exactly_one_recovery(
    harness: Callable[..., Any], sms: Any
) -> None:
    """The first heartbeat after an outage queues each recovery template once per number,
    naming when the silence began and when it ended; further heartbeats queue nothing."""
    h = await harness(silence="5m")
    await beat(h, sms)
    h.clock.step(600)
    assert await h.service.watch.check() is True
    h.clock.step(60)
    await beat(h, sms)
    await beat(h, sms)  # the HA peer's copy
    h.clock.step(60)
    await beat(h, sms)
    recovery = [r for r in h.rows("heartbeat") if r[3] == "resolved"]
    assert sorted((r[1], r[2]) for r in recovery) == sorted(
        (n, t) for n in ON_CALL for t in ("chain_ok_en", "chain_ok_hi")
    )
    assert next(r[4] for r in recovery if r[2] == "chain_ok_en") == (
        "ITDA OK: monitoring chain restored at 24 Nov 21:41 IST; no heartbeat from"
        " 24 Nov 21:30 IST. -ITDA"
    )
    assert h.metric("parichay_smsbridge_heartbeat_missing") == 0
    assert h.metric("parichay_smsbridge_heartbeats_total") == 4
    assert h.metric("parichay_smsbridge_last_heartbeat_timestamp_seconds") == START + 720
    assert h.metric("parichay_smsbridge_heartbeat_silence_seconds") == 300
    # A second outage is a new outage: it pages again.
    h.clock.step(301)
    assert await h.service.watch.check() is True
    assert [r[3] for r in h.rows("heartbeat")].count("firing") == 8


async def test_a_restart_mid_outage_sends_no_second_broken_but_does_send_recovery(
    harness: Callable[..., Any], sms: Any
) -> None:
    """The outage state is in the outbox: after a restart the bridge stays 'broken'
    (metric 1, nothing new queued however long the silence) and recovers once."""
    h = await harness(silence="5m")
    await beat(h, sms)
    h.clock.step(301)
    assert await h.service.watch.check() is True
    h.clock.step(3600)
    await h.restart()
    assert h.metric("parichay_smsbridge_heartbeat_missing") == 1
    assert h.metric("parichay_smsbridge_last_heartbeat_timestamp_seconds") == START
    for _ in range(3):
        h.clock.step(400)
        assert await h.service.watch.check() is False
    assert len(h.rows("heartbeat")) == 4
    await beat(h, sms)
    statuses = [r[3] for r in h.rows("heartbeat")]
    assert statuses == ["firing"] * 4 + ["resolved"] * 4


async def test_never_called_bridge_pages_one_silence_after_start(
    harness: Callable[..., Any], sms: Any
) -> None:
    """With no heartbeat ever, the silence counts from the bridge's start, and the text
    names the start time."""
    h = await harness(silence="5m")
    h.clock.step(299)
    assert await h.service.watch.check() is False
    assert h.metric("parichay_smsbridge_last_heartbeat_timestamp_seconds") == 0
    h.clock.step(1)
    assert await h.service.watch.check() is True
    assert "since 24 Nov 21:30 IST" in h.rows("heartbeat")[0][4]


async def test_a_bridge_back_from_downtime_waits_one_silence_before_paging(
    harness: Callable[..., Any], sms: Any
) -> None:
    """The bridge itself was down for an hour (not the chain): after the restart it
    gives Alertmanager one silence to call before paging, and then names the last heartbeat."""
    h = await harness(silence="5m")
    await beat(h, sms)
    h.clock.step(3600)
    await h.restart()
    assert await h.service.watch.check() is False
    h.clock.step(300)
    assert await h.service.watch.check() is True
    assert "since 24 Nov 22:30 IST" in h.rows("heartbeat")[0][4]


async def test_unauthorised_or_malformed_heartbeats_are_not_counted(
    harness: Callable[..., Any], sms: Any
) -> None:
    """401 without or with a wrong token, 400 for a body that is not a webhook, 200 but
    uncounted for a resolved Watchdog: none of them holds off the page."""
    h = await harness(silence="5m")
    assert (await h.post("/heartbeat", watchdog(sms))).status_code == 401
    assert (await h.post("/heartbeat", watchdog(sms), token="wrong")).status_code == 401
    bad = await h.post("/heartbeat", None, token=sms.TOKEN, raw=b'{"version": "4"}')
    assert bad.status_code == 400
    assert "alerts" in bad.json()["error"]
    assert (await h.post("/heartbeat", None, token=sms.TOKEN, raw=b"nope")).status_code == 400
    resolved = await h.post("/heartbeat", watchdog(sms, status="resolved"), token=sms.TOKEN)
    assert resolved.json() == {"status": "ignored", "queued": 0}
    assert h.metric("parichay_smsbridge_heartbeats_total") == 0
    assert h.metric("parichay_smsbridge_last_heartbeat_timestamp_seconds") == 0
    assert h.metric("parichay_smsbridge_webhooks_total", {"result": "unauthorized"}) == 2
    h.clock.step(300)
    assert await h.service.watch.check() is True


async def test_the_broken_message_passes_the_rate_limit_and_is_delivered(
    tmp_path: Path, harness: Callable[..., Any], gateway: Any, sms: Any
) -> None:
    """Numbers already at their SMS limit still get the chain-broken SMS, through the
    gateway with its DLT template id, and it does not use up their alert allowance."""
    data = _config(tmp_path, gateway, sms, silence="5m")
    data["rate_limit"] = {"max_messages": 1, "per": "1h", "summary_template": "rate_limited"}
    h = await harness(data)
    for i in range(2):
        body = sms.payload([sms.alert(fingerprint=f"f{i}", alertname=f"A{i}")])
        assert (await h.post("/alertmanager", body, token=sms.TOKEN)).status_code == 200
    # The second alert is over the limit for both on-call numbers and the director.
    assert h.metric("parichay_smsbridge_suppressed_total", {"reason": "rate_limited"}) == 3
    h.clock.step(301)
    assert await h.service.watch.check() is True
    while await h.service.sender.run_once():
        pass
    broken = [r for r in gateway.delivered if r.form["dlt_template_id"] == "1107160000000000011"]
    assert sorted(r.form["mnumber"] for r in broken) == ["919811111111", "919876543210"]
    assert broken[0].form["message"].startswith("ITDA ALERT: monitoring chain broken")
    # Heartbeat SMS are not alert SMS: the limit still counts one alert for the first number.
    with sqlite3.connect(tmp_path / "outbox.sqlite3") as conn:
        (alerts,) = conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE number = ? AND kind = 'alert'", (ON_CALL[0],)
        ).fetchone()
    assert alerts == 1


async def test_reminders_repeat_the_broken_message_only_at_the_reminder_interval(
    harness: Callable[..., Any], sms: Any
) -> None:
    """With `reminder: 1h`, a long outage re-sends the broken message hourly, not per poll."""
    h = await harness(silence="5m", reminder="1h")
    await beat(h, sms)
    h.clock.step(300)
    assert await h.service.watch.check() is True
    h.clock.step(3599)
    assert await h.service.watch.check() is False
    h.clock.step(1)
    assert await h.service.watch.check() is True
    statuses = [r[3] for r in h.rows("heartbeat")]
    assert statuses == ["firing"] * 4 + ["reminder"] * 4


async def test_a_watchdog_sent_to_the_sms_webhook_is_never_texted(
    harness: Callable[..., Any], gateway: Any, sms: Any
) -> None:
    """A misrouted Watchdog on /alertmanager is accepted and dropped, not texted, and
    it is not a heartbeat either (so the misrouting itself ends in a page)."""
    h = await harness(silence="5m")
    body = watchdog(sms)
    body["alerts"][0]["labels"]["severity"] = "page"  # even one that a route would match
    body["commonLabels"]["severity"] = "page"
    response = await h.post("/alertmanager", body, token=sms.TOKEN)
    assert response.json() == {"status": "accepted", "queued": 0}
    assert h.metric("parichay_smsbridge_heartbeats_total") == 0
    mixed = sms.payload([body["alerts"][0], sms.alert(fingerprint="p1")])
    # Two on-call numbers and the director, about ParichayDown alone (no "+1 more").
    assert (await h.post("/alertmanager", mixed, token=sms.TOKEN)).json()["queued"] == 3
    bodies = [r[4] for r in h.rows("alert")]
    assert all("ParichayDown" in b and "Watchdog" not in b and "more" not in b for b in bodies)


async def test_heartbeat_endpoint_without_the_switch_configured_is_404(
    tmp_path: Path, harness: Callable[..., Any], gateway: Any, sms: Any
) -> None:
    """A bridge without `heartbeat:` answers 404 (after auth) so Alertmanager reports a
    failed notification instead of a silent success; a reload that adds it turns it on."""
    plain = sms.base_config(tmp_path, gateway_url=gateway.url)
    h = await harness(plain)
    assert (await h.post("/heartbeat", watchdog(sms))).status_code == 401
    missing = await h.post("/heartbeat", watchdog(sms), token=sms.TOKEN)
    assert missing.status_code == 404
    assert h.metric("parichay_smsbridge_heartbeat_silence_seconds") == 0
    h.service.reload(parse_config(sms.with_heartbeat(plain, silence="2m")))
    await beat(h, sms)
    assert h.metric("parichay_smsbridge_heartbeat_silence_seconds") == 120
    h.clock.step(120)
    assert await h.service.watch.check() is True


async def test_each_heartbeat_is_forwarded_to_the_outside_checker(
    tmp_path: Path, harness: Callable[..., Any], gateway: Any, sms: Any, monkeypatch: Any
) -> None:
    """`forward_url_env`: every counted heartbeat POSTs to the ping URL; an uncounted one
    does not, and a failing checker is counted without logging the URL."""
    monkeypatch.setenv("SMSB_PING_URL", f"{gateway.url}/ping/uuid-secret-1234")
    h = await harness(silence="5m", forward_url_env="SMSB_PING_URL")
    await beat(h, sms)
    await gateway.wait_for(1, path="/ping/uuid-secret-1234")
    assert (await h.post("/heartbeat", watchdog(sms), token="wrong")).status_code == 401
    await sms.poll(
        lambda: h.metric("parichay_smsbridge_heartbeat_forwards_total", {"result": "ok"}) == 1
    )
    gateway.fail_always = True
    await beat(h, sms)
    await sms.poll(
        lambda: h.metric("parichay_smsbridge_heartbeat_forwards_total", {"result": "failed"}) == 1
    )
    assert len(gateway.on("/ping/uuid-secret-1234")) == 2


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(300, "5m", id="minutes"),
        pytest.param(90, "90s", id="seconds"),
        pytest.param(7200, "2h", id="hours"),
        pytest.param(3, "3s", id="short"),
    ],
)
def test_silence_is_written_in_the_config_grammar(seconds: float, text: str) -> None:
    """The {silence} placeholder reads like the config value."""
    assert format_silence(seconds) == text


async def test_reload_applies_a_new_silence_and_a_bad_file_keeps_the_old_one(
    tmp_path: Path, harness: Callable[..., Any], gateway: Any, sms: Any
) -> None:
    """SIGHUP's reload: a valid file's `silence` counts from the next check; a file with a
    broken heartbeat section is rejected and the running silence stays."""
    from smsbridge.cli import reload_from_file

    data = _config(tmp_path, gateway, sms, silence="5m")
    h = await harness(data)
    await beat(h, sms)
    path = sms.write_config(tmp_path, {**data, "heartbeat": {**data["heartbeat"], "silence": "1m"}})
    assert reload_from_file(h.service, str(path)) is True
    assert h.metric("parichay_smsbridge_heartbeat_silence_seconds") == 60
    bad = sms.write_config(
        tmp_path, {**data, "heartbeat": {**data["heartbeat"], "templates": ["alert_en"]}}
    )
    assert reload_from_file(h.service, str(bad)) is False
    assert h.metric("parichay_smsbridge_config_last_reload_successful") == 0
    assert h.metric("parichay_smsbridge_heartbeat_silence_seconds") == 60
    h.clock.step(60)
    assert await h.service.watch.check() is True
    assert "(limit 1m)" in h.rows("heartbeat")[0][4]
