"""Account protection: the pause of login targets, to keep the monitoring account unlocked.

Parichay asks for a captcha after 3 wrong passwords, so rejections in a row pause the
target (the scheduler and `parichay-exporter probe` skip it; `parichay_login_suspended` is
1) for `suspend_for`. A pause is lifted earlier only when the target's credentials really
changed (a salted scrypt digest of the resolved secrets taken at the rejection is compared
on reload and at start; the secrets themselves are never stored), by an explicit,
authenticated resume, or by a login that a forced probe saw succeed.

This module owns that state and its file. `Accounts` holds one `Account` per pausable
target, in memory, read from `state_file` once (`load`). "Is it paused, until when"
(`Accounts.pause`) is a pure read of that copy: no file, no scrypt, no write; an expired
pause reads as none. Every change goes through an `async` method that writes the state
file only when its content changed, and runs file I/O and scrypt in a thread
(`asyncio.to_thread`), never on the event loop.

The same file carries what the login probe must remember between runs: the last TOTP time
step used (a code is never submitted twice) and the named persistent cookies (a
remembered device). It is written atomically with mode 0600; its format (`version` 2) is
unchanged, and files from before reasons or digests were recorded still load.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_hex
from typing import Any

from exporter.kinds import kind_of
from exporter.login_config import LoginTarget
from exporter.result import Reason
from exporter.target_base import TargetBase
from servicekit.clock import Clock

log = logging.getLogger("exporter.account")

_SUSPEND_REASONS = (str(Reason.LOGIN_REJECTED), str(Reason.OTP_REJECTED))


@dataclass(frozen=True, slots=True, kw_only=True)
class Suspension:
    """Why and until when logins of one target are paused (all wall-clock times)."""

    reason: str  # login_rejected | otp_rejected: a closed set, usable as a label
    since: float
    until: float
    step: str | None = None

    def describe(self, *, target: str) -> str:
        """A sentence for people: what was rejected, when, until when, how to resume."""
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
        until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.until))
        step = f" at step {self.step}" if self.step else ""
        return (
            f"logins of {target} are suspended to protect the monitoring account: "
            f"{self.reason}{step} at {when}; paused until {until}. To resume, fix the "
            f"credentials and reload the config (a reload with unchanged credentials keeps "
            f"the pause), or resume explicitly: POST /-/resume/{target} with the admin "
            f"token, or `parichay-exporter resume --config FILE {target}`"
        )


@dataclass(slots=True, eq=False)
class Account:
    """What must survive between runs of one login target (the state file's content)."""

    login_rejections: int = 0
    otp_rejections: int = 0
    last_totp_counter: int | None = None
    suspension: Suspension | None = None
    # Salted digest of the credentials the server rejected (never the credentials).
    rejected_digest: str | None = None
    salt: str | None = None
    cookies: list[dict[str, Any]] = field(default_factory=list)
    # The file's content as last read or written: a save with the same content is skipped.
    saved: dict[str, Any] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def to_json(self) -> dict[str, Any]:
        sus = self.suspension
        return {
            "version": 2,
            "last_totp_counter": self.last_totp_counter,
            "suspended_until": None if sus is None else sus.until,
            "suspended_since": None if sus is None else sus.since,
            "suspended_reason": None if sus is None else sus.reason,
            "suspended_step": None if sus is None else sus.step,
            "rejected_credentials_digest": self.rejected_digest,
            "digest_salt": self.salt,
            "login_rejections": self.login_rejections,
            "otp_rejections": self.otp_rejections,
            "cookies": [dict(c) for c in self.cookies],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, cookie_names: tuple[str, ...]) -> Account:
        return cls(
            last_totp_counter=data.get("last_totp_counter"),
            suspension=_suspension_from(data),
            rejected_digest=data.get("rejected_credentials_digest"),
            salt=data.get("digest_salt"),
            login_rejections=int(data.get("login_rejections", 0)),
            otp_rejections=int(data.get("otp_rejections", 0)),
            cookies=[c for c in data.get("cookies", []) if c.get("name") in cookie_names],
        )


def _suspension_from(data: dict[str, Any]) -> Suspension | None:
    until = data.get("suspended_until")
    if not isinstance(until, (int, float)):
        return None
    reason = data.get("suspended_reason")
    since = data.get("suspended_since")
    step = data.get("suspended_step")
    return Suspension(
        # A state file from before reasons were recorded: the pause is kept all the same.
        reason=reason if reason in _SUSPEND_REASONS else str(Reason.LOGIN_REJECTED),
        since=float(since) if isinstance(since, (int, float)) else float(until),
        until=float(until),
        step=step if isinstance(step, str) else None,
    )


def credentials_digest(target: LoginTarget, *, salt: str) -> str:
    """A salted scrypt digest of the target's resolved secrets (user, password, TOTP seed).

    scrypt, not a plain hash: the digest sits in the state file next to its salt, and a
    fast hash of a password alone could be brute-forced from a copy of that file. About
    50 ms of CPU: callers run it in a thread.
    """
    parts = [s.reveal().encode("utf-8") for s in target.secrets()]
    material = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    return hashlib.scrypt(material, salt=bytes.fromhex(salt), n=2**14, r=8, p=1).hex()


def _credentials_changed(target: LoginTarget, digest: str | None, salt: str | None) -> bool:
    if digest is None or salt is None:
        return False
    try:
        now = credentials_digest(target, salt=salt)
    except ValueError:  # a damaged salt in the state file: keep the pause, be safe
        return False
    return not hmac.compare_digest(now, digest)


def _read(target: LoginTarget) -> Account:
    """The account as its state file says (a fresh one without a file); in a thread."""
    if not target.state_file:
        return Account()
    try:
        data = json.loads(Path(target.state_file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Account()
    except (OSError, ValueError) as exc:
        log.warning(
            "target=%s cannot read state file %s: %s; starting fresh",
            target.name,
            target.state_file,
            exc,
        )
        return Account()
    account = Account.from_json(data, cookie_names=target.persistent_cookies)
    account.saved = account.to_json()
    return account


def _write(target: LoginTarget, data: dict[str, Any]) -> bool:
    """Write the state file atomically (0600, fsync'd); in a thread. False on an error."""
    assert target.state_file
    path = Path(target.state_file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        # mkstemp creates the file 0600: only the exporter's user can read the device cookie.
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        log.error("target=%s cannot write state file %s: %s", target.name, target.state_file, exc)
        return False
    return True


def _login_target(target: TargetBase) -> LoginTarget | None:
    """`target` if its kind can pause (a login), else None."""
    if not kind_of(target).can_pause:
        return None
    assert isinstance(target, LoginTarget)
    return target


class Accounts:
    """The account state of every pausable target, by target name, loaded once."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._accounts: dict[str, Account] = {}
        # State files written, for tests and logs (a write only happens on a change).
        self.writes = 0

    # ------------------------------------------------------------------ reads (pure)

    def get(self, target: TargetBase) -> Account | None:
        """The loaded account of `target`, or None (not loaded, or not a login)."""
        return self._accounts.get(target.name)

    def pause(self, target: TargetBase) -> Suspension | None:
        """Why and until when `target` must not be probed, or None: a pure read of the
        loaded state (an expired pause reads as none; nothing is written)."""
        account = self._accounts.get(target.name)
        if account is None or account.suspension is None:
            return None
        if account.suspension.until <= self._clock.now():
            return None
        return account.suspension

    # ------------------------------------------------------------------ writes

    async def load(self, target: TargetBase) -> Account | None:
        """Read `target`'s state file once (later calls return the copy in memory); None
        for kinds that cannot pause. Credentials replaced while the exporter was stopped
        count like a reload with new credentials."""
        login = _login_target(target)
        if login is None:
            return None
        account = self._accounts.get(login.name)
        if account is None:
            loaded = await asyncio.to_thread(_read, login)
            # Another caller may have loaded it meanwhile: the first copy wins.
            account = self._accounts.setdefault(login.name, loaded)
            await self.recheck(login)
        return account

    async def save(self, target: LoginTarget, account: Account) -> None:
        """Write `account` to `target`'s state file if its content changed."""
        if not target.state_file:
            return
        async with account.lock:
            data = account.to_json()
            if data == account.saved:
                return
            if await asyncio.to_thread(_write, target, data):
                account.saved = data
                self.writes += 1

    async def _lift(self, target: LoginTarget, account: Account, *, why: str) -> None:
        account.suspension = None
        account.rejected_digest = None
        account.login_rejections = account.otp_rejections = 0
        await self.save(target, account)
        log.info("target=%s login suspension lifted: %s", target.name, why)

    async def expire(self, target: TargetBase) -> None:
        """Drop a pause whose `suspend_for` has passed (written once, when it is dropped)."""
        login = _login_target(target)
        account = None if login is None else self._accounts.get(login.name)
        if login is None or account is None or account.suspension is None:
            return
        if account.suspension.until <= self._clock.now():
            await self._lift(login, account, why="suspend_for has passed")

    async def recheck(self, target: TargetBase) -> bool:
        """On reload (and start): lift the pause only if the credentials really changed.

        True when a pause was lifted. Reloading an unchanged file keeps the pause, so a
        reload loop cannot re-arm a login with rejected credentials."""
        login = _login_target(target)
        if login is None:
            return False
        account = await self.load(login)
        if account is None or account.suspension is None:
            return False
        changed = await asyncio.to_thread(
            _credentials_changed, login, account.rejected_digest, account.salt
        )
        if changed and account.suspension is not None:
            await self._lift(login, account, why="the credentials changed")
            return True
        return False

    async def resume(self, target: TargetBase) -> bool:
        """An operator's explicit, authenticated resume; True if a pause was lifted."""
        login = _login_target(target)
        if login is None:
            return False
        account = await self.load(login)
        if account is None or self.pause(login) is None:
            await self.expire(login)
            return False
        await self._lift(login, account, why="resumed by an operator")
        return True

    async def use_totp(self, target: LoginTarget, counter: int) -> None:
        """Remember the TOTP time step just used (before the code is sent)."""
        account = await self.load(target)
        assert account is not None
        account.last_totp_counter = counter
        await self.save(target, account)

    async def record(self, target: LoginTarget, reason: Reason | None, *, step: str | None) -> None:
        """After a login: count rejections in a row, pause at the threshold, lift a pause
        that a (forced) successful login disproved; save what changed."""
        account = await self.load(target)
        assert account is not None
        if reason is None:
            account.login_rejections = account.otp_rejections = 0
            if account.suspension is not None:  # a forced probe proved the account works
                await self._lift(target, account, why="a login succeeded")
        elif reason is Reason.LOGIN_REJECTED:
            account.login_rejections += 1
            account.otp_rejections = 0
        elif reason is Reason.OTP_REJECTED:
            account.otp_rejections += 1
        if (
            account.login_rejections >= target.suspend_after_login_rejected
            or account.otp_rejections >= target.suspend_after_otp_rejected
        ):
            now = self._clock.now()
            if account.salt is None:
                account.salt = token_hex(16)
            account.rejected_digest = await asyncio.to_thread(
                credentials_digest, target, salt=account.salt
            )
            account.suspension = Suspension(
                reason=str(reason), since=now, until=now + target.suspend_for, step=step
            )
            log.warning(
                "target=%s login suspended for %.0fs after %s to protect the monitoring "
                "account; fix the credentials and reload the config (or resume it "
                "explicitly) to go on",
                target.name,
                target.suspend_for,
                reason,
            )
            account.login_rejections = account.otp_rejections = 0
        await self.save(target, account)
