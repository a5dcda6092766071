"""The `Secret` wrapper and `redact()`: the shared `servicekit.secrets`, under the bridge's name.

A `Secret` hides its value from `str()`, `repr()`, f-strings and logging; `redact()` scrubs
known secrets, in every encoding a gateway may echo them in, out of free text before it
reaches a log line. See `servicekit.secrets`.
"""

from __future__ import annotations

from servicekit.secrets import REDACTED, Secret, redact

__all__ = ["REDACTED", "Secret", "redact"]
