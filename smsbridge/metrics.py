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

QUEUED_KINDS: Final = ("alert", "summary", "heartbeat", "email")
FORWARD_RESULTS: Final = ("ok", "failed")

# (attribute, kind, name after PREFIX, help, label names, label values created at zero),
# in registration order.
_Spec = tuple[str, type[Counter | Gauge], str, str, tuple[str, ...], tuple[str, ...]]
_METRICS: Final[tuple[_Spec, ...]] = (
    ("webhooks", Counter, "webhooks", "Webhook requests by result.", ("result",), WEBHOOK_RESULTS),
    (
        "queued",
        Counter,
        "messages_queued",
        "SMS written to the outbox, by kind.",
        ("kind",),
        QUEUED_KINDS,
    ),
    ("sent", Counter, "sent", "SMS accepted by a gateway.", ("provider",), ()),
    ("parts", Counter, "sent_parts", "SMS parts (billing segments) accepted by a gateway.", (), ()),
    (
        "failed",
        Counter,
        "send_failures",
        "Failed delivery attempts by provider and reason.",
        ("provider", "reason"),
        (),
    ),
    ("retries", Counter, "retries", "Deliveries rescheduled after a failed attempt.", (), ()),
    (
        "dead",
        Counter,
        "dead",
        "SMS given up on: max_age reached while failing, or expired before the first attempt.",
        ("reason",),
        DEAD_REASONS,
    ),
    (
        "dupes",
        Counter,
        "duplicates_dropped",
        "Webhooks dropped as duplicates (AM retries, HA peers).",
        (),
        (),
    ),
    (
        "suppressed",
        Counter,
        "suppressed",
        "Messages not queued, by reason.",
        ("reason",),
        SUPPRESSED_REASONS,
    ),
    ("config_info", Gauge, "build_info", "Always 1; the bridge version.", ("version",), ()),
    (
        "reload_ok",
        Gauge,
        "config_last_reload_successful",
        "1 if the last configuration (re)load succeeded; 0 while a rejected one is ignored.",
        (),
        (),
    ),
    (
        "reload_time",
        Gauge,
        "config_last_reload_success_timestamp_seconds",
        "When the running configuration was loaded.",
        (),
        (),
    ),
    (
        "heartbeats",
        Counter,
        "heartbeats",
        "Authorised, well-formed heartbeats received on /heartbeat.",
        (),
        (),
    ),
    (
        "last_heartbeat",
        Gauge,
        "last_heartbeat_timestamp_seconds",
        "When the last heartbeat arrived (0 before any); survives restarts.",
        (),
        (),
    ),
    (
        "heartbeat_missing",
        Gauge,
        "heartbeat_missing",
        "1 while the monitoring chain is considered broken (no heartbeat for the silence).",
        (),
        (),
    ),
    (
        "heartbeat_silence",
        Gauge,
        "heartbeat_silence_seconds",
        "Heartbeat silence that counts as a broken chain (0 when the switch is off).",
        (),
        (),
    ),
    (
        "forwarded",
        Counter,
        "heartbeat_forwards",
        "Heartbeats forwarded to the outside checker (heartbeat.forward_url), by result.",
        ("result",),
        FORWARD_RESULTS,
    ),
    ("emails_sent", Counter, "emails_sent", "Emails accepted by the SMTP relay.", (), ()),
    (
        "email_failures",
        Counter,
        "email_failures",
        "Failed email attempts by reason.",
        ("reason",),
        EMAIL_FAILURES,
    ),
)


class BridgeMetrics:
    """All counters in one place (the `_METRICS` table), registered on `registry`."""

    webhooks: Counter
    queued: Counter
    sent: Counter
    parts: Counter
    failed: Counter
    retries: Counter
    dead: Counter
    dupes: Counter
    suppressed: Counter
    config_info: Gauge
    reload_ok: Gauge
    reload_time: Gauge
    heartbeats: Counter
    last_heartbeat: Gauge
    heartbeat_missing: Gauge
    heartbeat_silence: Gauge
    forwarded: Counter
    emails_sent: Counter
    email_failures: Counter

    def __init__(self, registry: CollectorRegistry, *, providers: Iterable[str] = ()) -> None:
        for attr, kind, name, documentation, labels, zero in _METRICS:
            metric = kind(PREFIX + name, documentation, labels, registry=registry)
            for value in zero:
                metric.labels(value)
            setattr(self, attr, metric)
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
