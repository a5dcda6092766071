"""Fault state of the simulator: the closed list of fault modes and, per simulated app,
the current mode, its delay and an event that wakes requests parked by ``hang``.
Each of the two simulated apps (``"sso"`` for Parichay, ``"app"`` for e-Office) has one
:class:`FaultState`. Changing a mode replaces the state's :class:`asyncio.Event` after
setting the old one, so requests hanging under the previous mode wake up and close their
connection. Validation lives here so the Python API and the control API reject exactly
the same inputs with the same messages.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

AppName = Literal["sso", "app"]
APPS: Final[tuple[AppName, ...]] = get_args(AppName)

FAULT_MODES: Final[tuple[str, ...]] = (
    "ok",
    "refuse",
    "hang",
    "slow",
    "http_500",
    "http_503",
    "bad_content",
    "cert_expired",
    "login_reject",
    "otp_reject",
    "csrf_missing",
    "redirect_broken",
)

# Modes that act on every route of an app, before the route's own handler runs.
NETWORK_MODES: Final[frozenset[str]] = frozenset(
    {"refuse", "hang", "slow", "http_500", "http_503", "bad_content"}
)
DEFAULT_SLOW_MS: Final[int] = 200
MAX_DELAY_MS: Final[int] = 600_000


def check_app(app: str) -> AppName:
    """Return ``app`` as an :data:`AppName` or raise ``ValueError`` naming the valid apps."""
    if app == "sso":
        return "sso"
    if app == "app":
        return "app"
    raise ValueError(f"unknown app {app!r}: expected one of {', '.join(APPS)}")


def check_fault(*, mode: object, delay_ms: object, tls: bool) -> tuple[str, int]:
    """Validate a requested fault and return ``(mode, delay_ms)``, raising ``ValueError``.

    ``delay_ms`` 0 with ``slow`` means the default of 200 ms; ``cert_expired`` needs TLS.
    """
    if not isinstance(mode, str) or mode not in FAULT_MODES:
        raise ValueError(f"unknown fault mode {mode!r}: expected one of {', '.join(FAULT_MODES)}")
    if isinstance(delay_ms, bool) or not isinstance(delay_ms, int):
        raise ValueError(f"delay_ms must be an integer number of milliseconds, got {delay_ms!r}")
    if not 0 <= delay_ms <= MAX_DELAY_MS:
        raise ValueError(f"delay_ms must be between 0 and {MAX_DELAY_MS}, got {delay_ms}")
    if mode == "cert_expired" and not tls:
        raise ValueError("fault mode 'cert_expired' needs a simulator started with tls=True")
    if mode == "slow" and delay_ms == 0:
        delay_ms = DEFAULT_SLOW_MS
    return mode, delay_ms


@dataclass(slots=True)
class FaultState:
    """The current fault of one simulated app."""

    mode: str = "ok"
    delay_ms: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def change(self, mode: str, delay_ms: int) -> None:
        """Switch to a new (already validated) mode and wake requests parked by ``hang``."""
        self.mode = mode
        self.delay_ms = delay_ms
        old, self.changed = self.changed, asyncio.Event()
        old.set()
