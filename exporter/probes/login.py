"""The `login` probe: the real path a user takes, e-Office -> Parichay -> e-Office inbox.

One run = one HTTP client (`exporter/probes/client.py`) with one cookie jar, the declared
steps in order, each timed (`StepResult`), with values extracted into variables for later
steps. The first failing step decides the reason: its network reason, `http_5xx`, a
matching `reject` rule (`login_rejected` / `otp_rejected`), or `login_flow_broken` for
anything else that is not as declared (status, final host, text, a field or token to
extract). `always_run` steps (logout) run afterwards whatever happened, outside the
measured duration and its phases (their time is only in their own step gauge), so the
phases add up to the duration.

What a run leaves behind goes to the target's `Account` (`exporter/account.py`, which
owns the pause that protects the monitoring account and the state file): the outcome
(rejections in a row pause the target), the TOTP time step used (a code is never
submitted twice) and the named persistent cookies (a remembered device). Secrets,
extracted tokens and OTPs are redacted from every detail string.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from typing import Any

import httpx
import pyotp

from exporter.account import Account
from exporter.login_config import TEMPLATE_RE, Extract, LoginTarget, Step, template_names
from exporter.probes import ProbeContext
from exporter.probes.classify import classify_exception, classify_status, describe_exception
from exporter.probes.client import Answer, Client, form_body, json_body, set_cookie, with_headers
from exporter.probes.http import host_matches, safe_url
from exporter.probes.tls import make_ssl_context
from exporter.probes.transport import ProbeRecorder
from exporter.result import PhaseTimer, ProbeResult, Reason, StepResult
from servicekit.secrets import redact

log = logging.getLogger("exporter.probes.login")

TOTP_STEP = 30
_CLEANUP_TIMEOUT = 5.0
_MAX_BODY = 1_048_576




class MissingValue(Exception):
    """A template referenced a variable that an earlier (optional) step did not set."""


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            a = dict(attrs)
            name = a.get("name")
            if name and name not in self.fields:
                self.fields[name] = a.get("value") or ""


def form_fields(html: str) -> dict[str, str]:
    parser = _Inputs()
    parser.feed(html)
    return parser.fields


def json_path(data: Any, path: str) -> Any:
    """`txn`, `data.redirect`, `$.items[0].id` -> the value, or None."""
    cur = data
    path = path.removeprefix("$").removeprefix(".")
    for part in path.replace("]", "").split("."):
        if not part:
            continue
        name, *indexes = part.split("[")
        if name:
            if not isinstance(cur, dict) or name not in cur:
                return None
            cur = cur[name]
        for idx in indexes:
            if not isinstance(cur, list) or not idx.isdigit() or int(idx) >= len(cur):
                return None
            cur = cur[int(idx)]
    return cur


def extract(ex: Extract, resp: Answer, text: str, cookies: CookieJar | None) -> str | None:
    if ex.source == "final_url":
        return str(resp.url)
    if ex.source == "header":
        return resp.header(ex.arg)
    if ex.source == "cookie":
        for cookie in cookies or ():
            if cookie.name == ex.arg and cookie.value is not None:
                return cookie.value
        return None
    if ex.source == "form_field":
        return form_fields(text).get(ex.arg)
    if ex.source == "regex":
        assert ex.pattern is not None
        m = ex.pattern.search(text)
        return None if m is None else m.group(ex.group)
    if ex.source == "json":
        try:
            value = json_path(json.loads(text), ex.arg)
        except ValueError:
            return None
        return None if value is None or isinstance(value, (dict, list)) else str(value)
    raise AssertionError(f"unknown extract source {ex.source}")


def render(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):

        def sub(m: Any) -> str:
            name = m.group(1)
            if variables.get(name) in (None, ""):
                raise MissingValue(name)
            return variables[name]

        return TEMPLATE_RE.sub(sub, value)
    if isinstance(value, dict):
        return {k: render(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    return value


# ---------------------------------------------------------------- the run


def _uses_totp(step: Step) -> bool:
    return "totp" in template_names(
        [step.url, dict(step.headers), dict(step.form or ()), step.json]
    )


async def _wait_for_fresh_totp_window(
    target: LoginTarget, ctx: ProbeContext, state: Account
) -> None:
    """Before a run (outside its timeout and timing): never reuse the last time step."""
    if state.last_totp_counter is None or not any(_uses_totp(s) for s in target.steps):
        return
    now = ctx.clock.now()
    if int(now // TOTP_STEP) <= state.last_totp_counter:
        wait = (state.last_totp_counter + 1) * TOTP_STEP - now + 0.2
        log.info("target=%s waiting %.1fs for a fresh TOTP code", target.name, wait)
        await ctx.clock.sleep(wait)


async def _totp(target: LoginTarget, ctx: ProbeContext, state: Account) -> str:
    assert target.credentials.totp_secret is not None
    totp = pyotp.TOTP(target.credentials.totp_secret.reveal().replace(" ", "").upper())
    now = ctx.clock.now()
    if state.last_totp_counter is not None and int(now // TOTP_STEP) <= state.last_totp_counter:
        # Never send the same code twice (Parichay would count a replay as a wrong OTP).
        wait = (state.last_totp_counter + 1) * TOTP_STEP - now + 0.2
        log.info("target=%s waiting %.1fs for a fresh TOTP code", target.name, wait)
        await ctx.clock.sleep(wait)
        now = ctx.clock.now()
    await ctx.accounts.use_totp(target, int(now // TOTP_STEP))
    return totp.at(now)


@dataclass(slots=True)
class _Run:
    target: LoginTarget
    ctx: ProbeContext
    state: Account
    client: Client
    rec: ProbeRecorder
    variables: dict[str, str]
    secrets: list[str]
    last_status: int = 0
    final_url: str | None = None
    step_started: float = 0.0

    async def step(self, step: Step) -> tuple[StepResult, Reason | None, str]:
        t0 = self.step_started = self.ctx.clock.monotonic()
        status = 0
        try:
            reason, detail, status = await self._send(step)
        except MissingValue as exc:
            reason, detail = Reason.LOGIN_FLOW_BROKEN, f"no value for {{{{{exc.args[0]}}}}}"
        except (TimeoutError, httpx.HTTPError, OSError) as exc:
            if type(exc) is TimeoutError:
                raise
            reason = classify_exception(exc, pending_phase=self.rec.timer.pending)
            detail = describe_exception(exc)
        result = StepResult(
            name=step.name,
            duration=self.ctx.clock.monotonic() - t0,
            success=reason is None,
            http_status=status,
        )
        return result, reason, detail

    async def _send(self, step: Step) -> tuple[Reason | None, str, int]:
        if _uses_totp(step):
            code = await _totp(self.target, self.ctx, self.state)
            self.variables["totp"] = code
            self.secrets.append(code)
        url = httpx.URL(render(step.url, self.variables))
        headers = with_headers(render(dict(step.headers), self.variables).items())
        body = None
        if step.form is not None:
            body, ctype = form_body(render(dict(step.form), self.variables))
        elif step.json is not None:
            body, ctype = json_body(render(step.json, self.variables))
        if body is not None and not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", ctype))
        resp = await self.client.request(
            step.method,
            url,
            headers,
            body=body,
            follow_redirects=step.follow_redirects,
            max_body=_MAX_BODY,
        )
        self.rec.timer.mark("transfer")
        self.last_status, self.final_url = resp.status, safe_url(str(resp.url))
        text = resp.text()
        return (*self._judge(step, resp, text), resp.status)

    def _judge(self, step: Step, resp: Answer, text: str) -> tuple[Reason | None, str]:
        status = resp.status
        for rule in step.reject:
            if rule.matches(status, text):
                return rule.reason, f"the server refused the monitoring account (HTTP {status})"
        exp = step.expect
        bad = classify_status(status, exp.status)
        if bad is Reason.HTTP_5XX:
            return bad, f"HTTP {status}"
        if bad is not None:
            want = ", ".join(map(str, exp.status)) if exp.status else "2xx"
            return Reason.LOGIN_FLOW_BROKEN, f"HTTP {status}, expected {want}"
        if exp.final_host is not None and not host_matches(str(resp.url), exp.final_host):
            return (
                Reason.LOGIN_FLOW_BROKEN,
                f"ended at {safe_url(str(resp.url))}, expected host {exp.final_host}",
            )
        problem = exp.body_problem(text)
        if problem is not None:
            return Reason.LOGIN_FLOW_BROKEN, f"page {problem}"
        for var, ex in step.extract:
            value = extract(ex, resp, text, self.client.cookies)
            if value is None or value == "":
                if ex.optional:
                    self.variables.pop(var, None)
                    continue
                what = f"{ex.source} {ex.arg}".strip()
                return Reason.LOGIN_FLOW_BROKEN, f"could not extract {var} ({what})"
            self.variables[var] = value
            self.secrets.append(value)
        return None, ""


def _restore_cookies(target: LoginTarget, state: Account) -> CookieJar:
    cookies = CookieJar()
    for c in state.cookies:
        set_cookie(
            cookies, c["name"], c["value"], domain=c.get("domain", ""), path=c.get("path", "/")
        )
    return cookies


def _keep_cookies(target: LoginTarget, state: Account, cookies: CookieJar | None) -> None:
    if not target.persistent_cookies or cookies is None:
        return
    kept = [
        {"name": c.name, "value": c.value, "domain": c.domain, "path": c.path}
        for c in cookies
        if c.name in target.persistent_cookies and c.value is not None
    ]
    if kept:
        state.cookies = kept


async def probe(target: LoginTarget, ctx: ProbeContext) -> ProbeResult:
    state = await ctx.accounts.load(target)
    assert state is not None
    await _wait_for_fresh_totp_window(target, ctx, state)
    started = ctx.clock.now()
    timer = PhaseTimer(now=ctx.clock.monotonic)
    rec = ProbeRecorder(timer)
    creds = target.credentials
    variables = {
        **dict(target.vars),
        "username": creds.username.reveal(),
        "password": creds.password.reveal(),
    }
    secrets = [s.reveal() for s in target.secrets()]
    steps: list[StepResult] = []
    reason: Reason | None = None
    detail, failed = "", None
    async with Client(
        rec,
        ssl_context=make_ssl_context(target.tls),
        cookies=_restore_cookies(target, state),
        mock=ctx.transport,
    ) as client:
        run = _Run(
            target=target,
            ctx=ctx,
            state=state,
            client=client,
            rec=rec,
            variables=variables,
            secrets=secrets,
        )
        timer.restart()
        current: Step | None = None
        try:
            async with asyncio.timeout(target.timeout):
                for current in (s for s in target.steps if not s.always_run):
                    if current.skip_if_defined and variables.get(current.skip_if_defined):
                        continue
                    result, reason, detail = await run.step(current)
                    steps.append(result)
                    if reason is not None:
                        failed = current.name
                        break
        except TimeoutError as exc:
            reason = classify_exception(exc, pending_phase=timer.pending)
            failed = current.name if current else None
            detail = f"no answer within the login timeout ({target.timeout:g}s)"
            if current is not None:
                steps.append(
                    StepResult(
                        name=current.name,
                        success=False,
                        duration=ctx.clock.monotonic() - run.step_started,
                    )
                )
        duration = timer.finish()
        status, final_url = run.last_status, run.final_url
        for cleanup in (s for s in target.steps if s.always_run):
            try:
                async with asyncio.timeout(min(_CLEANUP_TIMEOUT, target.timeout)):
                    result, _, _ = await run.step(cleanup)
            except TimeoutError:
                result = StepResult(name=cleanup.name, duration=_CLEANUP_TIMEOUT, success=False)
            steps.append(dataclasses.replace(result, cleanup=True))
        _keep_cookies(target, state, client.cookies)
    await ctx.accounts.record(target, reason, step=failed)
    if failed:
        detail = f"step {failed}: {detail}"
    return ProbeResult.measured(
        target.name, timer, started_at=started, reason=reason, detail=redact(detail, secrets),
        duration=duration, http_status=status,
        final_url=None if final_url is None else redact(final_url, secrets),
        cert_not_after=rec.cert_not_after, steps=tuple(steps), failed_step=failed,
    )
