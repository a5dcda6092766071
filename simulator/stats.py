"""Request and outcome counters of the simulator, keyed ``<app>.<route or outcome>``.
Every known key is present from the start with 0, so ``stats()["sso.api_login"]`` never
raises; routes count each request that reaches the app (whatever the fault mode, except
``refuse`` where nothing arrives), outcomes count what the login flow decided.
"""

from __future__ import annotations

from typing import Final

ROUTE_KEYS: Final[tuple[str, ...]] = (
    "sso.root",
    "sso.login_page",
    "sso.api_login",
    "sso.api_verify_otp",
    "sso.healthz",
    "sso.other",
    "app.root",
    "app.public",
    "app.about",
    "app.callback",
    "app.inbox",
    "app.logout",
    "app.healthz",
    "app.other",
)

OUTCOME_KEYS: Final[tuple[str, ...]] = (
    "sso.otp_required",  # password accepted, OTP asked
    "sso.device_login",  # password accepted, OTP skipped thanks to PARICHAY_DEVICE
    "sso.login_rejected",  # INVALID_CREDENTIALS (wrong password or login_reject mode)
    "sso.captcha_required",  # account locked after repeated wrong passwords
    "sso.csrf_rejected",  # CSRF_INVALID
    "sso.otp_accepted",
    "sso.otp_rejected",  # INVALID_OTP (wrong, replayed, or otp_reject mode)
    "sso.otp_replayed",  # subset of otp_rejected: a valid code used a second time
    "sso.txn_expired",  # TXN_EXPIRED
    "app.callback_ok",  # code redeemed, app session created
    "app.callback_rejected",  # missing, unknown, used or expired code
    "app.inbox_ok",  # inbox served to a logged-in session
)


class Stats:
    """A counter over the known keys (unknown keys are accepted and start at 0)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self.reset()

    def incr(self, key: str) -> None:
        """Add one to ``key``."""
        self._counts[key] = self._counts.get(key, 0) + 1

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter."""
        return dict(self._counts)

    def reset(self) -> None:
        """Every known key back to 0."""
        self._counts = dict.fromkeys((*ROUTE_KEYS, *OUTCOME_KEYS), 0)
