"""The bridge's Prometheus metrics (prefix `parichay_smsbridge_`) on a caller's registry.

Counters are incremented by the HTTP face (`web.py`), the intake and the sender; queue
depth and the age of the oldest pending message are read from the outbox at scrape time by
`OutboxCollector`, so they are right after a restart. Known label values are created at
zero up front. The service's registry also carries prometheus_client's standard process and
Python collectors (`servicekit.metrics.register_runtime_collectors`). Library code never
touches the global registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .outbox import Outbox, OutboxUnavailable
from .providers import FailureReason

PREFIX: Final = "parichay_smsbridge_"
WEBHOOK_RESULTS: Final = (
    "accepted",
    "duplicate",
    "bad_request",
    "unauthorized",
    "too_large",
    "unavailable",
    "heartbeat",
    "heartbeat_resolved",
)
DEAD_REASONS: Final = ("expired", "max_age")
SUPPRESSED_REASONS: Final = ("rate_limited", "resolved_policy", "stale_firing")
EMAIL_FAILURES: Final = ("connect_error", "timeout", "tls_error", "auth", "rejected", "no_relay")


class BridgeMetrics:
    """All counters in one place, registered on `registry`."""

    def __init__(self, registry: CollectorRegistry, *, providers: Iterable[str] = ()) -> None:
        self.webhooks = Counter(
            PREFIX + "webhooks", "Webhook requests by result.", ["result"], registry=registry
        )
        self.queued = Counter(
            PREFIX + "messages_queued",
            "SMS written to the outbox, by kind.",
            ["kind"],
            registry=registry,
        )
        self.sent = Counter(
            PREFIX + "sent", "SMS accepted by a gateway.", ["provider"], registry=registry
        )
        self.parts = Counter(
            PREFIX + "sent_parts",
            "SMS parts (billing segments) accepted by a gateway.",
            registry=registry,
        )
        self.failed = Counter(
            PREFIX + "send_failures",
            "Failed delivery attempts by provider and reason.",
            ["provider", "reason"],
            registry=registry,
        )
        self.retries = Counter(
            PREFIX + "retries", "Deliveries rescheduled after a failed attempt.", registry=registry
        )
        self.dead = Counter(
            PREFIX + "dead",
            "SMS given up on: max_age reached while failing, or expired before the first attempt.",
            ["reason"],
            registry=registry,
        )
        self.dupes = Counter(
            PREFIX + "duplicates_dropped",
            "Webhooks dropped as duplicates (AM retries, HA peers).",
            registry=registry,
        )
        self.suppressed = Counter(
            PREFIX + "suppressed", "Messages not queued, by reason.", ["reason"], registry=registry
        )
        self.config_info = Gauge(
            PREFIX + "build_info", "Always 1; the bridge version.", ["version"], registry=registry
        )
        for result in WEBHOOK_RESULTS:
            self.webhooks.labels(result)
        for kind in ("alert", "summary", "heartbeat", "email"):
            self.queued.labels(kind)
        for reason in DEAD_REASONS:
            self.dead.labels(reason)
        for reason in SUPPRESSED_REASONS:
            self.suppressed.labels(reason)
        self.reload_ok = Gauge(
            PREFIX + "config_last_reload_successful",
            "1 if the last configuration (re)load succeeded; 0 while a rejected one is ignored.",
            registry=registry,
        )
        self.reload_time = Gauge(
            PREFIX + "config_last_reload_success_timestamp_seconds",
            "When the running configuration was loaded.",
            registry=registry,
        )
        self.heartbeats = Counter(
            PREFIX + "heartbeats",
            "Authorised, well-formed heartbeats received on /heartbeat.",
            registry=registry,
        )
        self.last_heartbeat = Gauge(
            PREFIX + "last_heartbeat_timestamp_seconds",
            "When the last heartbeat arrived (0 before any); survives restarts.",
            registry=registry,
        )
        self.heartbeat_missing = Gauge(
            PREFIX + "heartbeat_missing",
            "1 while the monitoring chain is considered broken (no heartbeat for the silence).",
            registry=registry,
        )
        self.heartbeat_silence = Gauge(
            PREFIX + "heartbeat_silence_seconds",
            "Heartbeat silence that counts as a broken chain (0 when the switch is off).",
            registry=registry,
        )
        self.forwarded = Counter(
            PREFIX + "heartbeat_forwards",
            "Heartbeats forwarded to the outside checker (heartbeat.forward_url), by result.",
            ["result"],
            registry=registry,
        )
        self.emails_sent = Counter(
            PREFIX + "emails_sent", "Emails accepted by the SMTP relay.", registry=registry
        )
        self.email_failures = Counter(
            PREFIX + "email_failures",
            "Failed email attempts by reason.",
            ["reason"],
            registry=registry,
        )
        for result in ("ok", "failed"):
            self.forwarded.labels(result)
        for reason in EMAIL_FAILURES:
            self.email_failures.labels(reason)
        self.add_providers(providers)

    def add_providers(self, providers: Iterable[str]) -> None:
        """Create the per-provider series at zero (also for providers added by a reload)."""
        for provider in providers:
            self.sent.labels(provider)
            for failure in FailureReason:
                self.failed.labels(provider, failure.value)


class OutboxCollector(Collector):
    """Queue depth and oldest pending age, read from the outbox at scrape time."""

    def __init__(self, outbox: Outbox, now: Callable[[], float]) -> None:
        self._outbox = outbox
        self._now = now

    def collect(self) -> Iterable[GaugeMetricFamily]:
        depth = GaugeMetricFamily(PREFIX + "queue_depth", "SMS pending in the outbox.")
        oldest = GaugeMetricFamily(
            PREFIX + "oldest_pending_age_seconds",
            "Age of the oldest pending SMS in the outbox (0 when empty).",
        )
        up = GaugeMetricFamily(PREFIX + "outbox_up", "1 if the outbox database is readable.")
        try:
            stats = self._outbox.stats()
        except OutboxUnavailable:
            up.add_metric([], 0.0)
            yield up
            return
        depth.add_metric([], float(stats.depth))
        age = 0.0 if stats.oldest_created_at is None else self._now() - stats.oldest_created_at
        oldest.add_metric([], max(0.0, age))
        up.add_metric([], 1.0)
        yield from (depth, oldest, up)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []
