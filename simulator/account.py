"""The simulator's test account: a user name, a password and a TOTP secret that exist only
inside one simulator run, generated at random so no real credential is ever needed.
The password and TOTP secret are left out of ``repr()`` so a logged account does not leak
them; the simulator's CLI prints them on purpose, marked as simulator-only values.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import pyotp


@dataclass(frozen=True, slots=True)
class SimAccount:
    """A simulator-only login: ``SimAccount.generate()`` gives a fresh random one."""

    username: str
    password: str = field(repr=False)
    totp_secret: str = field(repr=False)

    @classmethod
    def generate(cls) -> SimAccount:
        """A random account such as ``monitor.3fa9c1@uk.gov.in`` with a base32 TOTP secret."""
        return cls(
            username=f"monitor.{secrets.token_hex(3)}@uk.gov.in",
            # Parichay-like complexity rules: upper, lower, digit and a symbol.
            password=f"Sim-{secrets.token_urlsafe(12)}-9a",
            totp_secret=pyotp.random_base32(),
        )

    def totp(self) -> pyotp.TOTP:
        """The TOTP generator for this account (30 s steps, 6 digits, SHA-1)."""
        return pyotp.TOTP(self.totp_secret)
