"""The sender worker: delivers due outbox rows with back-off, jitter and failover.

One `Sender.run()` task per process. Each round takes up to `concurrency` due rows,
tries the configured providers in order for each, and records the outcome in the
outbox before taking more: `sent`, a retry at ``now + backoff_delay(attempts)``, or
`dead` once the message is older than `outbox.max_age`. Cancelling `run()` (SIGTERM)
abandons in-flight attempts without recording them, so those rows stay pending and
are retried after a restart; a gateway may then see the same SMS twice, never zero
times.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from typing import Final

import httpx

from servicekit.clock import Clock

from .config import Config
from .mailer import MailResult, build_email, send_email, split_stored
from .metrics import BridgeMetrics
from .outbox import Outbox, OutboxUnavailable, PendingMessage
from .providers import FailureReason, OutgoingSms, Provider, SendResult
from .segments import Encoding, encoding_of

log = logging.getLogger("smsbridge.sender")
PRUNE_EVERY: Final = 3600.0


def backoff_delay(attempt: int, *, initial: float, maximum: float, rng: random.Random) -> float:
    """Delay before retry number `attempt` (1-based): exponential, capped, "equal jitter".

    The delay is uniformly drawn from [d/2, d] where d = min(maximum, initial * 2**(attempt-1)),
    so retries from many messages spread out yet never come sooner than half the schedule.
    """
    base = min(maximum, initial * 2.0 ** min(max(attempt, 1) - 1, 32))
    return base / 2 + rng.uniform(0.0, base / 2)


class Sender:
    """See the module docstring."""

    def __init__(
        self,
        *,
        config: Config,
        outbox: Outbox,
        providers: Sequence[Provider],
        client: httpx.AsyncClient,
        clock: Clock,
        metrics: BridgeMetrics,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.providers = tuple(providers)
        self.client = client
        self.clock = clock
        self.metrics = metrics
        self.rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._last_prune = 0.0

    def wake(self) -> None:
        """Tell the worker new rows are due (called after a webhook is accepted)."""
        self._wake.set()

    async def run_once(self) -> int:
        """Deliver up to `concurrency` due rows concurrently; return how many were handled."""
        now = self.clock.now()
        rows = await asyncio.to_thread(
            self.outbox.due, now=now, limit=self.config.sender.concurrency
        )
        if rows:
            async with asyncio.TaskGroup() as group:
                for row in rows:
                    group.create_task(self._deliver(row))
        return len(rows)

    async def run(self) -> None:
        """Loop until cancelled. Outbox errors are logged and retried, never fatal."""
        cfg = self.config.sender
        while True:
            self._wake.clear()
            try:
                handled = await self.run_once()
                await self._maybe_prune()
                delay = 0.0 if handled else await self._idle_delay()
            except OutboxUnavailable as exc:
                log.error("outbox unavailable in sender", extra={"error": str(exc)})
                delay = cfg.poll_interval
            except Exception:  # a bug must not stop delivery of everything else
                log.exception("sender round failed")
                delay = cfg.poll_interval
            if delay > 0:
                try:
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def _idle_delay(self) -> float:
        next_due = await asyncio.to_thread(self.outbox.next_due_at)
        poll = self.config.sender.poll_interval
        if next_due is None:
            return poll
        return min(poll, max(0.0, next_due - self.clock.now()))

    async def _maybe_prune(self) -> None:
        now = self.clock.now()
        if now - self._last_prune < PRUNE_EVERY:
            return
        self._last_prune = now
        per = self.config.rate_limit.per if self.config.rate_limit else 0.0
        removed = await asyncio.to_thread(
            self.outbox.prune,
            now=now,
            keep_done=max(self.config.outbox.keep_done, per),
            dedup_window=self.config.dedup_window,
            fired_keep=max(self.config.outbox.keep_done, 86400.0),
        )
        if removed:
            log.info("pruned finished outbox rows", extra={"removed": removed})

    async def _deliver(self, row: PendingMessage) -> None:
        max_age = self.config.outbox.max_age
        now = self.clock.now()
        if now - row.created_at > max_age:
            await self._expire(row, now)
            return
        result, provider_name = await self._attempt(row)
        now = self.clock.now()
        if result.ok:
            await self._record_sent(row, result, provider_name, now)
        else:
            await self._record_failure(row, result, now, max_age)

    async def _expire(self, row: PendingMessage, now: float) -> None:
        """Give up on a row that outlived `outbox.max_age` before its first attempt."""
        await asyncio.to_thread(
            self.outbox.mark_dead,
            row.id,
            now=now,
            error="expired before sending",
            attempted=False,
        )
        self.metrics.dead.labels("expired").inc()
        log.error(
            "sms expired before it could be sent",
            extra={"message_id": row.id, "age_seconds": round(now - row.created_at)},
        )

    async def _attempt(self, row: PendingMessage) -> tuple[SendResult, str]:
        """One attempt at a row: an email through SMTP, an SMS through the providers."""
        if row.kind == "email":
            return await self._send_email(row), "smtp"
        sms = OutgoingSms(
            message_id=row.id,
            number=row.number,
            text=row.body,
            dlt_template_id=row.dlt_template_id,
            unicode=encoding_of(row.body) is Encoding.UCS2,
        )
        return await self._try_providers(sms)

    async def _record_sent(
        self, row: PendingMessage, result: SendResult, provider_name: str, now: float
    ) -> None:
        await asyncio.to_thread(
            self.outbox.mark_sent, row.id, now=now, gateway_ref=result.gateway_ref
        )
        if row.kind == "email":
            self.metrics.emails_sent.inc()
            log.info(
                "email sent",
                extra={"message_id": row.id, "attempt": row.attempts + 1, "route": row.route},
            )
            return
        self.metrics.sent.labels(provider_name).inc()
        self.metrics.parts.inc(row.parts)
        log.info(
            "sms sent",
            extra={
                "message_id": row.id,
                "provider": provider_name,
                "gateway": result.gateway,
                "request_id": result.gateway_ref,
                "attempt": row.attempts + 1,
                "parts": row.parts,
                "route": row.route,
                "template": row.template,
            },
        )

    async def _record_failure(
        self, row: PendingMessage, result: SendResult, now: float, max_age: float
    ) -> None:
        """Schedule a retry with back-off, or give up once the retry would pass `max_age`."""
        attempt = row.attempts + 1
        what = "email" if row.kind == "email" else "sms"
        cfg = self.config.sender
        next_at = now + backoff_delay(
            attempt, initial=cfg.retry_initial, maximum=cfg.retry_max, rng=self.rng
        )
        error = (f"{result.reason}: {result.detail}" if result.reason else result.detail)[:500]
        if next_at - row.created_at > max_age:
            await asyncio.to_thread(
                self.outbox.mark_dead, row.id, now=now, error=error, attempted=True
            )
            self.metrics.dead.labels("max_age").inc()
            log.error(
                f"{what} given up after max_age",
                extra={"message_id": row.id, "attempts": attempt, "error": error},
            )
            return
        await asyncio.to_thread(
            self.outbox.mark_retry, row.id, next_attempt_at=next_at, error=error
        )
        self.metrics.retries.inc()
        log.warning(
            f"{what} delivery failed, will retry",
            extra={
                "message_id": row.id,
                "attempt": attempt,
                "reason": str(result.reason or row.kind),
                "retry_in_seconds": round(next_at - now, 3),
                "detail": result.detail,
            },
        )

    async def _send_email(self, row: PendingMessage) -> SendResult:
        """One attempt at an email row through the configured SMTP relay."""
        smtp = self.config.smtp
        if smtp is None:
            mail = MailResult(ok=False, reason="no_relay", detail="no smtp section in the config")
        else:
            subject, text = split_stored(row.body)
            message = build_email(
                config=smtp, to=row.number, subject=subject, text=text, message_id=row.id
            )
            mail = await asyncio.to_thread(send_email, smtp, message)
        if mail.ok:
            return SendResult(ok=True)
        self.metrics.email_failures.labels(mail.reason).inc()
        return SendResult(ok=False, detail=f"{mail.reason}: {mail.detail}")

    async def _try_providers(self, sms: OutgoingSms) -> tuple[SendResult, str]:
        result = SendResult(ok=False, reason=FailureReason.TRANSPORT_ERROR, detail="no provider")
        name = ""
        for provider in self.providers:
            name = provider.name
            try:
                result = await provider.send(sms, client=self.client)
            except Exception:  # a provider bug must not kill the worker
                log.exception(
                    "provider raised", extra={"provider": name, "message_id": sms.message_id}
                )
                result = SendResult(
                    ok=False, reason=FailureReason.TRANSPORT_ERROR, detail="provider error"
                )
            if result.ok:
                return result, name
            self.metrics.failed.labels(name, str(result.reason)).inc()
        return result, name
