"""The one runtime-collector set every service puts on its own registry."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry

from servicekit.metrics import register_runtime_collectors


def test_runtime_collectors_land_on_the_given_registry_only() -> None:
    registry = CollectorRegistry()
    before = {m.name for m in REGISTRY.collect()}
    register_runtime_collectors(registry)
    names = {m.name for m in registry.collect()}
    assert {"process_resident_memory_bytes", "process_start_time_seconds", "python_info"} <= names
    assert registry.get_sample_value("python_gc_collections_total", {"generation": "2"}) is not None
    assert all(n.startswith(("process_", "python_")) for n in names)
    assert {m.name for m in REGISTRY.collect()} == before
