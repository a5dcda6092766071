"""Account protection end to end: a suspension survives reloads, restarts and the `probe`
command; only changed credentials or an authenticated resume lift it; admin actions need
the bearer token."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from exporter.account import Suspension
from exporter.app import Exporter
from exporter.config import load_config
from exporter.login_config import LoginTarget
from exporter.probes import ProbeContext, run_probe
from simulator import Simulator
from tests.support.metrics import Metrics, parse

TOKEN = "protect-admin-token-5f2a9c7e1b"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
TARGET = "eoffice-login"
LABELS = {"target": TARGET, "vantage": "demo"}


def write_setup(tmp_path: Path, sim: Simulator, demo_config: str) -> Path:
    """The demo config with credentials in files, a state file and an admin token file."""
    for name, value in [
        ("user", sim.account.username),
        ("pw", sim.account.password),
        ("totp", sim.account.totp_secret),
        ("admin-token", TOKEN),
    ]:
        (tmp_path / name).write_text(value + "\n")
    text = demo_config.replace(
        "      username_env: PARICHAY_DEMO_USERNAME\n"
        "      password_env: PARICHAY_DEMO_PASSWORD\n"
        "      totp_secret_env: PARICHAY_DEMO_TOTP_SECRET\n",
        f"      username_file: {tmp_path / 'user'}\n"
        f"      password_file: {tmp_path / 'pw'}\n"
        f"      totp_secret_file: {tmp_path / 'totp'}\n",
    )
    text = text.replace("vantage: demo\n", f"vantage: demo\nadmin: {{token_file: {tmp_path / 'admin-token'}}}\n")
    cfg = tmp_path / "exporter.yml"
    cfg.write_text(text)
    return cfg


async def stored_pause(target: LoginTarget) -> Suspension | None:
    """The pause a new exporter process would start with."""
    accounts = ProbeContext().accounts
    await accounts.load(target)
    return accounts.pause(target)


def login_target(cfg: Path) -> LoginTarget:
    target = load_config(cfg).target(TARGET)
    assert isinstance(target, LoginTarget)
    return target


@pytest.fixture
async def suspended(sim: Simulator, demo_config: str, tmp_path: Path) -> Path:
    """A rejected login has suspended the target; the pause is in the state file."""
    cfg = write_setup(tmp_path, sim, demo_config)
    sim.set_fault("sso", "login_reject")
    result = await run_probe(login_target(cfg), ProbeContext())
    assert result.reason == "login_rejected"
    assert sim.stats()["sso.api_login"] == 1
    return cfg


@pytest.fixture
async def running(suspended: Path) -> AsyncIterator[Exporter]:
    """An exporter started on that config and state file."""
    exp = Exporter(config=load_config(suspended), config_path=suspended)
    await exp.start(listen="127.0.0.1:0")
    try:
        yield exp
    finally:
        await exp.stop()


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def drop_admin_section(path: Path) -> None:
    lines = [line for line in path.read_text().splitlines() if not line.startswith("admin:")]
    path.write_text("\n".join(lines) + "\n")


def served(exp: Exporter) -> Metrics:
    """What /metrics serves now."""
    return parse(b"".join(exp.metrics_parts()))


def is_suspended(exp: Exporter) -> float | None:
    return served(exp).value("parichay_login_suspended", LABELS)


def rejection_info(exp: Exporter) -> float | None:
    """The suspension-info series that says the account was rejected (None: not served)."""
    return served(exp).value("parichay_login_suspension_info", {**LABELS, "reason": "login_rejected"})


async def reloaded(c: httpx.AsyncClient) -> str:
    """POST /-/reload with the admin token; it succeeds; what it says."""
    r = await c.post("/-/reload", headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.text


async def test_reload_and_resume_without_the_token_get_401_and_change_nothing(
    running: Exporter, sim: Simulator, suspended: Path
) -> None:
    """No or a wrong bearer token: 401 for reload and resume; config and pause unchanged."""
    assert is_suspended(running) == 1, "the stored suspension is in force at start"
    append(suspended, "  - {name: added-later, role: control, kind: dns, host: localhost}\n")
    async with httpx.AsyncClient(base_url=running.url) as c:
        for headers in ({}, {"Authorization": "Bearer wrong-token-000000000"},
                        {"Authorization": f"Basic {TOKEN}"}):
            for path in ("/-/reload", f"/-/resume/{TARGET}"):
                r = await c.post(path, headers=headers)
                assert r.status_code == 401, (path, headers, r.text)
                assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert running.config.target("added-later") is None
        assert is_suspended(running) == 1
        assert (await c.get("/metrics")).status_code == 200, "reading stays open"
    assert sim.stats()["sso.api_login"] == 1


async def test_unchanged_reload_keeps_the_suspension_and_changed_credentials_lift_it(
    running: Exporter, sim: Simulator, tmp_path: Path
) -> None:
    """Reload with the same credentials: still paused, and why is shown; new password: lifted."""
    async with httpx.AsyncClient(base_url=running.url) as c:
        for _ in range(3):
            assert f"{TARGET}: still suspended (login_rejected)" in await reloaded(c)
        assert is_suspended(running) == 1
        assert rejection_info(running) == 1
        until = served(running).value(
            "parichay_login_suspended_until_timestamp_seconds", LABELS
        )
        assert until is not None and until > running.ctx.clock.now() + 3000
        row = next(t for t in (await c.get("/status.json")).json()["targets"] if t["target"] == TARGET)
        assert row["login_suspended"] is True
        assert row["suspension"]["reason"] == "login_rejected"
        assert row["suspension"]["step"] == "submit-password"
        page = (await c.get("/")).text
        assert "login checks paused to protect the account" in page
        assert "monitoring login rejected" in page
        assert sim.stats()["sso.api_login"] == 1
        (tmp_path / "pw").write_text("A-new-password-from-the-admin-77\n")
        assert f"{TARGET}: credentials changed, login suspension lifted" in await reloaded(c)
    assert is_suspended(running) == 0
    assert rejection_info(running) is None


async def test_an_authenticated_resume_lifts_the_pause_of_that_target(
    running: Exporter,
) -> None:
    """POST /-/resume/<target> with the token lifts the pause; an unknown target is 404."""
    async with httpx.AsyncClient(base_url=running.url) as c:
        assert (await c.post("/-/resume/no-such-target", headers=ADMIN)).status_code == 404
        r = await c.post(f"/-/resume/{TARGET}", headers=ADMIN)
        assert r.status_code == 200 and "lifted" in r.text, r.text
        assert is_suspended(running) == 0
        r = await c.post(f"/-/resume/{TARGET}", headers=ADMIN)
        assert r.status_code == 200 and "not suspended" in r.text


async def test_admin_endpoints_are_disabled_without_a_configured_token(
    suspended: Path,
) -> None:
    """No admin.token_file and no flag: 403 saying how to enable them; reading stays open."""
    drop_admin_section(suspended)
    exp = Exporter(config=load_config(suspended), config_path=suspended)
    await exp.start(listen="127.0.0.1:0")
    try:
        async with httpx.AsyncClient(base_url=exp.url) as c:
            for path in ("/-/reload", f"/-/resume/{TARGET}"):
                r = await c.post(path, headers=ADMIN)
                assert r.status_code == 403
                assert "admin.token_file" in r.text and "--admin-token-file" in r.text
            for path in ("/metrics", "/", "/status.json", "/healthz"):
                assert (await c.get(path)).status_code == 200, path
        assert is_suspended(exp) == 1
    finally:
        await exp.stop()


async def test_a_restart_keeps_the_pause_unless_the_credentials_changed(
    suspended: Path, tmp_path: Path
) -> None:
    """The digest in the state file: same credentials after a restart, still paused; new, lifted."""
    assert await stored_pause(login_target(suspended)) is not None
    state = (tmp_path / "login-state.json").read_text()
    assert "rejected_credentials_digest" in state
    for secret_file in ("user", "pw", "totp"):
        assert (tmp_path / secret_file).read_text().strip() not in state
    (tmp_path / "totp").write_text("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n")
    assert await stored_pause(login_target(suspended)) is None


def _exporter(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args], capture_output=True, text=True, timeout=60
    )


async def test_probe_command_three_times_on_a_suspended_target_sends_no_password(
    suspended: Path, sim: Simulator
) -> None:
    """`probe` refuses a suspended target with what/when/until/how, exit 3; the SSO sees nothing."""
    for _ in range(3):
        # In a thread: the simulator runs on this test's event loop and must keep answering.
        out = await asyncio.to_thread(_exporter, "probe", "--config", str(suspended), TARGET)
        assert out.returncode == 3, out.stderr
        assert "refused: logins of eoffice-login are suspended" in out.stderr
        assert "login_rejected at step submit-password at " in out.stderr
        assert "paused until " in out.stderr
        assert f"POST /-/resume/{TARGET}" in out.stderr and "--ignore-suspension" in out.stderr
    stats = sim.stats()
    assert stats["sso.api_login"] == 1 and stats["sso.login_page"] == 1
    assert stats["sso.captcha_required"] == 0
    forced = await asyncio.to_thread(
        _exporter, "probe", "--config", str(suspended), TARGET, "--ignore-suspension"
    )
    assert forced.returncode == 1
    assert '"level": "warning"' in forced.stderr and "captcha" in forced.stderr
    assert "FAILED (login_rejected)" in forced.stdout
    assert sim.stats()["sso.api_login"] == 2


async def test_resume_command_lifts_the_pause_in_the_state_file(
    suspended: Path,
) -> None:
    """`resume --config F TARGET` (exporter stopped) clears the stored pause."""
    out = await asyncio.to_thread(_exporter, "resume", "--config", str(suspended), TARGET)
    assert out.returncode == 0, out.stderr
    assert "suspension (login_rejected) removed" in out.stdout
    assert await stored_pause(login_target(suspended)) is None
    again = await asyncio.to_thread(_exporter, "resume", "--config", str(suspended), TARGET)
    assert "not suspended" in again.stdout


async def test_resume_command_over_http_needs_the_token(
    running: Exporter, sim: Simulator, tmp_path: Path
) -> None:
    """`resume --url` posts to the running exporter with the token file's bearer token."""
    # The operator fixed the cause first. Otherwise, should the resume land before the
    # scheduler's first slot (0-1 s after start), that slot's login is rejected again and
    # re-suspends the target before the assertion below.
    sim.set_fault("sso", "ok")
    out = await asyncio.to_thread(
        _exporter, "resume", "--config", str(running.config_path), TARGET, "--url", running.url,
        "--admin-token-file", str(tmp_path / "admin-token"),
    )
    assert out.returncode == 0, out.stderr
    assert "HTTP 200" in out.stdout
    assert is_suspended(running) == 0
    assert TOKEN not in out.stdout + out.stderr


async def test_the_token_file_flag_wins_and_is_re_read_on_reload(
    suspended: Path, tmp_path: Path
) -> None:
    """--admin-token-file overrides admin.token_file; a rotated file applies at the next reload."""
    flag_file = tmp_path / "flag-token"
    flag_file.write_text("flag-token-first-0123456789\n")
    exp = Exporter(
        config=load_config(suspended), config_path=suspended, admin_token_file=str(flag_file)
    )
    await exp.start(listen="127.0.0.1:0")
    first = {"Authorization": "Bearer flag-token-first-0123456789"}
    second = {"Authorization": "Bearer flag-token-second-0123456789"}
    try:
        async with httpx.AsyncClient(base_url=exp.url) as c:
            assert (await c.post("/-/reload", headers=ADMIN)).status_code == 401
            assert (await c.post("/-/reload", headers=first)).status_code == 200
            flag_file.write_text("flag-token-second-0123456789\n")
            assert (await c.post("/-/reload", headers=first)).status_code == 200
            assert (await c.post("/-/reload", headers=first)).status_code == 401
            assert (await c.post("/-/reload", headers=second)).status_code == 200
        assert is_suspended(exp) == 1
    finally:
        await exp.stop()


def test_run_refuses_a_missing_or_short_token_file(tmp_path: Path) -> None:
    """`run --admin-token-file` names the flag and the problem, exits 1, no traceback."""
    cfg = tmp_path / "c.yml"
    cfg.write_text("vantage: v\ntargets:\n  - {name: d, role: control, kind: dns, host: localhost}\n")
    short = tmp_path / "short"
    short.write_text("abc\n")
    for path, message in [
        (tmp_path / "missing", "--admin-token-file: file not found"),
        (short, "--admin-token-file: the admin token must be at least 16 characters"),
    ]:
        out = _exporter("run", "--config", str(cfg), "--admin-token-file", str(path))
        assert out.returncode == 1
        assert message in out.stderr and "Traceback" not in out.stderr
