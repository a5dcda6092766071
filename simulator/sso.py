"""The simulated Parichay SSO: login page with a session-bound CSRF token, the password
step, the TOTP step, remembered devices, account lockout, and the one-time codes that the
e-Office app redeems.
All login state lives in one :class:`Parichay` object (in memory, monotonic clock). The
login-related fault modes of the ``sso`` app are applied here: ``login_reject``,
``otp_reject``, ``csrf_missing`` and ``redirect_broken``. Rejections forced by
``login_reject`` do not count toward the lockout, so a test that injects them does not lock
the account for the tests after it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import pyotp
from aiohttp import web

from simulator import pages
from simulator.account import SimAccount
from simulator.faults import FaultState
from simulator.stats import Stats

SESSION_COOKIE: Final[str] = "PARICHAY_SESSION"
DEVICE_COOKIE: Final[str] = "PARICHAY_DEVICE"
LOGIN_PATH: Final[str] = "/pnv1/assets/login"
API_LOGIN_PATH: Final[str] = "/pnv1/api/login"
API_VERIFY_OTP_PATH: Final[str] = "/pnv1/api/verify-otp"
CALLBACK_PATH: Final[str] = "/eoffice/sso/callback"

MAX_PASSWORD_FAILURES: Final[int] = 3
MAX_OTP_FAILURES: Final[int] = 3
TXN_TTL_S: Final[float] = 300.0
CODE_TTL_S: Final[float] = 60.0
# A TOTP code verified with valid_window=1 is accepted for at most 90 s.
USED_OTP_TTL_S: Final[float] = 120.0
DEVICE_TTL_S: Final[int] = 30 * 24 * 3600
MAX_SESSIONS: Final[int] = 10_000


@dataclass(slots=True)
class _Txn:
    username: str
    session: str
    expires_at: float
    failures: int = 0


def _error(status: int, code: str) -> web.Response:
    return web.json_response({"status": "error", "code": code}, status=status)


class Parichay:
    """State and HTTP routes of the fake SSO."""

    def __init__(
        self,
        *,
        account: SimAccount,
        org: str,
        faults: FaultState,
        stats: Stats,
        secure_cookies: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account = account
        self.sid = f"eOffice{org}"
        self.sso_url = ""
        self.app_url = ""
        self._faults = faults
        self._stats = stats
        self._secure = secure_cookies
        self._clock = clock
        self._sessions: dict[str, str] = {}  # session id -> current csrf token
        self._password_failures: dict[str, int] = {}
        self._txns: dict[str, _Txn] = {}
        self._used_otps: dict[str, float] = {}  # code -> forget after (monotonic)
        self._devices: dict[str, str] = {}  # device token -> username
        self._codes: dict[str, tuple[str, float]] = {}  # one-time code -> (username, expiry)

    @property
    def login_url(self) -> str:
        """Absolute URL of the login page for this app's ``sid``."""
        return f"{self.sso_url}{LOGIN_PATH}?sid={self.sid}"

    def reset(self) -> None:
        """Forget every session, transaction, code, device and lockout."""
        self._sessions.clear()
        self._password_failures.clear()
        self._txns.clear()
        self._used_otps.clear()
        self._devices.clear()
        self._codes.clear()

    def routes(self) -> list[web.RouteDef]:
        """The SSO's routes, each named with its stats key."""
        return [
            web.get("/", self._root, name="sso.root"),
            web.get(LOGIN_PATH, self._login_page, name="sso.login_page"),
            web.post(API_LOGIN_PATH, self._api_login, name="sso.api_login"),
            web.post(API_VERIFY_OTP_PATH, self._api_verify_otp, name="sso.api_verify_otp"),
            web.get("/healthz", self._healthz, name="sso.healthz"),
        ]

    # -- one-time codes, used in-process by the e-Office app -------------------------------
    def _issue_code(self, username: str) -> str:
        code = secrets.token_urlsafe(24)
        self._codes[code] = (username, self._clock() + CODE_TTL_S)
        return code

    def redeem_code(self, code: str) -> str | None:
        """The user name a one-time code was issued for, or None (unknown, used, expired)."""
        entry = self._codes.pop(code, None)
        if entry is None or entry[1] < self._clock():
            return None
        return entry[0]

    def _redirect_for(self, username: str) -> str:
        if self._faults.mode == "redirect_broken":
            return f"{self.app_url}{CALLBACK_PATH}"
        return f"{self.app_url}{CALLBACK_PATH}?code={self._issue_code(username)}"

    # -- handlers ---------------------------------------------------------------------------
    async def _root(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{LOGIN_PATH}?sid={self.sid}")

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok\n")

    async def _login_page(self, request: web.Request) -> web.StreamResponse:
        session = request.cookies.get(SESSION_COOKIE, "")
        fresh = session not in self._sessions
        if fresh:
            session = secrets.token_urlsafe(24)
            if len(self._sessions) >= MAX_SESSIONS:
                del self._sessions[next(iter(self._sessions))]
        csrf = secrets.token_urlsafe(24)
        self._sessions[session] = csrf
        shown = None if self._faults.mode == "csrf_missing" else csrf
        resp = web.Response(
            text=pages.login_page(sid=self.sid, csrf_token=shown), content_type="text/html"
        )
        if fresh:
            resp.set_cookie(
                SESSION_COOKIE,
                session,
                path="/",
                httponly=True,
                secure=self._secure,
                samesite="Lax",
            )
        return resp

    async def _api_login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()

        def field(name: str) -> str:
            value = form.get(name)
            return value if isinstance(value, str) else ""

        session = request.cookies.get(SESSION_COOKIE, "")
        expected = self._sessions.get(session)
        csrf = field("csrf_token")
        if (
            self._faults.mode == "csrf_missing"
            or expected is None
            or not csrf
            or not secrets.compare_digest(csrf, expected)
        ):
            self._stats.incr("sso.csrf_rejected")
            return _error(403, "CSRF_INVALID")
        if field("sid") != self.sid:
            return _error(400, "INVALID_SID")
        username = field("username")
        if self._password_failures.get(username, 0) >= MAX_PASSWORD_FAILURES:
            self._stats.incr("sso.captcha_required")
            return _error(403, "CAPTCHA_REQUIRED")
        if self._faults.mode == "login_reject":
            self._stats.incr("sso.login_rejected")
            return _error(401, "INVALID_CREDENTIALS")
        good = username == self.account.username and secrets.compare_digest(
            field("password").encode(), self.account.password.encode()
        )
        if not good:
            self._password_failures[username] = self._password_failures.get(username, 0) + 1
            self._stats.incr("sso.login_rejected")
            return _error(401, "INVALID_CREDENTIALS")
        self._password_failures.pop(username, None)
        device = request.cookies.get(DEVICE_COOKIE)
        if device is not None and self._devices.get(device) == username:
            self._stats.incr("sso.device_login")
            return web.json_response({"status": "ok", "redirect": self._redirect_for(username)})
        txn = secrets.token_urlsafe(16)
        self._txns[txn] = _Txn(
            username=username, session=session, expires_at=self._clock() + TXN_TTL_S
        )
        self._stats.incr("sso.otp_required")
        return web.json_response({"status": "otp_required", "txn": txn})

    async def _api_verify_otp(self, request: web.Request) -> web.StreamResponse:
        try:
            body: Any = await request.json()
        except ValueError:
            return _error(400, "BAD_REQUEST")
        if not isinstance(body, dict):
            return _error(400, "BAD_REQUEST")
        txn_id, otp = body.get("txn"), body.get("otp")
        remember = body.get("remember_device", False)
        if not (isinstance(txn_id, str) and isinstance(otp, str) and isinstance(remember, bool)):
            return _error(400, "BAD_REQUEST")
        now = self._clock()
        txn = self._txns.get(txn_id)
        session = request.cookies.get(SESSION_COOKIE, "")
        if txn is None or txn.expires_at < now or txn.session != session:
            self._txns.pop(txn_id, None)
            self._stats.incr("sso.txn_expired")
            return _error(401, "TXN_EXPIRED")
        self._used_otps = {c: t for c, t in self._used_otps.items() if t > now}
        ok = False
        if self._faults.mode != "otp_reject":
            if otp in self._used_otps:
                self._stats.incr("sso.otp_replayed")
            else:
                totp = pyotp.TOTP(self.account.totp_secret)
                ok = totp.verify(otp, valid_window=1)
        if not ok:
            txn.failures += 1
            if txn.failures >= MAX_OTP_FAILURES:
                del self._txns[txn_id]
            self._stats.incr("sso.otp_rejected")
            return _error(401, "INVALID_OTP")
        del self._txns[txn_id]
        self._used_otps[otp] = now + USED_OTP_TTL_S
        self._stats.incr("sso.otp_accepted")
        resp = web.json_response({"status": "ok", "redirect": self._redirect_for(txn.username)})
        if remember:
            token = secrets.token_urlsafe(24)
            self._devices[token] = txn.username
            resp.set_cookie(
                DEVICE_COOKIE,
                token,
                path="/",
                max_age=DEVICE_TTL_S,
                httponly=True,
                secure=self._secure,
                samesite="Lax",
            )
        return resp
