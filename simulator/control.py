"""The simulator's control API (always plain HTTP, on its own port, so it keeps answering
while an app refuses or hangs): read and set fault modes, read and reset counters.
Endpoints: ``GET /_sim/faults``; ``POST /_sim/faults/{sso|app}`` with ``{"mode": ...,
"delay_ms": N}``; ``POST /_sim/faults`` with ``{"app": ..., "mode": ..., "delay_ms": N}``;
``GET /_sim/stats``; ``POST /_sim/reset``. Bad input answers 400 with ``{"error": msg}``.
The account's password and TOTP secret are never exposed here.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from simulator.faults import APPS, check_app


class Controllable(Protocol):
    """What the control API needs from the simulator."""

    def set_fault(self, app: Any, mode: str, delay_ms: int = 0) -> None: ...
    def fault(self, app: Any) -> tuple[str, int]: ...
    def stats(self) -> dict[str, int]: ...
    def reset(self) -> None: ...


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _faults_view(sim: Controllable) -> dict[str, dict[str, str | int]]:
    view: dict[str, dict[str, str | int]] = {}
    for app in APPS:
        mode, delay = sim.fault(app)
        view[app] = {"mode": mode, "delay_ms": delay}
    return view


def build_control_app(sim: Controllable) -> web.Application:
    """The control API as an aiohttp application bound to ``sim``."""

    async def get_faults(request: web.Request) -> web.StreamResponse:
        return web.json_response(_faults_view(sim))

    async def _apply(app_name: object, request: web.Request) -> web.StreamResponse:
        try:
            body: Any = await request.json()
        except ValueError:
            return _bad("request body must be JSON such as {\"mode\": \"ok\", \"delay_ms\": 0}")
        if not isinstance(body, dict):
            return _bad("request body must be a JSON object")
        if app_name is None:
            app_name = body.get("app")
        unknown = set(body) - {"app", "mode", "delay_ms"}
        if unknown:
            return _bad(f"unknown field(s): {', '.join(sorted(unknown))}")
        if "mode" not in body:
            return _bad("missing field 'mode'")
        try:
            app = check_app(app_name if isinstance(app_name, str) else repr(app_name))
            sim.set_fault(app, body["mode"], body.get("delay_ms", 0))
        except ValueError as exc:
            return _bad(str(exc))
        return web.json_response(_faults_view(sim))

    async def post_fault(request: web.Request) -> web.StreamResponse:
        app = request.match_info["app"]
        if app not in APPS:
            return _bad(f"unknown app {app!r}: expected one of {', '.join(APPS)}", 404)
        return await _apply(app, request)

    async def post_faults(request: web.Request) -> web.StreamResponse:
        return await _apply(None, request)

    async def get_stats(request: web.Request) -> web.StreamResponse:
        return web.json_response(sim.stats())

    async def post_reset(request: web.Request) -> web.StreamResponse:
        sim.reset()
        return web.json_response(_faults_view(sim))

    app = web.Application()
    app.add_routes(
        [
            web.get("/_sim/faults", get_faults),
            web.post("/_sim/faults", post_faults),
            web.post("/_sim/faults/{app}", post_fault),
            web.get("/_sim/stats", get_stats),
            web.post("/_sim/reset", post_reset),
        ]
    )
    return app
