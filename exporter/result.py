"""What a probe returns: the closed list of failure reasons and the `ProbeResult` record.

A probe never raises for a target failure; it returns a `ProbeResult` whose `reason` is
exactly one `Reason` (the closed list of docs/architecture.md). Phases are the fixed set
`PHASES`, always all present (zero when a phase did not happen), and add up to `duration`
because `PhaseTimer` accounts time contiguously: each mark closes the phase in progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar


class Reason(StrEnum):
    DNS_ERROR = "dns_error"
    CONNECT_REFUSED = "connect_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    TLS_ERROR = "tls_error"
    CERT_EXPIRED = "cert_expired"
    TIMEOUT = "timeout"
    HTTP_5XX = "http_5xx"
    HTTP_4XX = "http_4xx"
    UNEXPECTED_STATUS = "unexpected_status"
    CONTENT_MISMATCH = "content_mismatch"
    REDIRECT_ERROR = "redirect_error"
    LOGIN_REJECTED = "login_rejected"
    OTP_REJECTED = "otp_rejected"
    LOGIN_FLOW_BROKEN = "login_flow_broken"


SUCCESS = "success"
PHASES = ("resolve", "connect", "tls", "processing", "transfer")


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """One named step of a synthetic login."""

    name: str
    duration: float
    success: bool
    http_status: int = 0
    # An always-run clean-up step (logout): timed on its own, outside the probe duration.
    cleanup: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeResult:
    target: str
    success: bool
    reason: Reason | None
    duration: float
    started_at: float  # wall clock, seconds since the epoch
    phases: Mapping[str, float] = field(default_factory=dict)
    http_status: int = 0
    final_url: str | None = None
    cert_not_after: float | None = None
    steps: tuple[StepResult, ...] = ()
    failed_step: str | None = None
    detail: str = ""  # human text, already redacted

    @property
    def result_label(self) -> str:
        return SUCCESS if self.success else str(self.reason)

    @classmethod
    def measured(
        cls,
        target: str,
        timer: PhaseTimer,
        *,
        started_at: float,
        reason: Reason | None,
        detail: str,
        duration: float | None = None,
        http_status: int = 0,
        final_url: str | None = None,
        cert_not_after: float | None = None,
        steps: tuple[StepResult, ...] = (),
        failed_step: str | None = None,
    ) -> ProbeResult:
        """The result of a finished probe: success follows from `reason`; the duration is the
        timer's (finished here unless the caller already did) and the phases are its phases.
        `detail` must already be redacted."""
        if duration is None:
            duration = timer.finish()
        return cls(
            target=target,
            success=reason is None,
            reason=reason,
            duration=duration,
            started_at=started_at,
            phases=dict(timer.phases),
            http_status=http_status,
            final_url=final_url,
            cert_not_after=cert_not_after,
            steps=steps,
            failed_step=failed_step,
            detail=detail,
        )


class PhaseTimer:
    """Contiguous phase accounting: time since the last mark goes to the phase named.

    `pending` is the phase in progress; `finish()` gives it the time left over, so a probe
    that fails half-way still attributes its time (a connect that hangs shows in `connect`).
    """

    _NEXT: ClassVar[dict[str, str]] = {
        "resolve": "connect",
        "connect": "tls",
        "tls": "processing",
        "processing": "transfer",
        "transfer": "processing",
    }

    def __init__(self, *, now: Callable[[], float] = time.perf_counter, tls: bool = False):
        self._now = now
        self._tls = tls
        self.start = now()
        self._mark = self.start
        self.phases = dict.fromkeys(PHASES, 0.0)
        self.pending = "resolve"
        self.end: float | None = None

    def now(self) -> float:
        """The timer's clock (the transport stamps socket events with it)."""
        return self._now()

    def mark(self, phase: str) -> None:
        self.mark_at(phase, self._now())

    def mark_at(self, phase: str, t: float) -> None:
        """Close `phase` at `t`, a time stamped earlier where the event happened (e.g. when
        the first response byte reached the socket), not when our task got round to it."""
        if self.end is not None:
            # Finished: later work (a login's always-run logout) is outside the duration,
            # so it must stay outside the phases too, or they would not add up.
            return
        # Never before the previous mark: phases stay non-negative and contiguous.
        t = max(t, self._mark)
        self.phases[phase] += t - self._mark
        self._mark = t
        nxt = self._NEXT[phase]
        if nxt == "tls" and not self._tls:
            nxt = "processing"
        self.pending = nxt

    def restart(self) -> None:
        """Start counting now (after set-up work that is not part of the probe)."""
        self.end = None
        self.start = self._mark = self._now()
        self.phases = dict.fromkeys(PHASES, 0.0)
        self.pending = "resolve"

    def expect_tls(self, tls: bool) -> None:
        self._tls = tls

    def finish(self, *, at: float | None = None) -> float:
        """End the probe now, or at `at` (the last byte's time stamp), if not yet ended."""
        if self.end is None:
            self.end = max(self._now() if at is None else at, self._mark)
            self.phases[self.pending] += self.end - self._mark
            self._mark = self.end
        return self.end - self.start
