"""The `login` probe: the real path a user takes, e-Office -> Parichay -> e-Office inbox.

One run = one HTTP client (`exporter/probes/client.py`) with one cookie jar, the declared
steps in order, each timed (`StepResult`), with values extracted into variables for later
steps. The first failing step decides the reason: its network reason, `http_5xx`, a
matching `reject` rule (`login_rejected` / `otp_rejected`), or `login_flow_broken` for
anything else that is not as declared (status, final host, text, a field or token to
extract). `always_run` steps (logout) run afterwards whatever happened, outside the
measured duration and its phases (their time is only in their own step gauge), so the
phases add up to the duration.

Account protection lives here too: rejections in a row pause the target (the scheduler
skips it, `parichay_login_suspended` is 1) for `suspend_for`. A pause is lifted earlier
only when the target's credentials really changed (a salted scrypt digest of the resolved
secrets taken at the rejection is compared on reload and at start; the secrets themselves
are never stored) or by an explicit, authenticated resume. A TOTP code is never submitted
twice (the last used time step is remembered). Both survive restarts in `state_file`
(mode 0600), with the named persistent cookies (a remembered device). Secrets, extracted
tokens and OTPs are redacted from every detail string.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from pathlib import Path
from secrets import token_hex
from typing import Any

import httpx
import pyotp

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
_SUSPEND_REASONS = (str(Reason.LOGIN_REJECTED), str(Reason.OTP_REJECTED))
_CLEANUP_TIMEOUT = 5.0
_MAX_BODY = 1_048_576


@dataclass(frozen=True, slots=True, kw_only=True)
class Suspension:
    """Why and until when logins of one target are paused (all wall-clock times)."""

    reason: str  # login_rejected | otp_rejected: a closed set, usable as a label
    since: float
    until: float
    step: str | None = None

    def describe(self, *, target: str) -> str:
        """A sentence for people: what was rejected, when, until when, how to resume."""
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
        until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.until))
        step = f" at step {self.step}" if self.step else ""
        return (
            f"logins of {target} are suspended to protect the monitoring account: "
            f"{self.reason}{step} at {when}; paused until {until}. To resume, fix the "
            f"credentials and reload the config (a reload with unchanged credentials keeps "
            f"the pause), or resume explicitly: POST /-/resume/{target} with the admin "
            f"token, or `parichay-exporter resume --config FILE {target}`"
        )


@dataclass(slots=True)
class LoginState:
    """What must survive between runs of one login target."""

    login_rejections: int = 0
    otp_rejections: int = 0
    last_totp_counter: int | None = None
    suspension: Suspension | None = None
    # Salted digest of the credentials the server rejected (never the credentials).
    rejected_digest: str | None = None
    salt: str | None = None
    cookies: list[dict[str, Any]] = field(default_factory=list)
    loaded: bool = False

    @property
    def suspended_until(self) -> float | None:
        return None if self.suspension is None else self.suspension.until


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


# ---------------------------------------------------------------- persisted state


def _load_state(target: LoginTarget, state: LoginState) -> None:
    if state.loaded or not target.state_file:
        state.loaded = True
        return
    state.loaded = True
    try:
        data = json.loads(Path(target.state_file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        log.warning(
            "target=%s cannot read state file %s: %s; starting fresh",
            target.name,
            target.state_file,
            exc,
        )
        return
    state.last_totp_counter = data.get("last_totp_counter")
    state.suspension = _suspension_from(data)
    state.rejected_digest = data.get("rejected_credentials_digest")
    state.salt = data.get("digest_salt")
    state.login_rejections = int(data.get("login_rejections", 0))
    state.otp_rejections = int(data.get("otp_rejections", 0))
    state.cookies = [
        c for c in data.get("cookies", []) if c.get("name") in target.persistent_cookies
    ]


def _suspension_from(data: dict[str, Any]) -> Suspension | None:
    until = data.get("suspended_until")
    if not isinstance(until, (int, float)):
        return None
    reason = data.get("suspended_reason")
    since = data.get("suspended_since")
    step = data.get("suspended_step")
    return Suspension(
        # A state file from before reasons were recorded: the pause is kept all the same.
        reason=reason if reason in _SUSPEND_REASONS else str(Reason.LOGIN_REJECTED),
        since=float(since) if isinstance(since, (int, float)) else float(until),
        until=float(until),
        step=step if isinstance(step, str) else None,
    )


def save_state(target: LoginTarget, state: LoginState) -> None:
    if not target.state_file:
        return
    path = Path(target.state_file)
    sus = state.suspension
    data = {
        "version": 2,
        "last_totp_counter": state.last_totp_counter,
        "suspended_until": None if sus is None else sus.until,
        "suspended_since": None if sus is None else sus.since,
        "suspended_reason": None if sus is None else sus.reason,
        "suspended_step": None if sus is None else sus.step,
        "rejected_credentials_digest": state.rejected_digest,
        "digest_salt": state.salt,
        "login_rejections": state.login_rejections,
        "otp_rejections": state.otp_rejections,
        "cookies": state.cookies,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        # mkstemp creates the file 0600: only the exporter's user can read the device cookie.
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        log.error("target=%s cannot write state file %s: %s", target.name, target.state_file, exc)


def credentials_digest(target: LoginTarget, *, salt: str) -> str:
    """A salted scrypt digest of the target's resolved secrets (user, password, TOTP seed).

    scrypt, not a plain hash: the digest sits in the state file next to its salt, and a
    fast hash of a password alone could be brute-forced from a copy of that file.
    """
    parts = [s.reveal().encode("utf-8") for s in target.secrets()]
    material = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    return hashlib.scrypt(material, salt=bytes.fromhex(salt), n=2**14, r=8, p=1).hex()


def _remember_rejected_credentials(target: LoginTarget, state: LoginState) -> None:
    if state.salt is None:
        state.salt = token_hex(16)
    state.rejected_digest = credentials_digest(target, salt=state.salt)


def _lift(target: LoginTarget, state: LoginState, *, why: str) -> None:
    state.suspension = None
    state.rejected_digest = None
    state.login_rejections = state.otp_rejections = 0
    save_state(target, state)
    log.info("target=%s login suspension lifted: %s", target.name, why)


def _credentials_changed(target: LoginTarget, state: LoginState) -> bool:
    if state.rejected_digest is None or state.salt is None:
        return False
    try:
        digest = credentials_digest(target, salt=state.salt)
    except ValueError:  # a damaged salt in the state file: keep the pause, be safe
        return False
    return not hmac.compare_digest(digest, state.rejected_digest)


def login_state(ctx: ProbeContext, target: LoginTarget) -> LoginState:
    state = ctx.state.get(target.name)
    if not isinstance(state, LoginState):
        state = LoginState()
        ctx.state[target.name] = state
    if not state.loaded:
        _load_state(target, state)
        # Credentials replaced while the exporter was stopped count like a reload with
        # new credentials.
        recheck_credentials(ctx, target)
    return state


def suspension(ctx: ProbeContext, target: LoginTarget) -> Suspension | None:
    """The current pause of `target` (expired pauses are dropped), or None."""
    state = login_state(ctx, target)
    if state.suspension is not None and state.suspension.until <= ctx.clock.now():
        _lift(target, state, why="suspend_for has passed")
    return state.suspension


def suspended_until(ctx: ProbeContext, target: LoginTarget) -> float | None:
    """Wall time until which logins of `target` are paused, or None."""
    sus = suspension(ctx, target)
    return None if sus is None else sus.until


def recheck_credentials(ctx: ProbeContext, target: LoginTarget) -> bool:
    """On reload (and start): lift the pause only if the credentials really changed.

    Returns True when a pause was lifted. Reloading an unchanged file keeps the pause, so
    a reload loop cannot re-arm a login with rejected credentials.
    """
    state = ctx.state.get(target.name)
    if not isinstance(state, LoginState) or state.suspension is None:
        return False
    if _credentials_changed(target, state):
        _lift(target, state, why="the credentials changed")
        return True
    return False


def lift_suspension(ctx: ProbeContext, target: LoginTarget) -> bool:
    """Explicit, authenticated resume by an operator; True if a pause was lifted."""
    state = login_state(ctx, target)
    if state.suspension is None:
        return False
    _lift(target, state, why="resumed by an operator")
    return True


# ---------------------------------------------------------------- the run


def _uses_totp(step: Step) -> bool:
    return "totp" in template_names(
        [step.url, dict(step.headers), dict(step.form or ()), step.json]
    )


async def _wait_for_fresh_totp_window(
    target: LoginTarget, ctx: ProbeContext, state: LoginState
) -> None:
    """Before a run (outside its timeout and timing): never reuse the last time step."""
    if state.last_totp_counter is None or not any(_uses_totp(s) for s in target.steps):
        return
    now = ctx.clock.now()
    if int(now // TOTP_STEP) <= state.last_totp_counter:
        wait = (state.last_totp_counter + 1) * TOTP_STEP - now + 0.2
        log.info("target=%s waiting %.1fs for a fresh TOTP code", target.name, wait)
        await ctx.clock.sleep(wait)


async def _totp(target: LoginTarget, ctx: ProbeContext, state: LoginState) -> str:
    assert target.credentials.totp_secret is not None
    totp = pyotp.TOTP(target.credentials.totp_secret.reveal().replace(" ", "").upper())
    now = ctx.clock.now()
    if state.last_totp_counter is not None and int(now // TOTP_STEP) <= state.last_totp_counter:
        # Never send the same code twice (Parichay would count a replay as a wrong OTP).
        wait = (state.last_totp_counter + 1) * TOTP_STEP - now + 0.2
        log.info("target=%s waiting %.1fs for a fresh TOTP code", target.name, wait)
        await ctx.clock.sleep(wait)
        now = ctx.clock.now()
    state.last_totp_counter = int(now // TOTP_STEP)
    save_state(target, state)
    return totp.at(now)


@dataclass(slots=True)
class _Run:
    target: LoginTarget
    ctx: ProbeContext
    state: LoginState
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


def _account_protection(
    target: LoginTarget,
    ctx: ProbeContext,
    state: LoginState,
    reason: Reason | None,
    *,
    step: str | None,
) -> None:
    if reason is None:
        state.login_rejections = state.otp_rejections = 0
        if state.suspension is not None:  # a forced probe proved the account works
            _lift(target, state, why="a login succeeded")
    elif reason is Reason.LOGIN_REJECTED:
        state.login_rejections += 1
        state.otp_rejections = 0
    elif reason is Reason.OTP_REJECTED:
        state.otp_rejections += 1
    if (
        state.login_rejections >= target.suspend_after_login_rejected
        or state.otp_rejections >= target.suspend_after_otp_rejected
    ):
        now = ctx.clock.now()
        state.suspension = Suspension(
            reason=str(reason), since=now, until=now + target.suspend_for, step=step
        )
        _remember_rejected_credentials(target, state)
        log.warning(
            "target=%s login suspended for %.0fs after %s to protect the monitoring account; "
            "fix the credentials and reload the config (or resume it explicitly) to go on",
            target.name,
            target.suspend_for,
            reason,
        )
        state.login_rejections = state.otp_rejections = 0
    save_state(target, state)


def _restore_cookies(target: LoginTarget, state: LoginState) -> CookieJar:
    cookies = CookieJar()
    for c in state.cookies:
        set_cookie(
            cookies, c["name"], c["value"], domain=c.get("domain", ""), path=c.get("path", "/")
        )
    return cookies


def _keep_cookies(target: LoginTarget, state: LoginState, cookies: CookieJar | None) -> None:
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
    state = login_state(ctx, target)
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
    _account_protection(target, ctx, state, reason, step=failed)
    if failed:
        detail = f"step {failed}: {detail}"
    return ProbeResult.measured(
        target.name, timer, started_at=started, reason=reason, detail=redact(detail, secrets),
        duration=duration, http_status=status,
        final_url=None if final_url is None else redact(final_url, secrets),
        cert_not_after=rec.cert_not_after, steps=tuple(steps), failed_step=failed,
    )
