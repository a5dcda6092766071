"""The login probe's logic with httpx.MockTransport and a fake clock: TOTP, suspension, cookies."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import httpx
import pyotp
import pytest

from exporter.config import load_config_text
from exporter.login_config import LoginTarget
from exporter.probes import ProbeContext, run_probe
from exporter.probes.login import form_fields, json_path
from exporter.result import Reason
from servicekit.clock import FakeClock

SECRET = pyotp.random_base32()
PASSWORD = "Pw-never-shown-77"

STEPS = """
    steps:
      - name: open
        url: "https://sso.example/login"
        extract: {csrf: {form_field: csrf_token}}
      - name: password
        method: POST
        url: "https://sso.example/api/login"
        form: {u: "{{username}}", p: "{{password}}", csrf: "{{csrf}}"}
        reject: [{reason: login_rejected, status: [401]}]
        extract: {txn: {json: data.txn}}
      - name: otp
        method: POST
        url: "https://sso.example/api/otp"
        json: {txn: "{{txn}}", otp: "{{totp}}"}
        reject: [{reason: otp_rejected, body_contains: INVALID_OTP}]
      - name: logout
        url: "https://sso.example/logout"
        always_run: true
"""


@pytest.fixture(autouse=True)
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_USER", "monitor@uk.gov.in")
    monkeypatch.setenv("T_PW", PASSWORD)
    monkeypatch.setenv("T_TOTP", SECRET)


def login_target(extra: str = "") -> LoginTarget:
    cfg = load_config_text(f"""
vantage: v
targets:
  - name: login
    role: app
    kind: login
    credentials: {{username_env: T_USER, password_env: T_PW, totp_secret_env: T_TOTP}}
{extra}{STEPS}""")
    t = cfg.targets[0]
    assert isinstance(t, LoginTarget)
    return t


class FakeSSO:
    """A scripted server: records what was sent; can reject and advance the clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.otps: list[tuple[float, str]] = []
        self.reject_password = False
        self.reject_otp = False
        self.cookies_seen: list[str] = []
        self.password_step_takes = 0.0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.cookies_seen.append(request.headers.get("cookie", ""))
        path = request.url.path
        if path == "/login":
            return httpx.Response(
                200, html='<form><input type="hidden" name="csrf_token" value="tok-abc"></form>'
            )
        if path == "/api/login":
            self.clock._now += self.password_step_takes  # a slow password step
            if self.reject_password:
                return httpx.Response(401, json={"error": f"bad password {PASSWORD}"})
            return httpx.Response(200, json={"data": {"txn": "txn-1"}})
        if path == "/api/otp":
            otp = json.loads(request.content)["otp"]
            self.otps.append((self.clock.now(), otp))
            if self.reject_otp:
                return httpx.Response(401, json={"code": "INVALID_OTP"})
            return httpx.Response(
                200, json={"status": "ok"}, headers={"set-cookie": "DEVICE=dev-1; Path=/"}
            )
        return httpx.Response(200, text="bye")


def until(target: LoginTarget, ctx: ProbeContext) -> float | None:
    pause = ctx.accounts.pause(target)
    return None if pause is None else pause.until


def ctx_for(sso: FakeSSO, clock: FakeClock) -> ProbeContext:
    return ProbeContext(clock=clock, transport=httpx.MockTransport(sso))


async def test_totp_is_computed_at_the_moment_it_is_sent() -> None:
    """The OTP is the code of the time the OTP step runs, not of when the login started."""
    clock = FakeClock(start=1_700_000_000.0)
    sso = FakeSSO(clock)
    sso.password_step_takes = 45.0  # crosses at least one 30 s window
    result = await run_probe(login_target(), ctx_for(sso, clock))
    assert result.success, result.detail
    ((sent_at, otp),) = sso.otps
    assert sent_at == 1_700_000_045.0
    assert otp == pyotp.TOTP(SECRET).at(sent_at)
    assert otp != pyotp.TOTP(SECRET).at(1_700_000_000.0)
    assert [s.name for s in result.steps] == ["open", "password", "otp", "logout"]


async def test_the_same_totp_code_is_never_sent_twice() -> None:
    """A second login inside the same 30 s window waits for the next code."""
    clock = FakeClock(start=1_700_000_010.0)
    sso = FakeSSO(clock)
    target, ctx = login_target(), ctx_for(sso, clock)
    assert (await run_probe(target, ctx)).success
    second = asyncio.create_task(run_probe(target, ctx))
    await asyncio.sleep(0)
    assert not second.done(), "must wait for a fresh window"
    await clock.advance(31)
    result = await asyncio.wait_for(second, 5)
    assert result.success
    codes = [otp for _, otp in sso.otps]
    assert len(codes) == 2 and codes[0] != codes[1]
    windows = [int(t // 30) for t, _ in sso.otps]
    assert windows[1] > windows[0]


async def test_a_rejected_password_suspends_logins_until_the_back_off_passes() -> None:
    """login_rejected pauses the target at once; after suspend_for it may try again."""
    clock = FakeClock()
    sso = FakeSSO(clock)
    sso.reject_password = True
    target = login_target("    suspend_for: 30m\n")
    ctx = ctx_for(sso, clock)
    result = await run_probe(target, ctx)
    assert result.reason is Reason.LOGIN_REJECTED
    assert result.failed_step == "password"
    assert PASSWORD not in result.detail
    assert until(target, ctx) == clock.now() + 1800
    await clock.advance(1799)
    assert ctx.accounts.pause(target) is not None
    await clock.advance(2)
    assert ctx.accounts.pause(target) is None


async def test_otp_rejections_suspend_after_two_in_a_row_and_success_resets() -> None:
    """One wrong OTP is tolerated, a success resets the count, two in a row suspend."""
    clock = FakeClock()
    sso = FakeSSO(clock)
    target, ctx = login_target(), ctx_for(sso, clock)
    sso.reject_otp = True
    assert (await run_probe(target, ctx)).reason is Reason.OTP_REJECTED
    assert ctx.accounts.pause(target) is None
    await clock.advance(60)
    sso.reject_otp = False
    assert (await run_probe(target, ctx)).success
    sso.reject_otp = True
    for _ in range(2):
        await clock.advance(60)
        assert ctx.accounts.pause(target) is None
        assert (await run_probe(target, ctx)).reason is Reason.OTP_REJECTED
    assert ctx.accounts.pause(target) is not None


async def test_persistent_cookies_are_kept_in_a_private_file_and_sent_next_time(
    tmp_path: Path,
) -> None:
    """Only named cookies survive a run, in a 0600 state file, and come back next run."""
    clock = FakeClock()
    sso = FakeSSO(clock)
    state = tmp_path / "state" / "login.json"
    target = login_target(f"    persistent_cookies: [DEVICE]\n    state_file: {state}\n")
    assert (await run_probe(target, ctx_for(sso, clock))).success
    mode = stat.S_IMODE(os.stat(state).st_mode)
    assert mode == 0o600
    saved = json.loads(state.read_text())
    assert [c["name"] for c in saved["cookies"]] == ["DEVICE"]
    # A new process (fresh context) starts with the remembered device.
    await clock.advance(60)
    sso.cookies_seen.clear()
    assert (await run_probe(target, ctx_for(sso, clock))).success
    assert "DEVICE=dev-1" in sso.cookies_seen[0]
    # ...and remembers the last TOTP window, so a restart cannot replay a code.
    assert saved["last_totp_counter"] == int(sso.otps[0][0] // 30)


async def test_a_missing_token_is_login_flow_broken_at_that_step() -> None:
    """A page without the expected hidden field fails the step that needed it."""
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<form>maintenance</form>")

    result = await run_probe(
        login_target(), ProbeContext(clock=clock, transport=httpx.MockTransport(handler))
    )
    assert result.reason is Reason.LOGIN_FLOW_BROKEN
    assert result.failed_step == "open"
    assert "could not extract csrf" in result.detail
    assert [s.name for s in result.steps] == ["open", "logout"]


@pytest.mark.parametrize(
    ("data", "path", "expected"),
    [
        pytest.param({"txn": "a"}, "txn", "a", id="top"),
        pytest.param({"data": {"txn": "b"}}, "$.data.txn", "b", id="nested-dollar"),
        pytest.param({"items": [{"id": 1}, {"id": 2}]}, "items[1].id", 2, id="index"),
        pytest.param({"items": []}, "items[0].id", None, id="out-of-range"),
        pytest.param({"a": 1}, "b", None, id="missing"),
    ],
)
def test_json_path(data: object, path: str, expected: object) -> None:
    """The small JSON path language the extract step uses."""
    assert json_path(data, path) == expected


def test_form_fields_reads_hidden_inputs() -> None:
    """Hidden inputs are found by name whatever the attribute order."""
    html = (
        '<input value="x1" type="hidden" name="csrf_token"><input name="sid" '
        'type="hidden" value="eOfficeUK"><input name="password" type="password">'
    )
    assert form_fields(html) == {"csrf_token": "x1", "sid": "eOfficeUK", "password": ""}


async def test_a_reload_lifts_a_pause_only_when_the_credentials_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """recheck: same credentials keep the pause (reason, step kept); a new password lifts it."""
    clock = FakeClock()
    sso = FakeSSO(clock)
    sso.reject_password = True
    state = tmp_path / "login.json"
    target = login_target(f"    state_file: {state}\n")
    ctx = ctx_for(sso, clock)
    await run_probe(target, ctx)
    pause = ctx.accounts.pause(target)
    assert pause is not None and (pause.reason, pause.step) == ("login_rejected", "password")
    assert pause.since == clock.now()
    for _ in range(3):
        assert await ctx.accounts.recheck(login_target(f"    state_file: {state}\n")) is False
        assert ctx.accounts.pause(target) == pause
    saved = state.read_text()
    assert PASSWORD not in saved and SECRET not in saved and "monitor@uk.gov.in" not in saved
    monkeypatch.setenv("T_PW", "A-different-password-1")
    assert await ctx.accounts.recheck(login_target(f"    state_file: {state}\n")) is True
    assert ctx.accounts.pause(target) is None
    assert json.loads(state.read_text())["suspended_until"] is None


async def test_a_state_file_without_a_digest_keeps_its_pause(tmp_path: Path) -> None:
    """A state file written before digests existed: the pause holds until it expires or a resume."""
    clock = FakeClock()
    state = tmp_path / "old.json"
    state.write_text(json.dumps({"suspended_until": clock.now() + 600, "last_totp_counter": 1}))
    target = login_target(f"    state_file: {state}\n")
    ctx = ctx_for(FakeSSO(clock), clock)
    await ctx.accounts.load(target)
    pause = ctx.accounts.pause(target)
    assert pause is not None and pause.reason == "login_rejected"
    assert await ctx.accounts.recheck(target) is False and ctx.accounts.pause(target) is not None
    assert await ctx.accounts.resume(target) is True and ctx.accounts.pause(target) is None
