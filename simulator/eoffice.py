"""The simulated e-Office app: the root that redirects to Parichay, a public page, the SSO
callback that redeems Parichay's one-time code for an app session, the inbox and logout.
The code is redeemed in-process with :class:`~simulator.sso.Parichay` but keeps
the real back-channel's properties: single use, 60 s lifetime, and failure (502) while the
SSO itself is down (``refuse``, ``hang``, ``http_500``, ``http_503``, ``bad_content`` on
``sso``). The app's own ``redirect_broken`` mode makes the callback send the browser back to
the SSO login page instead of the inbox.
"""

from __future__ import annotations

import secrets
from typing import Final

from aiohttp import web

from simulator import pages
from simulator.faults import FaultState
from simulator.sso import CALLBACK_PATH, Parichay
from simulator.stats import Stats

APP_SESSION_COOKIE: Final[str] = "EOFFICE_SESSION"
INBOX_PATH: Final[str] = "/eoffice/inbox"
LOGOUT_PATH: Final[str] = "/eoffice/logout"
MAX_APP_SESSIONS: Final[int] = 10_000
_SSO_DOWN: Final[frozenset[str]] = frozenset(
    {"refuse", "hang", "http_500", "http_503", "bad_content"}
)


class EOffice:
    """State and HTTP routes of the fake e-Office app."""

    def __init__(
        self,
        *,
        org: str,
        idp: Parichay,
        faults: FaultState,
        sso_faults: FaultState,
        stats: Stats,
        secure_cookies: bool,
    ) -> None:
        self.org = org
        self._idp = idp
        self._faults = faults
        self._sso_faults = sso_faults
        self._stats = stats
        self._secure = secure_cookies
        self._sessions: dict[str, str] = {}  # app session id -> username

    def reset(self) -> None:
        """Forget every app session."""
        self._sessions.clear()

    def routes(self) -> list[web.RouteDef]:
        """The app's routes, each named with its stats key."""
        return [
            web.get("/", self._root, name="app.root"),
            web.get("/eoffice/", self._public, name="app.public"),
            web.get("/eoffice/about", self._public, name="app.about"),
            web.get(CALLBACK_PATH, self._callback, name="app.callback"),
            web.get(INBOX_PATH, self._inbox, name="app.inbox"),
            web.get(LOGOUT_PATH, self._logout, name="app.logout"),
            web.get("/healthz", self._healthz, name="app.healthz"),
        ]

    async def _root(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(self._idp.login_url)

    async def _public(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=pages.public_page(org=self.org), content_type="text/html")

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok\n")

    async def _callback(self, request: web.Request) -> web.StreamResponse:
        if self._sso_faults.mode in _SSO_DOWN:
            self._stats.incr("app.callback_rejected")
            return web.Response(
                status=502,
                text=pages.error_page(status=502, reason="Bad Gateway"),
                content_type="text/html",
            )
        code = request.query.get("code", "")
        username = self._idp.redeem_code(code) if code else None
        if username is None:
            self._stats.incr("app.callback_rejected")
            raise web.HTTPFound(self._idp.login_url)
        if self._faults.mode == "redirect_broken":
            raise web.HTTPFound(self._idp.login_url)
        session = secrets.token_urlsafe(24)
        if len(self._sessions) >= MAX_APP_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        self._sessions[session] = username
        self._stats.incr("app.callback_ok")
        resp = web.HTTPFound(INBOX_PATH)
        resp.set_cookie(
            APP_SESSION_COOKIE,
            session,
            path="/",
            httponly=True,
            secure=self._secure,
            samesite="Lax",
        )
        raise resp

    async def _inbox(self, request: web.Request) -> web.StreamResponse:
        username = self._sessions.get(request.cookies.get(APP_SESSION_COOKIE, ""))
        if username is None:
            raise web.HTTPFound("/")
        self._stats.incr("app.inbox_ok")
        return web.Response(
            text=pages.inbox_page(org=self.org, username=username), content_type="text/html"
        )

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        self._sessions.pop(request.cookies.get(APP_SESSION_COOKIE, ""), None)
        resp = web.HTTPFound("/")
        resp.del_cookie(APP_SESSION_COOKIE, path="/")
        raise resp
