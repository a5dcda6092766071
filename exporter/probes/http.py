"""The `http` probe: one request (plus bounded redirects), timed per phase, checked.

Checks, in order: the status code (`expect.status`, default any 2xx), the redirect target
host (`expect.redirect_host`: the Location header when redirects are not followed, else the
final URL), and the body (`body_contains` / `body_regex`). The e-Office root redirects to
Parichay, so an app probe stops at that redirect (`follow_redirects: false`) and checks
where it points; otherwise every Parichay outage would also look like an e-Office outage.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from exporter.config import HttpTarget
from exporter.probes import ProbeContext
from exporter.probes.classify import classify_exception, classify_status, describe_exception
from exporter.probes.net import ProbeRecorder, make_client, trace_hook
from exporter.result import PhaseTimer, ProbeResult, Reason
from exporter.secrets import Secret, redact


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


async def read_body(resp: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def decode(resp: httpx.Response, body: bytes) -> str:
    return body.decode(resp.encoding or "utf-8", errors="replace")


def check_response(
    target: HttpTarget, resp: httpx.Response, body: bytes
) -> tuple[Reason | None, str]:
    """Apply `expect` to an answer: (None, "") when it passes."""
    exp = target.expect
    reason = classify_status(resp.status_code, exp.status)
    if reason is not None:
        want = ", ".join(map(str, exp.status)) if exp.status else "2xx"
        return reason, f"HTTP {resp.status_code}, expected {want}"
    if exp.redirect_host is not None:
        if target.follow_redirects:
            where = str(resp.url)
        else:
            location = resp.headers.get("location")
            if not location:
                return Reason.REDIRECT_ERROR, f"HTTP {resp.status_code} without a Location header"
            where = str(resp.url.join(location))
        if not host_matches(where, exp.redirect_host):
            return (
                Reason.REDIRECT_ERROR,
                f"redirected to {safe_url(where)}, expected host {exp.redirect_host}",
            )
    if exp.body_contains is not None and exp.body_contains not in decode(resp, body):
        return Reason.CONTENT_MISMATCH, f"body does not contain {exp.body_contains!r}"
    if exp.body_regex is not None and not exp.body_regex.search(decode(resp, body)):
        return Reason.CONTENT_MISMATCH, f"body does not match /{exp.body_regex.pattern}/"
    return None, ""


async def probe(target: HttpTarget, ctx: ProbeContext) -> ProbeResult:
    started = ctx.clock.time()
    timer = PhaseTimer(now=ctx.clock.perf, tls=target.url.startswith("https:"))
    rec = ProbeRecorder(timer, restart_on_connect=True)
    headers = {k: v.reveal() if isinstance(v, Secret) else v for k, v in target.headers}
    auth = (
        (target.basic_auth.username, target.basic_auth.password.reveal())
        if target.basic_auth
        else None
    )
    status, final_url = 0, None
    reason: Reason | None = None
    detail = ""
    try:
        async with asyncio.timeout(target.timeout):
            async with make_client(
                timeout=target.timeout,
                tls=target.tls,
                recorder=rec,
                follow_redirects=target.follow_redirects,
                max_redirects=target.max_redirects,
                transport=ctx.transport,
            ) as client:
                # Loading CA certificates takes tens of milliseconds: not the target's time.
                timer.restart()
                request = client.build_request(
                    target.method,
                    target.url,
                    headers=headers,
                    extensions={"trace": trace_hook(rec)},
                )
                if target.tls.server_name:
                    request.extensions["sni_hostname"] = target.tls.server_name
                resp = await client.send(request, auth=auth, stream=True)
                try:
                    body = await read_body(resp, target.max_body_bytes)
                finally:
                    await resp.aclose()
                if rec.done_at is not None:
                    # The whole body arrived: the probe ended with its last byte, not now.
                    timer.finish(at=rec.done_at)
                else:
                    timer.mark("transfer")
                status, final_url = resp.status_code, safe_url(str(resp.url))
                reason, detail = check_response(target, resp, body)
                if reason is None and rec.cert_not_after and rec.cert_not_after < started:
                    # Only reachable with insecure_skip_verify: users' browsers would warn.
                    reason, detail = Reason.CERT_EXPIRED, "the server's certificate has expired"
    except (TimeoutError, httpx.HTTPError, OSError) as exc:
        reason = classify_exception(exc, pending_phase=timer.pending)
        detail = f"{timer.pending}: {describe_exception(exc)}"
    return ProbeResult.measured(
        target.name, timer, started_at=started, reason=reason,
        detail=redact(detail, target.secrets()),
        http_status=status,
        final_url=None if final_url is None else redact(final_url, target.secrets()),
        cert_not_after=rec.cert_not_after,
    )
