"""Alertmanager webhook receiver that delivers page alerts as SMS through Indian gateways."""

__version__ = "0.1.0"
