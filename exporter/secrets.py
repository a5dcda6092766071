"""Secret values and their redaction: the shared `servicekit.secrets`, under the exporter's name.

See `servicekit.secrets` for what `redact()` covers (raw, percent-encoded, JSON-escaped and
base64 forms of every secret).
"""

from __future__ import annotations

from servicekit.secrets import REDACTED, Secret, redact

__all__ = ["REDACTED", "Secret", "redact"]
