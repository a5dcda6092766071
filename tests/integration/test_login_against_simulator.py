"""The synthetic login against the simulator over real sockets: steps, faults, protection."""

from __future__ import annotations

import os

import pytest

from exporter.collector import MetricsRenderer
from exporter.config import load_config_text
from exporter.demo import demo_environment
from exporter.login_config import LoginTarget
from exporter.probes import ProbeContext, run_probe, run_safely
from exporter.result import Reason
from exporter.store import Store
from servicekit.clock import SystemClock
from simulator import Simulator
from tests.support.metrics import parse

STEPS = ["open-eoffice", "submit-password", "submit-otp", "open-inbox", "logout"]


class VirtualSleepClock(SystemClock):
    """Real wall time plus whatever was 'slept': TOTP waits cost nothing in tests.

    The simulator accepts the neighbouring 30 s code (valid_window=1), so one virtual jump
    to the next window still yields a code it accepts.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return super().now() + self.offset

    async def sleep(self, seconds: float) -> None:
        self.offset += max(0.0, seconds)


@pytest.fixture
def login(sim: Simulator, demo_config: str, monkeypatch: pytest.MonkeyPatch) -> LoginTarget:
    """The demo's login target (the shipped step list) against this simulator."""
    for key, val in demo_environment(sim).items():
        monkeypatch.setenv(key, val)
    cfg = load_config_text(demo_config)
    target = cfg.target("eoffice-login")
    assert isinstance(target, LoginTarget)
    # A short timeout keeps the hang case quick; the shipped steps are unchanged.
    return target.model_copy(update={"timeout": 3.0})


async def test_a_full_login_times_every_step(sim: Simulator, login: LoginTarget) -> None:
    """Open e-Office, password, OTP, inbox, logout: all pass and each step is timed."""
    ctx = ProbeContext()
    result = await run_probe(login, ctx)
    assert result.success, result.detail
    assert [s.name for s in result.steps] == STEPS
    assert all(s.success and s.duration > 0 for s in result.steps)
    assert sim.stats()["app.inbox_ok"] == 1
    assert sim.stats()["sso.otp_accepted"] == 1
    store = Store(vantage="it")
    store.set_targets((login,))
    store.record(result)
    reg = parse(MetricsRenderer(store).render())
    for step in STEPS:
        assert (
            reg.value(
                "parichay_login_step_duration_seconds",
                {"target": "eoffice-login", "vantage": "it", "step": step},
            )
            > 0
        )
    assert (
        reg.value(
            "parichay_probe_success",
            {"target": "eoffice-login", "vantage": "it", "role": "app", "kind": "login"},
        )
        == 1
    )
    assert (
        reg.value(
            "parichay_login_suspended", {"target": "eoffice-login", "vantage": "it"}
        )
        == 0
    )


@pytest.mark.parametrize(
    ("app", "mode", "reason", "step"),
    [
        pytest.param(
            "sso", "login_reject", Reason.LOGIN_REJECTED, "submit-password", id="login_reject"
        ),
        pytest.param("sso", "otp_reject", Reason.OTP_REJECTED, "submit-otp", id="otp_reject"),
        pytest.param(
            "sso", "csrf_missing", Reason.LOGIN_FLOW_BROKEN, "open-eoffice", id="csrf_missing"
        ),
        pytest.param(
            "sso",
            "redirect_broken",
            Reason.LOGIN_FLOW_BROKEN,
            "open-inbox",
            id="redirect_broken-sso",
        ),
        pytest.param(
            "app",
            "redirect_broken",
            Reason.LOGIN_FLOW_BROKEN,
            "open-inbox",
            id="redirect_broken-app",
        ),
        pytest.param("sso", "refuse", Reason.CONNECT_REFUSED, "open-eoffice", id="sso-refused"),
        pytest.param("app", "http_503", Reason.HTTP_5XX, "open-eoffice", id="app-503"),
        pytest.param("sso", "hang", Reason.TIMEOUT, "open-eoffice", id="sso-hangs"),
        pytest.param(
            "sso", "bad_content", Reason.LOGIN_FLOW_BROKEN, "open-eoffice", id="sso-wrong-page"
        ),
    ],
)
async def test_each_fault_gives_its_reason_and_failing_step(
    sim: Simulator, login: LoginTarget, app: str, mode: str, reason: Reason, step: str
) -> None:
    """Login faults and network faults name the reason and the step that failed."""
    sim.set_fault(app, mode)  # type: ignore[arg-type]
    result = await run_probe(login, ProbeContext())
    assert (result.reason, result.failed_step) == (reason, step), result.detail
    assert f"step {step}:" in result.detail
    assert result.steps[-1].name == "logout", "the clean-up step always runs"


@pytest.mark.parametrize(
    ("mode", "counter", "attempts_allowed"),
    [
        pytest.param("login_reject", "sso.api_login", 1, id="password-rejected-once"),
        pytest.param("otp_reject", "sso.api_verify_otp", 2, id="otp-rejected-twice"),
    ],
)
async def test_rejections_suspend_logins_and_nothing_more_reaches_parichay(
    sim: Simulator, login: LoginTarget, mode: str, counter: str, attempts_allowed: int
) -> None:
    """Ten scheduled slots after a rejection: only the allowed attempts reach the SSO."""
    sim.set_fault("sso", mode)
    ctx = ProbeContext(clock=VirtualSleepClock())
    ran = 0
    for _ in range(10):
        outcome = await run_safely(login, ctx)  # exactly the scheduler's gate
        if not outcome.refused:
            ran += 1
    assert ran == attempts_allowed
    assert sim.stats()[counter] == attempts_allowed
    assert sim.stats()["sso.captcha_required"] == 0


async def test_back_to_back_logins_never_replay_a_totp_code(
    sim: Simulator, login: LoginTarget
) -> None:
    """Two logins in quick succession: the second OTP is fresh; the simulator saw no replay."""
    ctx = ProbeContext(clock=VirtualSleepClock())
    for _ in range(2):
        result = await run_probe(login, ctx)
        assert result.success, result.detail
    stats = sim.stats()
    assert stats["sso.otp_accepted"] == 2
    assert ctx.clock.offset > 0, "the second login had to wait for the next window"  # type: ignore[attr-defined]
    assert stats["sso.otp_replayed"] == 0 and stats["sso.otp_rejected"] == 0


async def test_no_login_secret_in_results_or_logs(
    sim: Simulator, login: LoginTarget, caplog: pytest.LogCaptureFixture
) -> None:
    """Credentials, the TOTP seed and extracted tokens never reach details or logs."""
    caplog.set_level("DEBUG")
    sim.set_fault("sso", "login_reject")
    rejected = await run_probe(login, ProbeContext())
    sim.set_fault("sso", "ok")
    ok = await run_probe(login, ProbeContext(clock=VirtualSleepClock()))
    text = "\n".join([repr(rejected), repr(ok), caplog.text, repr(login)])
    for secret in (sim.account.password, sim.account.totp_secret):
        assert secret not in text
    assert os.environ["PARICHAY_DEMO_PASSWORD"] not in text
