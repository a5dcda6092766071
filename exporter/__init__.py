"""Parichay & e-Office monitoring exporter: probes, scheduler, metrics, status page, simulator."""

__version__ = "0.1.0"
