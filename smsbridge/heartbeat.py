"""The dead man's switch: Alertmanager's always-firing `Watchdog` must keep calling.

Alertmanager posts the Watchdog alert to ``POST /heartbeat`` about every minute. If no
authorised, well-formed heartbeat arrives for `heartbeat.silence` (default 5m), the
monitoring chain (Prometheus, its rules, both Alertmanagers, or the path to the bridge)
is broken and nothing else can page, so the bridge texts the on-call group itself
through its own providers, and emails them if an SMTP relay is configured. The first
heartbeat after that sends exactly one recovery message.

Everything that matters survives a restart: the last heartbeat, whether the chain is
considered broken (so a restart mid-outage sends no second "broken" but does send the
recovery), and the messages themselves, which are outbox rows. State changes and the
rows they produce are written in one transaction. After a start the clock for silence
begins at the later of the last stored heartbeat and the start itself, so a bridge
that was down does not page the moment it is back, and a bridge that Alertmanager never
calls still pages `silence` after it started.

Example: with silence 5m and heartbeats at 10:00 and 10:01, `check()` at 10:06 queues
"no heartbeat since 10:01 IST" once; a heartbeat at 10:20 queues one "restored".
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx

from servicekit.clock import Clock

from .config import Config, HeartbeatConfig
from .metrics import BridgeMetrics
from .outbox import HeartbeatState, NewMessage, Outbox, Transaction
from .render import format_time
from .templates import fill

log = logging.getLogger("smsbridge.heartbeat")
GROUP_KEY = "heartbeat"
RUNBOOK = "docs/runbooks/Watchdog.md"


def format_silence(seconds: float) -> str:
    """``300`` -> ``5m``, ``90`` -> ``90s``, ``7200`` -> ``2h``: the config's own grammar."""
    whole = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s" if whole >= 1 else f"{int(seconds * 1000)}ms"


@dataclass(frozen=True, slots=True, kw_only=True)
class Email:
    subject: str
    body: str


def chain_email(*, recovered: bool, since: str, ended: str, silence: str) -> Email:
    """The plain-text email for a broken or restored chain (English, then Hindi)."""
    host = socket.gethostname()
    if not recovered:
        return Email(
            subject=f"[ITDA] FIRING: monitoring chain broken - no heartbeat since {since} IST",
            body=(
                f"The SMS bridge has had no heartbeat (Alertmanager's always-firing Watchdog "
                f"alert) since {since} IST, longer than the allowed {silence}.\n\n"
                "Until this is fixed NO monitoring alert can reach you: Prometheus, its rule "
                "evaluation, both Alertmanagers, or the path from them to the SMS bridge has "
                "stopped. Look at Parichay and e-Office yourself meanwhile.\n\n"
                "First checks: Prometheus and Alertmanager /-/healthy; "
                "alertmanager_notifications_failed_total; the bridge log for /heartbeat "
                f"requests answered 401 or 400. Runbook: {RUNBOOK}\n\n"
                f"निगरानी श्रृंखला टूटी है: {since} IST से कोई हार्टबीट नहीं मिली। जब तक "
                "यह ठीक नहीं होता, कोई निगरानी अलर्ट आप तक नहीं पहुँचेगा।\n\n"
                f"-- parichay-sms-bridge on {host}\n"
            ),
        )
    return Email(
        subject=f"[ITDA] RESOLVED: monitoring chain restored at {ended} IST",
        body=(
            f"Heartbeats from Alertmanager reach the SMS bridge again since {ended} IST. "
            f"They were missing from {since} IST.\n\n"
            "Alerts that fired during the gap may never have been sent: check the "
            "Alertmanager and Grafana history for that time.\n\n"
            f"निगरानी श्रृंखला {ended} IST पर बहाल हुई; {since} IST से हार्टबीट नहीं थी। "
            "इस बीच के अलर्ट शायद नहीं भेजे गए।\n\n"
            f"-- parichay-sms-bridge on {host}\n"
        ),
    )


def plan_chain_messages(
    config: Config, *, recovered: bool, since: float, ended: float | None, status: str
) -> list[NewMessage]:
    """Outbox rows for a broken (or restored) chain: each template once per number, and
    one email per `heartbeat.email_to` address when SMTP is configured (pure)."""
    hb = config.heartbeat
    if hb is None:
        return []
    tz = ZoneInfo(config.messages.timezone)
    values = {
        "since": format_time(datetime.fromtimestamp(since, UTC), tz),
        "ended": "" if ended is None else format_time(datetime.fromtimestamp(ended, UTC), tz),
        "silence": format_silence(hb.silence),
    }
    out: list[NewMessage] = []
    seen: set[tuple[str, str]] = set()
    for name in hb.recovery_templates if recovered else hb.templates:
        template = config.templates[name]
        filled = fill(template, values, max_parts=config.messages.max_parts)
        for group in hb.recipients:
            for recipient in config.recipients.get(group, ()):
                if (recipient.number, name) in seen:
                    continue
                seen.add((recipient.number, name))
                out.append(
                    NewMessage(
                        kind="heartbeat",
                        number=recipient.number,
                        route="heartbeat",
                        template=name,
                        dlt_template_id=template.dlt_template_id,
                        body=filled.text,
                        parts=filled.info.parts,
                        group_key=GROUP_KEY,
                        status=status,
                    )
                )
    if config.smtp is not None:
        email = chain_email(recovered=recovered, **values)
        for address in hb.email_to:
            out.append(
                NewMessage(
                    kind="email",
                    number=address,
                    route="heartbeat",
                    template="email",
                    dlt_template_id="",
                    body=f"{email.subject}\n\n{email.body}",
                    parts=0,
                    group_key=GROUP_KEY,
                    status=status,
                )
            )
    return out


class HeartbeatWatch:
    """Records heartbeats and notices silence; see the module docstring."""

    def __init__(
        self,
        *,
        config: Config,
        outbox: Outbox,
        clock: Clock,
        metrics: BridgeMetrics,
        client: httpx.AsyncClient,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.clock = clock
        self.metrics = metrics
        self.client = client
        self.on_queued = on_queued
        self.started_at = clock.now()
        self._forwarding: asyncio.Task[None] | None = None
        self.apply_config(config)

    def apply_config(self, config: Config) -> None:
        """Use `config` from now on (start and reload)."""
        self.config = config
        hb = config.heartbeat
        self.metrics.heartbeat_silence.set(0.0 if hb is None else hb.silence)

    async def load(self) -> HeartbeatState:
        """Start the silence clock and read the stored state into the metrics (at start,
        after the outbox opens)."""
        self.started_at = self.clock.now()
        state = await asyncio.to_thread(self.outbox.heartbeat_state)
        self._publish(state)
        return state

    def _count(self, kinds: list[str]) -> None:
        for kind in set(kinds):
            self.metrics.queued.labels(kind).inc(kinds.count(kind))

    def _publish(self, state: HeartbeatState) -> None:
        self.metrics.last_heartbeat.set(state.last_at or 0.0)
        self.metrics.heartbeat_missing.set(0.0 if state.broken_at is None else 1.0)

    async def beat(self) -> bool:
        """Record one heartbeat; queue the recovery message if the chain was broken.
        Returns True if this heartbeat ended an outage."""
        now = self.clock.now()
        config = self.config

        queued: list[str] = []

        def action(tx: Transaction) -> tuple[HeartbeatState, bool]:
            queued.clear()
            state = tx.heartbeat_state()
            recovered = state.broken_at is not None
            if recovered:
                since = state.silent_since if state.silent_since is not None else now
                for message in plan_chain_messages(
                    config, recovered=True, since=since, ended=now, status="resolved"
                ):
                    tx.add(message)
                    queued.append(message.kind)
            new = HeartbeatState(last_at=now)
            tx.set_heartbeat_state(new)
            return new, recovered

        state, recovered = await asyncio.to_thread(self.outbox.transact, now=now, action=action)
        self._count(queued)
        self.metrics.heartbeats.inc()
        self._publish(state)
        if recovered:
            log.warning("heartbeat resumed: monitoring chain restored, recovery queued")
            self.on_queued()
        self._forward()
        return recovered

    async def check(self) -> bool:
        """Declare the chain broken (or remind) if silence has lasted too long; True if
        messages were queued."""
        hb = self.config.heartbeat
        if hb is None:
            return False
        now = self.clock.now()
        config = self.config
        started = self.started_at

        queued: list[str] = []

        def action(tx: Transaction) -> tuple[HeartbeatState, str]:
            queued.clear()
            state = tx.heartbeat_state()
            if state.broken_at is None:
                silent_since = max(state.last_at or 0.0, started)
                if now - silent_since < hb.silence:
                    return state, ""
                status, since = "firing", silent_since
                state = replace(state, broken_at=now, silent_since=silent_since, reminded_at=now)
            elif hb.reminder is not None and now - (state.reminded_at or 0.0) >= hb.reminder:
                status = "reminder"
                since = state.silent_since if state.silent_since is not None else now
                state = replace(state, reminded_at=now)
            else:
                return state, ""
            for message in plan_chain_messages(
                config, recovered=False, since=since, ended=None, status=status
            ):
                tx.add(message)
                queued.append(message.kind)
            tx.set_heartbeat_state(state)
            return state, status

        state, status = await asyncio.to_thread(self.outbox.transact, now=now, action=action)
        self._count(queued)
        self._publish(state)
        if not status:
            return False
        log.error(
            "no heartbeat: monitoring chain broken, on-call notified"
            if status == "firing"
            else "no heartbeat still: reminder queued",
            extra={
                "silent_since": state.silent_since or 0.0,
                "silence_seconds": hb.silence,
            },
        )
        self.on_queued()
        return True

    async def run(self) -> None:
        """Check every `check_interval` until cancelled; outbox errors are retried."""
        while True:
            hb = self.config.heartbeat
            interval = hb.check_interval if hb is not None else 5.0
            try:
                await self.check()
            except Exception:  # an outbox hiccup must not end the watch
                log.exception("heartbeat check failed; will retry")
            await self.clock.sleep(interval)

    def _forward(self) -> None:
        hb = self.config.heartbeat
        if hb is None or hb.forward_url is None:
            return
        if self._forwarding is not None and not self._forwarding.done():
            return  # one ping in flight is enough; the next heartbeat comes within minutes
        self._forwarding = asyncio.create_task(self._ping(hb), name="smsbridge-heartbeat-ping")

    async def _ping(self, hb: HeartbeatConfig) -> None:
        assert hb.forward_url is not None
        try:
            response = await self.client.post(hb.forward_url.reveal(), content=b"")
            ok = 200 <= response.status_code < 300
            detail = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            # The exception text carries the URL, which is a credential: only its type.
            ok, detail = False, type(exc).__name__
        if ok:
            self.metrics.forwarded.labels("ok").inc()
        else:
            self.metrics.forwarded.labels("failed").inc()
            log.warning("heartbeat forward failed", extra={"detail": detail})

    async def stop(self) -> None:
        task = self._forwarding
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
