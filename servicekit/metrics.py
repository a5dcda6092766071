"""Prometheus pieces every service shares: the standard runtime collectors.

`register_runtime_collectors(registry)` adds prometheus_client's `process_*` (CPU, memory,
open files, start time), `python_info` and `python_gc_*` collectors to a service's own
registry; nothing goes on prometheus_client's global registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector


def register_runtime_collectors(registry: CollectorRegistry) -> None:
    """Add `process_*`, `python_info` and `python_gc_*` to `registry`."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
