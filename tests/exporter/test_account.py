"""Account protection (exporter/account.py): the pause is read from memory, written only
when it changed, and the `probe` command is refused exactly as a scheduled slot is."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

import exporter.probes
import exporter.scheduler
from exporter import cli
from exporter.account import Account, Accounts
from exporter.config import Target, load_config_text
from exporter.login_config import LoginTarget
from exporter.probes import ProbeContext, run_safely
from exporter.result import PHASES, ProbeResult, Reason
from exporter.scheduler import Scheduler
from exporter.store import Store
from servicekit.clock import FakeClock

NOW = 1_700_000_000.0


@pytest.fixture(autouse=True)
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_USER", "monitor@uk.gov.in")
    monkeypatch.setenv("T_PW", "Pw-never-shown-77")
    monkeypatch.setenv("T_TOTP", "JBSWY3DPEHPK3PXP")


def config_text(state: Path) -> str:
    # Port 9 on loopback: if a probe ever ran, it would fail fast, never reach anyone.
    return f"""
vantage: v
targets:
  - name: login
    role: app
    kind: login
    interval: 60s
    state_file: {state}
    persistent_cookies: [DEVICE]
    credentials: {{username_env: T_USER, password_env: T_PW, totp_secret_env: T_TOTP}}
    steps:
      - {{name: open, url: "http://127.0.0.1:9/login"}}
"""


def login_target(state: Path) -> LoginTarget:
    target = load_config_text(config_text(state)).targets[0]
    assert isinstance(target, LoginTarget)
    return target


def paused_file(state: Path, *, until: float = NOW + 600) -> None:
    """A state file as the exporter writes it (format version 2), with a pause."""
    state.write_text(
        json.dumps(
            {
                "version": 2,
                "last_totp_counter": 56_666_666,
                "suspended_until": until,
                "suspended_since": NOW - 60,
                "suspended_reason": "otp_rejected",
                "suspended_step": "otp",
                "rejected_credentials_digest": None,
                "digest_salt": None,
                "login_rejections": 0,
                "otp_rejections": 0,
                "cookies": [{"name": "DEVICE", "value": "d1", "domain": "", "path": "/"}],
            }
        )
    )


def _result(target: Target, *, reason: Reason | None = None) -> ProbeResult:
    return ProbeResult(
        target=target.name,
        success=reason is None,
        reason=reason,
        duration=0.01,
        started_at=NOW,
        phases=dict.fromkeys(PHASES, 0.0),
    )


async def test_an_existing_state_file_loads_once_and_the_pause_read_touches_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `load`, the pause is answered from memory: with the file unreadable, reads,
    scrypt and writes all failing loudly, `pause()` still says paused, until when, why."""
    state = tmp_path / "login.json"
    paused_file(state)
    target = login_target(state)
    accounts = Accounts(FakeClock(start=NOW))
    account = await accounts.load(target)
    assert account is not None and account.last_totp_counter == 56_666_666
    assert [c["name"] for c in account.cookies] == ["DEVICE"]
    state.chmod(0)

    def no_io(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("file I/O or scrypt in a pause read")

    for name in ("_read", "_write", "credentials_digest"):
        monkeypatch.setattr(f"exporter.account.{name}", no_io)
    monkeypatch.setattr("hashlib.scrypt", no_io)
    monkeypatch.setattr(Path, "read_text", no_io)
    monkeypatch.setattr("builtins.open", no_io)
    for _ in range(3):
        pause = accounts.pause(target)
        assert pause is not None
        assert (pause.reason, pause.step, pause.until) == ("otp_rejected", "otp", NOW + 600)
        assert await accounts.load(target) is account, "loaded once"
    assert accounts.writes == 0


async def test_a_write_happens_only_when_the_state_changed(tmp_path: Path) -> None:
    """Successes that change nothing write nothing; a rejection, a pause, an expiry and a
    resume each write once; an expired pause reads as none before it is written."""
    state = tmp_path / "login.json"
    clock = FakeClock(start=NOW)
    target = login_target(state)
    accounts = Accounts(clock)
    await accounts.load(target)
    await accounts.record(target, None, step=None)
    assert accounts.writes == 1 and state.exists()  # the first state file
    for _ in range(3):
        await accounts.record(target, None, step=None)
    assert accounts.writes == 1
    await accounts.use_totp(target, 7)
    await accounts.use_totp(target, 7)
    assert accounts.writes == 2
    await accounts.record(target, Reason.LOGIN_REJECTED, step="open")  # pauses at once
    assert accounts.writes == 3
    pause = accounts.pause(target)
    assert pause is not None and pause.until == NOW + target.suspend_for
    saved = json.loads(state.read_text())
    assert saved["suspended_reason"] == "login_rejected" and saved["digest_salt"]
    assert await accounts.recheck(target) is False  # same credentials: no change, no write
    assert accounts.writes == 3
    await clock.advance(target.suspend_for)
    assert accounts.pause(target) is None and accounts.writes == 3  # a read writes nothing
    await accounts.expire(target)
    await accounts.expire(target)
    assert accounts.writes == 4
    assert json.loads(state.read_text())["suspended_until"] is None
    assert await accounts.resume(target) is False and accounts.writes == 4


async def test_the_scheduler_skips_a_paused_target_without_io_then_probes_after_it(
    tmp_path: Path,
) -> None:
    """Slot after slot while paused: no probe, no write, the pause published to the store;
    once `suspend_for` has passed, one write (the lifted pause) and the probe runs."""
    state = tmp_path / "login.json"
    paused_file(state, until=NOW + 150)
    target = login_target(state)
    clock = FakeClock(start=NOW)
    ctx = ProbeContext(clock=clock)
    await ctx.accounts.load(target)
    ran: list[str] = []

    async def runner(t: Target, c: ProbeContext) -> ProbeResult:
        ran.append(t.name)
        return _result(t)

    store = Store(vantage="v")
    store.set_targets((target,))
    sched = Scheduler(
        store=store, ctx=ctx, max_concurrency=1, jitter=0.0, rng=random.Random(1), runner=runner
    )
    task = asyncio.create_task(sched.run((target,)))
    await sched.started()
    for _ in range(2):  # slots at about +0.4 s and +60.4 s
        await clock.advance(60)
    st = store.get("login")
    assert st is not None and st.suspension is not None and st.suspension.until == NOW + 150
    assert ran == [] and ctx.accounts.writes == 0
    await clock.advance(62)  # slots at about +0.4, +60.4, +120.4 (paused), +180.4
    for _ in range(200):  # the expiry is written in a thread: real time
        if ran:
            break
        await asyncio.sleep(0.01)
    sched.stop()
    await asyncio.wait_for(task, 5)
    assert ran == ["login"] and ctx.accounts.writes == 1
    assert st.suspension is None


async def test_probe_command_is_refused_exactly_as_a_scheduled_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`parichay-exporter probe` and the scheduler both go through `run_safely`: on a
    paused target it refuses (exit 3, the reason and how to resume) and nothing runs."""
    assert exporter.scheduler.run_safely is exporter.probes.run_safely
    state = tmp_path / "login.json"
    paused_file(state, until=4e9)
    cfg = tmp_path / "exporter.yml"
    cfg.write_text(config_text(state))
    calls: list[bool] = []
    real = exporter.probes.run_safely

    async def spy(target: Target, ctx: ProbeContext, **kw: Any) -> exporter.probes.Outcome:
        outcome = await real(target, ctx, **kw)
        calls.append(outcome.refused)
        return outcome

    monkeypatch.setattr("exporter.probes.run_safely", spy)
    code = await asyncio.to_thread(cli.main, ["probe", "--config", str(cfg), "login"])
    assert code == cli.EXIT_SUSPENDED and calls == [True]
    err = capsys.readouterr().err
    assert "refused: logins of login are suspended" in err and "otp_rejected at step otp" in err
    assert "--ignore-suspension" in err
    # The scheduler's own gate on the same file gives the same answer.
    ctx = ProbeContext()
    outcome = await run_safely(login_target(state), ctx, runner=_never)
    assert outcome.refused and outcome.result is None
    assert outcome.pause == ctx.accounts.pause(login_target(state))
    assert json.loads(state.read_text())["suspended_until"] == 4e9  # nothing written


async def _never(target: Target, ctx: ProbeContext) -> ProbeResult:
    raise AssertionError("a paused target was probed")


async def test_probe_command_reports_a_crash_instead_of_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same net as the scheduler: a bug in a probe is logged and reported, exit 1."""
    cfg = tmp_path / "exporter.yml"
    cfg.write_text(config_text(tmp_path / "login.json"))

    async def crash(target: Target, ctx: ProbeContext) -> ProbeResult:
        raise RuntimeError("a bug")

    monkeypatch.setattr("exporter.probes.run_probe", crash)
    code = await asyncio.to_thread(cli.main, ["probe", "--config", str(cfg), "login"])
    assert code == 1
    assert "the probe crashed" in capsys.readouterr().err


def test_the_state_file_format_round_trips() -> None:
    """What `to_json` writes, `from_json` reads back (format version 2)."""
    account = Account(login_rejections=1, last_totp_counter=3, salt="00" * 16,
                      cookies=[{"name": "DEVICE", "value": "v", "domain": "", "path": "/"}])  # fmt: skip
    data = account.to_json()
    assert data["version"] == 2
    assert Account.from_json(data, cookie_names=("DEVICE",)).to_json() == data
