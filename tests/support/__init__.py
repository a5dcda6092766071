"""Helpers shared by several test packages (synthetic history, real binaries on loopback)."""
