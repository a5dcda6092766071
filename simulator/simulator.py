"""The :class:`Simulator`: wires the fake Parichay, the fake e-Office and the control API
onto three listeners, owns the shared fault states, counters and TLS material, and is the
Python API that tests and the CLI drive.
``set_fault`` is synchronous and must be called from the event loop's thread while the
simulator runs; a ``refuse`` (or leaving it) takes effect before it returns.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from types import TracebackType
from typing import Literal

import trustme
from aiohttp import web

from simulator.account import SimAccount
from simulator.control import build_control_app
from simulator.eoffice import EOffice
from simulator.faults import APPS, AppName, FaultState, check_app, check_fault
from simulator.network import SHUTDOWN_TIMEOUT_S, AppServer
from simulator.sso import Parichay
from simulator.stats import Stats
from simulator.tls import TlsMaterial


def _url(scheme: str, host: str, port: int) -> str:
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def _expired_check(state: FaultState) -> Callable[[], bool]:
    return lambda: state.mode == "cert_expired"


class Simulator:
    """Parichay SSO + e-Office + control API, with per-app fault injection.

    Example::

        async with Simulator(tls=True) as sim:
            sim.set_fault("sso", "slow", delay_ms=300)
            ...  # probe sim.sso_url / sim.app_url, trusting sim.ca_pem
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        sso_port: int = 0,
        app_port: int = 0,
        control_port: int = 0,
        tls: bool = False,
        org: str = "UKSec",
        account: SimAccount | None = None,
    ) -> None:
        self.host = host
        self.tls = tls
        self.org = org
        self.account = account if account is not None else SimAccount.generate()
        self._ports = {"sso": sso_port, "app": app_port, "control": control_port}
        self._faults: dict[AppName, FaultState] = {app: FaultState() for app in APPS}
        self._stats = Stats()
        self._tls = TlsMaterial(host=host) if tls else None
        self._servers: dict[AppName, AppServer] = {}
        self._control: web.AppRunner | None = None
        self._urls: dict[str, str] = {}
        self._idp: Parichay | None = None
        self._eoffice: EOffice | None = None

    # -- TLS ------------------------------------------------------------------------------
    @property
    def ca(self) -> trustme.CA | None:
        """The trustme CA behind every certificate (None without TLS)."""
        return self._tls.ca if self._tls is not None else None

    @property
    def ca_pem(self) -> bytes | None:
        """The CA certificate in PEM (None without TLS)."""
        return self._tls.ca_pem if self._tls is not None else None

    def write_ca(self, path: str | os.PathLike[str]) -> None:
        """Write the CA PEM to ``path`` (for ``tls.ca_file`` in exporter configs)."""
        if self._tls is None:
            raise ValueError("the simulator has no CA: it was created with tls=False")
        with open(path, "wb") as fh:
            fh.write(self._tls.ca_pem)

    # -- URLs -----------------------------------------------------------------------------
    def _get_url(self, name: str) -> str:
        try:
            return self._urls[name]
        except KeyError:
            raise RuntimeError("the simulator is not started") from None

    @property
    def sso_url(self) -> str:
        """Base URL of the fake Parichay, e.g. ``https://127.0.0.1:41234``."""
        return self._get_url("sso")

    @property
    def app_url(self) -> str:
        """Base URL of the fake e-Office."""
        return self._get_url("app")

    @property
    def control_url(self) -> str:
        """Base URL of the control API (always plain HTTP)."""
        return self._get_url("control")

    @property
    def login_url(self) -> str:
        """The SSO login page the app root redirects to (``.../pnv1/assets/login?sid=...``)."""
        assert self._idp is not None, "the simulator is not started"
        return self._idp.login_url

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind the three listeners (port 0 picks a free port) and start serving."""
        if self._servers:
            raise RuntimeError("the simulator is already started")
        scheme = "https" if self._tls is not None else "http"
        try:
            for app in APPS:
                state = self._faults[app]
                ctx: ssl.SSLContext | None = None
                if self._tls is not None:
                    ctx = self._tls.server_context(expired=_expired_check(state))
                server = AppServer(
                    name=app,
                    host=self.host,
                    port=self._ports[app],
                    ssl_context=ctx,
                    faults=state,
                    stats=self._stats,
                )
                self._servers[app] = server
                self._urls[app] = _url(scheme, self.host, server.bind())
            idp = Parichay(
                account=self.account,
                org=self.org,
                faults=self._faults["sso"],
                stats=self._stats,
                secure_cookies=self.tls,
            )
            idp.sso_url, idp.app_url = self._urls["sso"], self._urls["app"]
            eoffice = EOffice(
                org=self.org,
                idp=idp,
                faults=self._faults["app"],
                sso_faults=self._faults["sso"],
                stats=self._stats,
                secure_cookies=self.tls,
            )
            self._idp, self._eoffice = idp, eoffice
            await self._servers["sso"].start(idp.routes())
            await self._servers["app"].start(eoffice.routes())
            self._control = web.AppRunner(
                build_control_app(self),
                access_log=None,
                handle_signals=False,
                shutdown_timeout=SHUTDOWN_TIMEOUT_S,
            )
            await self._control.setup()
            site = web.TCPSite(self._control, self.host, self._ports["control"])
            await site.start()
            port = int(self._control.addresses[0][1])
            self._urls["control"] = _url("http", self.host, port)
            for app in APPS:
                self._servers[app].apply_mode()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Close every listener and connection, hanging requests included (idempotent)."""
        servers, self._servers = self._servers, {}
        for server in servers.values():
            await server.stop()
        if self._control is not None:
            runner, self._control = self._control, None
            await runner.cleanup()
        self._urls.clear()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- faults and counters --------------------------------------------------------------
    def set_fault(self, app: Literal["sso", "app"], mode: str, delay_ms: int = 0) -> None:
        """Switch ``app`` to fault ``mode``; ``ValueError`` for an unknown app or mode, a bad
        delay, or ``cert_expired`` without TLS. ``slow`` with ``delay_ms=0`` means 200 ms."""
        name = check_app(app)
        mode, delay_ms = check_fault(mode=mode, delay_ms=delay_ms, tls=self.tls)
        self._faults[name].change(mode, delay_ms)
        server = self._servers.get(name)
        if server is not None:
            server.apply_mode()

    def fault(self, app: Literal["sso", "app"]) -> tuple[str, int]:
        """``(mode, delay_ms)`` of ``app``."""
        state = self._faults[check_app(app)]
        return state.mode, state.delay_ms

    def stats(self) -> dict[str, int]:
        """Request counters per route key and login outcome counters."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        """Every counter back to 0."""
        self._stats.reset()

    def reset(self) -> None:
        """All apps back to ``ok``, counters cleared, and all login state (sessions,
        transactions, codes, remembered devices, lockouts, used OTPs) forgotten."""
        for app in APPS:
            self.set_fault(app, "ok")
        self._stats.reset()
        if self._idp is not None:
            self._idp.reset()
        if self._eoffice is not None:
            self._eoffice.reset()
