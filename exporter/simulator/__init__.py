"""Simulator of Parichay SSO and e-Office with fault injection (placeholder; see helper work)."""
