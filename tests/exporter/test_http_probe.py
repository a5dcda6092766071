"""The http probe against a loopback server: its checks, redirects, bodies and framing."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import trustme
from aiohttp import web

from exporter.config import HttpTarget, load_config_text
from exporter.probes import ProbeContext, run_probe
from exporter.result import PHASES, ProbeResult, Reason
from tests.support.net import HOST, serve_app

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOGIN = "https://parichay.nic.in/pnv1/assets/login?sid=eOfficeUK"


class Server:
    """An aiohttp app on 127.0.0.1 whose one route the test sets; it counts requests,
    connections and the headers it was sent."""

    def __init__(self) -> None:
        self.handler: Handler | None = None
        self.requests: list[web.Request] = []
        self.peers: set[tuple[str, int]] = set()
        self.base = ""

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer is not None:
            self.peers.add(tuple(peer))
        assert self.handler is not None
        return await self.handler(request)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", srv.dispatch)
    runner, srv.base = await serve_app(app)
    try:
        yield srv
    finally:
        await runner.cleanup()


def _target(yaml_target: str) -> HttpTarget:
    cfg = load_config_text(f"vantage: v\ntargets:\n  - {yaml_target}\n")
    t = cfg.targets[0]
    assert isinstance(t, HttpTarget)
    return t


async def _probe(srv: Server, handler: Handler, spec: str) -> ProbeResult:
    srv.handler = handler
    return await run_probe(_target(spec), ProbeContext())


def _answer(status: int, *, location: str | None = None, text: str = "") -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"Location": location} if location else {}
        return web.Response(status=status, text=text, headers=headers)

    return handler


@pytest.mark.parametrize(
    ("status", "location", "expect_host", "reason"),
    [
        pytest.param(302, LOGIN, "parichay.nic.in", None, id="redirects-to-parichay"),
        pytest.param(
            302,
            "https://evil.example/login",
            "parichay.nic.in",
            Reason.REDIRECT_ERROR,
            id="redirects-elsewhere",
        ),
        pytest.param(302, None, "parichay.nic.in", Reason.REDIRECT_ERROR, id="no-location"),
        pytest.param(
            200, None, "parichay.nic.in", Reason.UNEXPECTED_STATUS, id="no-redirect-at-all"
        ),
        pytest.param(503, None, "parichay.nic.in", Reason.HTTP_5XX, id="app-down"),
        pytest.param(
            302,
            "https://parichay.nic.in:8443/x",
            "parichay.nic.in:443",
            Reason.REDIRECT_ERROR,
            id="port-must-match-when-given",
        ),
    ],
)
async def test_app_root_stops_at_the_redirect_to_parichay(
    server: Server, status: int, location: str | None, expect_host: str, reason: Reason | None
) -> None:
    """An app probe checks where e-Office sends users without following into Parichay."""
    result = await _probe(
        server,
        _answer(status, location=location),
        f"{{name: root, role: app, kind: http, url: '{server.base}/', follow_redirects: false,"
        f" expect: {{status: [302], redirect_host: '{expect_host}'}}}}",
    )
    assert result.reason is reason, result.detail
    assert result.success is (reason is None)
    assert [r.path for r in server.requests] == ["/"], "must never follow into Parichay"
    assert result.http_status == status


@pytest.mark.parametrize(
    ("body", "expect", "reason"),
    [
        pytest.param("<title>Parichay</title>", "body_contains: Parichay", None, id="contains"),
        pytest.param(
            "Under maintenance",
            "body_contains: Parichay",
            Reason.CONTENT_MISMATCH,
            id="missing-marker",
        ),
        pytest.param("csrf_token=abc", "body_regex: 'csrf_token=[a-z]+'", None, id="regex"),
        pytest.param(
            "nothing", "body_regex: 'csrf_token=[a-z]+'", Reason.CONTENT_MISMATCH, id="regex-miss"
        ),
    ],
)
async def test_body_checks(server: Server, body: str, expect: str, reason: Reason | None) -> None:
    """Body expectations turn a 200 with the wrong page into content_mismatch."""
    result = await _probe(
        server,
        _answer(200, text=body),
        f"{{name: p, role: sso, kind: http, url: '{server.base}/', expect: {{{expect}}}}}",
    )
    assert result.reason is reason, result.detail


async def test_follows_redirects_up_to_the_limit(server: Server) -> None:
    """A redirect loop ends as redirect_error after max_redirects, not a hang."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": f"/loop{len(server.requests)}"})

    result = await _probe(
        server,
        handler,
        f"{{name: p, role: sso, kind: http, url: '{server.base}/', max_redirects: 3}}",
    )
    assert result.reason is Reason.REDIRECT_ERROR
    assert len(server.requests) == 4


async def test_a_redirect_to_the_same_origin_reuses_the_connection(server: Server) -> None:
    """Like a browser, a same-origin redirect goes over the open keep-alive connection;
    the phases still add up to the duration."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/":
            return web.Response(status=302, headers={"Location": "/home"}, text="moved")
        return web.Response(text="Parichay home")

    result = await _probe(
        server,
        handler,
        f"{{name: p, role: sso, kind: http, url: '{server.base}/', "
        "expect: {body_contains: 'Parichay home'}}",
    )
    assert result.success, result.detail
    assert [r.path for r in server.requests] == ["/", "/home"]
    assert len(server.peers) == 1
    assert sum(result.phases.values()) == pytest.approx(result.duration, abs=1e-9)


async def test_see_other_turns_a_post_into_a_get(server: Server) -> None:
    """303 after a POST is followed with GET (and the POST says Content-Length: 0)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            assert request.headers.get("Content-Length") == "0"
            return web.Response(status=303, headers={"Location": "/done"})
        return web.Response(text="done")

    result = await _probe(
        server, handler, f"{{name: p, role: sso, kind: http, url: '{server.base}/', method: POST}}"
    )
    assert result.success, result.detail
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/"), ("GET", "/done")]


async def test_final_url_has_no_query_string(server: Server) -> None:
    """Final URLs are shown without their query: it may carry session ids."""
    result = await _probe(
        server,
        _answer(200, text="ok"),
        f"{{name: p, role: sso, kind: http, url: '{server.base}/pnv1/login?sid=s3ss10n'}}",
    )
    assert result.final_url == f"{server.base}/pnv1/login"
    assert set(result.phases) == set(PHASES)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
async def test_compressed_bodies_are_checked_decoded(server: Server, encoding: str) -> None:
    """The probe asks for gzip and deflate like a browser and checks the decoded text."""
    page = ("<html><body>" + "Parichay sign in " * 200 + "</body></html>").encode()
    packed = {
        "gzip": gzip.compress(page),
        "deflate": zlib.compress(page),
        "raw-deflate": zlib.compress(page)[2:-4],  # no zlib header, as some servers send
    }[encoding]

    async def handler(request: web.Request) -> web.StreamResponse:
        assert "gzip" in request.headers.get("Accept-Encoding", "")
        return web.Response(
            body=packed,
            headers={
                "Content-Encoding": encoding.removeprefix("raw-"),
                "Content-Type": "text/html",
            },
        )

    result = await _probe(
        server,
        handler,
        f"{{name: p, role: sso, kind: http, url: '{server.base}/', "
        "expect: {body_regex: 'sign in </body>'}}",
    )
    assert result.success, result.detail


async def test_a_body_that_does_not_decode_is_a_content_mismatch(server: Server) -> None:
    """Garbage labelled gzip is the server's fault in the content, not a refused connection."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"not gzip at all", headers={"Content-Encoding": "gzip"})

    result = await _probe(
        server,
        handler,
        f"{{name: p, role: sso, kind: http, url: '{server.base}/', expect: {{body_contains: x}}}}",
    )
    assert result.reason is Reason.CONTENT_MISMATCH, result.detail


async def test_chunked_bodies_and_the_declared_charset(server: Server) -> None:
    """A chunked answer is read to its end and decoded with the charset it declares."""

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html; charset=iso-8859-1"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for part in (b"<p>caf", "\u00e9 ".encode("latin-1"), b"Parichay</p>"):
            await resp.write(part)
            await asyncio.sleep(0.01)
        await resp.write_eof()
        return resp

    result = await _probe(
        server,
        handler,
        f"{{name: p, role: sso, kind: http, url: '{server.base}/', "
        "expect: {body_contains: 'caf\u00e9 Parichay'}}",
    )
    assert result.success, result.detail
    # The chunks came 10 ms apart: the transfer phase holds that time.
    assert result.phases["transfer"] >= 0.015


async def test_only_max_body_bytes_are_read(server: Server) -> None:
    """A huge page is read up to max_body_bytes; a marker beyond it is not found."""
    page = b"a" * 4096 + b"MARKER"

    result = await _probe(
        server,
        _answer(200, text=page.decode()),
        f"{{name: p, role: sso, kind: http, url: '{server.base}/', max_body_bytes: 4096, "
        "expect: {body_contains: MARKER}}",
    )
    assert result.reason is Reason.CONTENT_MISMATCH


async def test_an_answer_cut_off_mid_body_fails(server: Server) -> None:
    """A server that promises 1000 bytes and hangs up after 10 did not answer."""

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": "1000"})
        await resp.prepare(request)
        await resp.write(b"0123456789")
        assert request.transport is not None
        request.transport.close()
        return resp

    result = await _probe(
        server, handler, f"{{name: p, role: sso, kind: http, url: '{server.base}/'}}"
    )
    assert result.reason is Reason.CONNECT_REFUSED, result.detail
    assert result.detail.startswith("transfer:"), result.detail


async def test_secret_headers_and_basic_auth_are_sent_but_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Secrets reach the server and nowhere else, not even when the server echoes them."""
    monkeypatch.setenv("PARICHAY_T_TOKEN", "tok-sekrit-9876")
    monkeypatch.setenv("PARICHAY_T_PW", "pw-sekrit-5432")
    got: dict[str, str] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        got.update(request.headers)
        # A hostile or buggy server reflecting what we sent into where it sends us.
        where = f"https://evil.example/{request.headers['X-Token']}/x"
        return web.Response(status=302, headers={"Location": where})

    # basic_auth needs https: a TLS listener with a throw-away certificate.
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(server_ctx)
    app = web.Application()
    app.router.add_get("/", handler)
    runner, base = await serve_app(app, ssl_context=server_ctx)
    try:
        with ca.cert_pem.tempfile() as ca_file:
            t = _target(
                f"{{name: p, role: app, kind: http, url: '{base}/', follow_redirects: false, "
                "headers: {X-Token: '${PARICHAY_T_TOKEN}'}, "
                "basic_auth: {username: mon, password_env: PARICHAY_T_PW}, "
                f"tls: {{ca_file: '{ca_file}'}}, "
                "expect: {status: [302], redirect_host: parichay.nic.in}}"
            )
            result = await run_probe(t, ProbeContext())
    finally:
        await runner.cleanup()
    assert got["X-Token"] == "tok-sekrit-9876"
    assert got["Authorization"].startswith("Basic ")
    assert result.reason is Reason.REDIRECT_ERROR
    assert "tok-sekrit-9876" not in result.detail
    assert "<secret>" in result.detail
    assert "tok-sekrit-9876" not in repr(result) and "pw-sekrit-5432" not in repr(t)


async def test_a_redirect_off_the_web_is_a_redirect_error(server: Server) -> None:
    """A Location the probe cannot follow (ftp:, mailto:) is a redirect error, not a crash."""
    result = await _probe(
        server,
        _answer(302, location="ftp://files.example/pub"),
        f"{{name: p, role: sso, kind: http, url: '{server.base}/'}}",
    )
    assert result.reason is Reason.REDIRECT_ERROR, result.detail
    assert "ftp" in result.detail


async def _raw_server(answer: bytes) -> tuple[asyncio.Server, str, list[bytes]]:
    """A TCP server that reads one request head, writes `answer` as is and hangs up."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(answer)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, HOST, 0)
    port = srv.sockets[0].getsockname()[1]
    return srv, f"http://{HOST}:{port}", seen


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param(
            b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\nbody until EOF: Parichay",
            None,
            id="http-1.0-body-until-close",
        ),
        pytest.param(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nParichay",
            None,
            id="informational-first",
        ),
        pytest.param(b"SSH-2.0-OpenSSH_9.2\r\n", Reason.CONNECT_REFUSED, id="not-http"),
        pytest.param(b"", Reason.CONNECT_REFUSED, id="closed-without-answer"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nParic",
            Reason.CONNECT_REFUSED,
            id="chunked-cut-off",
        ),
    ],
)
async def test_answers_at_the_wire(answer: bytes, reason: Reason | None) -> None:
    """Framing the way real servers get it right and wrong: a complete answer passes, a
    broken one fails as a refused/broken connection, never as a crash."""
    srv, base, seen = await _raw_server(answer)
    try:
        t = _target(
            f"{{name: p, role: sso, kind: http, url: '{base}/x', "
            "expect: {body_contains: Parichay}}"
        )
        result = await run_probe(t, ProbeContext())
    finally:
        srv.close()
        await srv.wait_closed()
    assert result.reason is reason, result.detail
    assert seen and seen[0].startswith(b"GET /x HTTP/1.1\r\n")
    assert f"host: {base.removeprefix('http://')}".encode() in seen[0].lower()


async def test_head_reads_no_body(server: Server) -> None:
    """HEAD answers carry a Content-Length but no body; the probe must not wait for one."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text="x" * 5000)

    result = await _probe(
        server, handler, f"{{name: p, role: sso, kind: http, url: '{server.base}/', method: HEAD}}"
    )
    assert result.success, result.detail
    assert result.duration < 1.0
    assert [r.method for r in server.requests] == ["HEAD"]
