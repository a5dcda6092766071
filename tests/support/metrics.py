"""Read samples back from the text that production's /metrics serves.

Tests never read metrics from a registry the exporter does not serve: they take the bytes
of the real handler (`Exporter.metrics_parts()`, or `MetricsRenderer.render()` for a bare
store) and parse them with prometheus_client's own parser.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


class Metrics:
    """The samples of one exposition text, looked up by name and labels."""

    def __init__(self, text: bytes | str) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples: list[Sample] = [s for f in self.families.values() for s in f.samples]

    def value(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """The value of the sample `name` with exactly `labels` (as
        `CollectorRegistry.get_sample_value`), or None."""
        want = labels or {}
        for s in self.samples:
            if s.name == name and s.labels == want:
                return float(s.value)
        return None

    def matching(self, name: str, **labels: str) -> list[Sample]:
        """Every sample `name` whose labels include `labels`."""
        return [
            s
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]


def parse(text: bytes | str) -> Metrics:
    return Metrics(text)
