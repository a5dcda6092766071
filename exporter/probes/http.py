"""The `http` probe: one request (plus bounded redirects), timed per phase, checked.

Checks, in order: the status code (`expect.status`, default any 2xx), the redirect target
host (`expect.redirect_host`: the Location header when redirects are not followed, else the
final URL), and the body (`body_contains` / `body_regex`). The e-Office root redirects to
Parichay, so an app probe stops at that redirect (`follow_redirects: false`) and checks
where it points; otherwise every Parichay outage would also look like an e-Office outage.
"""

from __future__ import annotations

import asyncio
import base64
import functools
from urllib.parse import urlsplit

import httpx

from exporter.config import HttpTarget
from exporter.probes import ProbeContext
from exporter.probes.classify import classify_exception, classify_status, describe_exception
from exporter.probes.net import USER_AGENT, ProbeRecorder, RedirectError, make_ssl_context
from exporter.probes.wire import Answer, Client
from exporter.result import PhaseTimer, ProbeResult, Reason
from servicekit.secrets import Secret, redact


def host_matches(url: str, expected: str) -> bool:
    """`expected` is a host, or host:port (then the port must match too)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in expected and not expected.startswith("["):
        exp_host, _, exp_port = expected.rpartition(":")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return host == exp_host.lower() and str(port) == exp_port
    return host == expected.lower().strip("[]")


def safe_url(url: str) -> str:
    """Scheme, host and path only: queries may carry session ids or one-time codes."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def check_response(target: HttpTarget, resp: Answer) -> tuple[Reason | None, str]:
    """Apply `expect` to an answer: (None, "") when it passes."""
    exp = target.expect
    reason = classify_status(resp.status, exp.status)
    if reason is not None:
        want = ", ".join(map(str, exp.status)) if exp.status else "2xx"
        return reason, f"HTTP {resp.status}, expected {want}"
    if exp.redirect_host is not None:
        if target.follow_redirects:
            where = str(resp.url)
        else:
            location = resp.header("location")
            if not location:
                return Reason.REDIRECT_ERROR, f"HTTP {resp.status} without a Location header"
            try:
                where = str(resp.url.join(location))
            except httpx.InvalidURL:
                return Reason.REDIRECT_ERROR, "the Location header is not a valid URL"
        if not host_matches(where, exp.redirect_host):
            return (
                Reason.REDIRECT_ERROR,
                f"redirected to {safe_url(where)}, expected host {exp.redirect_host}",
            )
    problem = exp.body_problem(resp.text()) if exp.has_body_rule() else None
    if problem is not None:
        return Reason.CONTENT_MISMATCH, f"body {problem}"
    return None, ""


# What httpx's client would send by default (the login probe's client still does).
_BASE_HEADERS = (
    ("Accept", "*/*"),
    ("Accept-Encoding", "gzip, deflate"),
    ("User-Agent", USER_AGENT),
)


@functools.lru_cache(maxsize=4096)
def _parsed(url: str) -> httpx.URL:
    """Parsing a URL costs more than a loopback probe's Python work; targets repeat them."""
    return httpx.URL(url)


def _redirect_target(base: httpx.URL, location: str) -> httpx.URL:
    """Where a Location header points, or RedirectError if the probe cannot go there."""
    try:
        url = base.join(location)
    except httpx.InvalidURL as exc:
        raise RedirectError(f"invalid Location header: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise RedirectError(f"redirected to a {url.scheme or 'relative'}: URL, not http(s)")
    return url


async def _exchange(client: Client, target: HttpTarget, headers: list[tuple[str, str]]) -> Answer:
    """One request, and the redirects `target` allows, with httpx's redirect rules."""
    method, url = target.method, _parsed(target.url)
    first_host = url.host
    keep_body = target.expect.has_body_rule()
    for hop in range(target.max_redirects + 1):
        hop_headers = headers
        if url.host != first_host:
            # As httpx does: credentials are not sent to another host.
            hop_headers = [(k, v) for k, v in headers if k.lower() != "authorization"]
        resp = await client.send(
            method, url, hop_headers, max_body=target.max_body_bytes, keep_body=keep_body
        )
        location = resp.header("location")
        if not (target.follow_redirects and resp.is_redirect and location):
            return resp
        if hop == target.max_redirects:
            raise httpx.TooManyRedirects("Exceeded maximum allowed redirects.")
        url = _redirect_target(resp.url, location)
        if (resp.status == 303 and method != "HEAD") or (
            resp.status in (301, 302) and method == "POST"
        ):
            method = "GET"
    raise AssertionError("unreachable")  # pragma: no cover


async def probe(target: HttpTarget, ctx: ProbeContext) -> ProbeResult:
    started = ctx.clock.now()
    timer = PhaseTimer(now=ctx.clock.monotonic, tls=target.url.startswith("https:"))
    rec = ProbeRecorder(timer, restart_on_connect=True)
    headers = list(_BASE_HEADERS)
    for k, v in target.headers:
        headers = [(hk, hv) for hk, hv in headers if hk.lower() != k.lower()]
        headers.append((k, v.reveal() if isinstance(v, Secret) else v))
    if target.basic_auth is not None:
        pair = f"{target.basic_auth.username}:{target.basic_auth.password.reveal()}"
        headers.append(("Authorization", "Basic " + base64.b64encode(pair.encode()).decode()))
    status, final_url = 0, None
    reason: Reason | None = None
    detail = ""
    client = Client(
        rec, ssl_context=make_ssl_context(target.tls), server_name=target.tls.server_name
    )
    try:
        async with asyncio.timeout(target.timeout):
            try:
                timer.restart()
                resp = await _exchange(client, target, headers)
            finally:
                await client.aclose()
            if rec.done_at is not None:
                # The whole body arrived: the probe ended with its last byte, not now.
                timer.finish(at=rec.done_at)
            else:
                timer.mark("transfer")
            status, final_url = resp.status, safe_url(str(resp.url))
            reason, detail = check_response(target, resp)
            if reason is None and rec.cert_not_after and rec.cert_not_after < started:
                # Only reachable with insecure_skip_verify: users' browsers would warn.
                reason, detail = Reason.CERT_EXPIRED, "the server's certificate has expired"
    except (TimeoutError, httpx.HTTPError, OSError) as exc:
        reason = classify_exception(exc, pending_phase=timer.pending)
        detail = f"{timer.pending}: {describe_exception(exc)}"
    return ProbeResult.measured(
        target.name,
        timer,
        started_at=started,
        reason=reason,
        detail=redact(detail, target.secrets()),
        http_status=status,
        final_url=None if final_url is None else redact(final_url, target.secrets()),
        cert_not_after=rec.cert_not_after,
    )
