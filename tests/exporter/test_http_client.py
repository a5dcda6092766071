"""The one HTTP client (exporter/probes/client.py) on real sockets: what the login probe
needs from it beside what the http probe's tests cover."""

from __future__ import annotations

import gzip
from http.cookiejar import CookieJar

import httpx
from aiohttp import web

from exporter.probes.client import Client, form_body, set_cookie, with_headers
from exporter.probes.tls import make_ssl_context
from exporter.probes.transport import ProbeRecorder
from exporter.result import PhaseTimer
from tests.support.net import serve_app


async def test_a_login_round_trip_keeps_cookies_and_connections() -> None:
    """Cookies across origins and redirects, a form POST turned into a GET by a 303, gzip
    and a declared charset undone, and one kept-alive connection per origin."""
    peers: dict[str, set[object]] = {"app": set(), "sso": set()}
    seen: list[tuple[str, str, str, bytes]] = []
    bases: dict[str, str] = {}

    def remember(name: str, request: web.Request, body: bytes) -> None:
        assert request.transport is not None
        peers[name].add(request.transport.get_extra_info("peername"))
        seen.append((name, request.method, request.headers.get("Cookie", ""), body))

    async def app(request: web.Request) -> web.StreamResponse:
        remember("app", request, await request.read())
        if request.path == "/start":
            resp = web.Response(status=302, headers={"Location": f"{bases['sso']}/login"})
            resp.set_cookie("APP", "a1", path="/")
            return resp
        page = "Inbox: Grüße".encode("cp1252")
        return web.Response(
            body=gzip.compress(page),
            headers={"Content-Encoding": "gzip", "Content-Type": "text/html; charset=cp1252"},
        )

    async def sso(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        remember("sso", request, body)
        if request.method == "GET":
            resp = web.Response(text='<input name="csrf" value="c1">')
            resp.set_cookie("SSO", "s1", path="/")
            return resp
        assert request.content_type == "application/x-www-form-urlencoded"
        return web.Response(status=303, headers={"Location": f"{bases['app']}/home"})

    runners = []
    for name, handler in (("app", app), ("sso", sso)):
        web_app = web.Application()
        web_app.router.add_route("*", "/{tail:.*}", handler)
        runner, bases[name] = await serve_app(web_app)
        runners.append(runner)
    timer = PhaseTimer()
    rec = ProbeRecorder(timer)
    jar = CookieJar()
    set_cookie(jar, "DEVICE", "d1", domain="127.0.0.1")  # a remembered device
    try:
        async with Client(rec, ssl_context=make_ssl_context(None), cookies=jar) as client:
            first = await client.request(
                "GET",
                httpx.URL(f"{bases['app']}/start"),
                with_headers(()),
                follow_redirects=True,
                max_body=1 << 20,
            )
            assert first.status == 200 and "csrf" in first.text()
            body, ctype = form_body({"u": "monitor", "csrf": "c1"})
            done = await client.request(
                "POST",
                httpx.URL(f"{bases['sso']}/login"),
                [*with_headers(()), ("Content-Type", ctype)],
                body=body,
                follow_redirects=True,
                max_body=1 << 20,
            )
    finally:
        for runner in runners:
            await runner.cleanup()
    assert done.status == 200 and str(done.url) == f"{bases['app']}/home"
    assert done.text() == "Inbox: Grüße"
    assert [(n, m) for n, m, _, _ in seen] == [
        ("app", "GET"),
        ("sso", "GET"),
        ("sso", "POST"),
        ("app", "GET"),
    ]
    assert seen[2][3] == b"u=monitor&csrf=c1"
    assert seen[3][3] == b"", "the 303 turns the POST into a GET without a body"
    assert "DEVICE=d1" in seen[0][2]
    assert "SSO=s1" in seen[2][2] and "APP=a1" in seen[3][2]
    assert {c.name for c in jar} == {"APP", "SSO", "DEVICE"}
    assert len(peers["app"]) == 1 and len(peers["sso"]) == 1, "one connection per origin"
    assert all(v >= 0 for v in timer.phases.values())
    assert timer.phases["connect"] > 0 and timer.phases["processing"] > 0
