"""Parichay & e-Office monitoring exporter: config, probes, scheduler, store, metrics, and the
vantage's own status page (`localpage`). The simulator it runs against in demos and tests is
the separate `simulator` package."""

__version__ = "0.1.0"
