"""Shared core of the exporter and the SMS bridge: for now, secrets and their redaction."""
