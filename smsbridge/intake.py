"""Accepting a webhook: route, render, apply the resolved policy and rate limits, enqueue.

`plan_deliveries()` is pure: for each configured route it keeps the alerts whose labels
match, renders each of the route's templates for that sub-group, and yields one
`Delivery` per (recipient number, template), a number receiving a given template once
even when several routes name it. `Acceptor.accept()` then writes them to the outbox
in one transaction, where the "was the FIRING sent", "was this incident already
resolved" and per-recipient rate-limit questions are answered against durable state.

One incident never goes backwards: once an alert (`fingerprint@startsAt`) was reported
resolved, a FIRING that holds only such alerts is dropped (`stale_firing`). Two clustered
Alertmanagers send one when the second takes its snapshot of the group just before
Prometheus's resolve reaches it and its peer sends the RESOLVED just after
(alertmanager#4008); the dedup window alone misses it once an incident outlasts the window.
A route's `resolved_email_to` gets the RESOLVED by email from here, once, for the same
reason: Alertmanager's own page email is FIRING-only (`send_resolved: false`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

from servicekit.clock import Clock

from .config import Config, Route
from .config_sections import RateLimitConfig
from .metrics import BridgeMetrics
from .outbox import AcceptResult, NewMessage, Outbox, Transaction
from .payload import Alert, WebhookMessage
from .render import alert_ids, dedup_key, format_time, group_values, render, resolved_email

log = logging.getLogger("smsbridge.intake")
# Alerts that exist only to prove the chain works; see heartbeat.py.
HEARTBEAT_ALERTS: Final = frozenset({"Watchdog"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    route: Route
    template: str
    dlt_template_id: str
    number: str
    text: str
    parts: int


def _common(alerts: tuple[Alert, ...], attr: str) -> dict[str, str]:
    maps = [getattr(a, attr) for a in alerts]
    first = dict(maps[0])
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def _subset(
    message: WebhookMessage, keep: Callable[[Alert], bool], *, route: bool
) -> WebhookMessage | None:
    """The alerts of a group that `keep` accepts, with common labels and annotations
    recomputed (None if none is left). A route's part also drops the count of alerts
    Alertmanager left out, which belong to no route in particular."""
    alerts = tuple(a for a in message.alerts if keep(a))
    if not alerts:
        return None
    if len(alerts) == len(message.alerts):
        return message
    return replace(
        message,
        alerts=alerts,
        common_labels=MappingProxyType(_common(alerts, "labels")),
        common_annotations=MappingProxyType(_common(alerts, "annotations")),
        truncated_alerts=0 if route else message.truncated_alerts,
    )


def route_subset(message: WebhookMessage, route: Route) -> WebhookMessage | None:
    """The part of the group a route cares about, with common labels recomputed."""
    return _subset(message, lambda a: route.matches(a.labels), route=True)


def without_heartbeats(message: WebhookMessage) -> WebhookMessage | None:
    """The group minus any `Watchdog` alert (None if nothing else is left).

    The always-firing Watchdog belongs on /heartbeat; if a route sends it to
    /alertmanager by mistake it must never be texted (it would page every repeat).
    """
    return _subset(
        message, lambda a: a.labels.get("alertname") not in HEARTBEAT_ALERTS, route=False
    )


def plan_deliveries(message: WebhookMessage, *, config: Config) -> list[Delivery]:
    """Every SMS this webhook asks for, before resolved policy and rate limits (pure)."""
    kept = without_heartbeats(message)
    if kept is None:
        return []
    message = kept
    tz = ZoneInfo(config.messages.timezone)
    seen: set[tuple[str, str]] = set()
    out: list[Delivery] = []
    for route in config.routes:
        subset = route_subset(message, route)
        if subset is None:
            continue
        values = group_values(subset, tz=tz, max_var_chars=config.messages.max_var_chars)
        for template_name in route.templates:
            template = config.templates[template_name]
            filled = render(template, values, max_parts=config.messages.max_parts)
            for group in route.recipients:
                for recipient in config.recipients[group]:
                    key = (recipient.number, template_name)
                    if key in seen:
                        continue
                    seen.add(key)
                    out.append(
                        Delivery(
                            route=route,
                            template=template_name,
                            dlt_template_id=template.dlt_template_id,
                            number=recipient.number,
                            text=filled.text,
                            parts=filled.info.parts,
                        )
                    )
    return out


class Acceptor:
    """Turns a parsed webhook into outbox rows; see the module docstring."""

    def __init__(
        self, *, config: Config, outbox: Outbox, clock: Clock, metrics: BridgeMetrics
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.clock = clock
        self.metrics = metrics

    def _summary_message(self, number: str, group_key: str, now: float) -> NewMessage | None:
        limit = self.config.rate_limit
        if limit is None or limit.summary_template is None:
            return None
        template = self.config.templates[limit.summary_template]
        tz = ZoneInfo(self.config.messages.timezone)
        until = format_time(datetime.fromtimestamp(now + limit.per, UTC), tz)
        filled = render(
            template,
            {"until": until, "limit": str(limit.max_messages)},
            max_parts=self.config.messages.max_parts,
        )
        return NewMessage(
            kind="summary",
            number=number,
            route="rate_limit",
            template=template.name,
            dlt_template_id=template.dlt_template_id,
            body=filled.text,
            parts=filled.info.parts,
            group_key=group_key,
            status="summary",
        )

    def _resolved_emails(self, message: WebhookMessage) -> list[tuple[Route, NewMessage]]:
        """The RESOLVED emails this group asks for, per route (before the policy)."""
        kept = without_heartbeats(message)
        if kept is None or message.status != "resolved":
            return []
        tz = ZoneInfo(self.config.messages.timezone)
        out: list[tuple[Route, NewMessage]] = []
        seen: set[str] = set()
        for route in self.config.routes:
            subset = route_subset(kept, route)
            if subset is None:
                continue
            subject, text = resolved_email(subset, tz=tz)
            for address in route.resolved_email_to:
                if address in seen:
                    continue
                seen.add(address)
                email = NewMessage(
                    kind="email",
                    number=address,
                    route=route.name,
                    template="resolved_email",
                    dlt_template_id="",
                    body=f"{subject}\n\n{text}",
                    parts=1,
                    group_key=message.group_key,
                    status="resolved",
                )
                out.append((route, email))
        return out

    async def accept(self, message: WebhookMessage) -> AcceptResult:
        """Enqueue durably (raises OutboxUnavailable); duplicates are dropped."""
        deliveries = plan_deliveries(message, config=self.config)
        if without_heartbeats(message) is None:
            log.warning(
                "Watchdog alert posted to /alertmanager ignored; route it to /heartbeat",
                extra={"group_key": message.group_key},
            )
        now = self.clock.now()
        tally: Tally[str] = Tally()
        limit = self.config.rate_limit

        firing_ids = alert_ids(tuple(a for a in message.alerts if a.status == "firing"))
        resolved_ids = alert_ids(tuple(a for a in message.alerts if a.status == "resolved"))
        emails = self._resolved_emails(message)

        def plan(tx: Transaction) -> None:
            tally.clear()
            if message.status == "firing" and firing_ids <= tx.ended(message.group_key):
                tally["stale_firing"] += 1
                return
            tx.mark_ended(message.group_key, resolved_ids)
            self._queue_emails(tx, message, emails, tally)
            for d in deliveries:
                if self._suppressed_by_policy(tx, message, d):
                    tally["resolved_policy"] += 1
                    continue
                if limit is not None and self._rate_limited(tx, limit, d, message, tally):
                    continue
                tx.add(_alert_message(d, message))
                tally["alert"] += 1

        result = await asyncio.to_thread(
            self.outbox.accept,
            now=now,
            dedup_key=dedup_key(message),
            dedup_window=self.config.dedup_window,
            plan=plan,
        )
        self._record(message, result, tally)
        return result

    @staticmethod
    def _queue_emails(
        tx: Transaction,
        message: WebhookMessage,
        emails: list[tuple[Route, NewMessage]],
        tally: Tally[str],
    ) -> None:
        """Queue each route's RESOLVED email if its policy allows (always, or it fired)."""
        for route, email in emails:
            if route.resolved == "always" or tx.route_fired(
                route=route.name, group_key=message.group_key
            ):
                tx.add(email)
                tally["email"] += 1

    @staticmethod
    def _suppressed_by_policy(tx: Transaction, message: WebhookMessage, d: Delivery) -> bool:
        """A RESOLVED this route does not send (never, or if_fired and it did not fire)."""
        if message.status != "resolved":
            return False
        return d.route.resolved == "never" or (
            d.route.resolved == "if_fired"
            and not tx.was_fired(route=d.route.name, group_key=message.group_key, number=d.number)
        )

    def _rate_limited(
        self,
        tx: Transaction,
        limit: RateLimitConfig,
        d: Delivery,
        message: WebhookMessage,
        tally: Tally[str],
    ) -> bool:
        """Whether `d.number` is over its limit; if so, queue its one summary per window."""
        since = tx.now - limit.per
        if tx.count_alerts_since(d.number, since) < limit.max_messages:
            return False
        tally["rate_limited"] += 1
        if not tx.summary_since(d.number, since):
            summary = self._summary_message(d.number, message.group_key, tx.now)
            if summary is not None:
                tx.add(summary)
                tally["summary"] += 1
        return True

    def _record(self, message: WebhookMessage, result: AcceptResult, tally: Tally[str]) -> None:
        """Metrics and the log line for one accepted (or duplicate) webhook."""
        if result.duplicate:
            self.metrics.dupes.inc()
            log.info(
                "duplicate webhook dropped",
                extra={"group_key": message.group_key, "status": message.status},
            )
            return
        for kind in ("alert", "summary", "email"):
            if tally[kind]:
                self.metrics.queued.labels(kind).inc(tally[kind])
        for reason in ("rate_limited", "resolved_policy", "stale_firing"):
            if tally[reason]:
                self.metrics.suppressed.labels(reason).inc(tally[reason])
        log.info(
            "webhook accepted",
            extra={
                "group_key": message.group_key,
                "status": message.status,
                "alerts": len(message.alerts),
                "queued": tally["alert"] + tally["summary"] + tally["email"],
                "rate_limited": tally["rate_limited"],
                "resolved_suppressed": tally["resolved_policy"],
                "stale_firing": tally["stale_firing"],
            },
        )


def _alert_message(d: Delivery, message: WebhookMessage) -> NewMessage:
    """The outbox row for one planned alert SMS."""
    return NewMessage(
        kind="alert",
        number=d.number,
        route=d.route.name,
        template=d.template,
        dlt_template_id=d.dlt_template_id,
        body=d.text,
        parts=d.parts,
        group_key=message.group_key,
        status=message.status,
    )
