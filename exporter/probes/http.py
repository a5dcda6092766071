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
from urllib.parse import urlsplit

import httpx

from exporter.config import HttpTarget
from exporter.probes import ProbeContext
from exporter.probes.classify import classify_exception, classify_status, describe_exception
from exporter.probes.client import Answer, Client, parse_url, with_headers
from exporter.probes.tls import make_ssl_context
from exporter.probes.transport import ProbeRecorder
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


async def probe(target: HttpTarget, ctx: ProbeContext) -> ProbeResult:
    started = ctx.clock.now()
    timer = PhaseTimer(now=ctx.clock.monotonic, tls=target.url.startswith("https:"))
    rec = ProbeRecorder(timer, restart_on_connect=True)
    headers = with_headers(
        (k, v.reveal() if isinstance(v, Secret) else v) for k, v in target.headers
    )
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
                resp = await client.request(
                    target.method,
                    parse_url(target.url),
                    headers,
                    follow_redirects=target.follow_redirects,
                    max_redirects=target.max_redirects,
                    max_body=target.max_body_bytes,
                    keep_body=target.expect.has_body_rule(),
                )
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
