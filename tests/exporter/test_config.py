"""Config parsing: every bad input is reported with its YAML path; good input parses fully."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pydantic import ValidationError

from exporter.config import (
    ConfigError,
    HttpTarget,
    Role,
    Target,
    load_config,
    load_config_text,
)
from exporter.kinds import KINDS
from servicekit.secrets import Secret
from tests.support.bad_configs import expected_errors

BAD = Path(__file__).parent / "bad_configs"


@pytest.mark.parametrize("path", sorted(BAD.glob("*.yml")), ids=lambda p: p.stem)
def test_bad_config_is_rejected_with_its_yaml_path(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file in bad_configs/ fails with exactly the '# error:' lines it declares."""
    # Credentials the login examples need so that only the intended mistake remains.
    monkeypatch.setenv("PARICHAY_TEST_USER", "monitor@uk.gov.in")
    monkeypatch.setenv("PARICHAY_TEST_PW", "pw-for-tests-only")
    monkeypatch.setenv("PARICHAY_TEST_SHORT_TOKEN", "too-short")
    monkeypatch.delenv("PARICHAY_TEST_UNSET_PASSWORD", raising=False)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.errors == expected_errors(path)


def test_there_are_at_least_ten_kinds_of_bad_config() -> None:
    """The issue asks for at least ten distinct kinds of bad input under test."""
    assert len(list(BAD.glob("*.yml"))) >= 10


def test_all_errors_are_collected_not_just_the_first() -> None:
    """A file with three independent mistakes reports all three."""
    text = """
vantage: dehradun
targets:
  - {name: a, role: nope, kind: http, url: "https://x.example/"}
  - {name: b, role: sso, kind: http, url: "gopher://x"}
  - {name: c, role: sso, kind: tcp, host: x.example, port: 0}
"""
    with pytest.raises(ConfigError) as info:
        load_config_text(text)
    assert info.value.errors == [
        'targets[0].role: expected sso, app or control, got "nope"',
        'targets[1].url: not an http(s) URL: "gopher://x"',
        "targets[2].port: expected a whole number 1-65535, got 0",
    ]


def test_good_config_parses_into_typed_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Durations, defaults, expectations and secrets land in typed, frozen fields."""
    monkeypatch.setenv("PARICHAY_TEST_TOKEN", "tok-123456")
    pw = tmp_path / "pw"
    pw.write_text("s3cret-pass\n")
    cfg = load_config_text(f"""
vantage: secretariat-dehradun
defaults: {{interval: 1m, timeout: 20s}}
targets:
  - name: eoffice-root
    role: app
    kind: http
    url: https://eoffice.uk.gov.in/
    follow_redirects: false
    headers: {{X-Token: "Bearer ${{PARICHAY_TEST_TOKEN}}", X-Plain: hello}}
    basic_auth: {{username: monitor, password_file: {pw}}}
    expect: {{status: [302], redirect_host: parichay.nic.in}}
""")
    t = cfg.targets[0]
    assert isinstance(t, HttpTarget)
    assert (t.role, t.interval, t.timeout, t.follow_redirects) == (Role.APP, 60.0, 20.0, False)
    assert t.expect.status == (302,) and t.expect.redirect_host == "parichay.nic.in"
    headers = dict(t.headers)
    assert isinstance(headers["X-Token"], Secret)
    assert headers["X-Token"].reveal() == "Bearer tok-123456"
    assert headers["X-Plain"] == "hello"
    assert t.basic_auth is not None and t.basic_auth.password.reveal() == "s3cret-pass"
    assert "tok-123456" not in repr(cfg) and "s3cret-pass" not in repr(cfg)
    with pytest.raises(ValidationError, match="frozen"):
        t.url = "https://other/"  # type: ignore[misc]


def test_config_kinds_are_exactly_the_probe_kinds() -> None:
    """The kinds a config may name are the kinds that have a probe, and vice versa."""
    union = typing.get_args(typing.get_args(Target)[0])
    assert {cls.model_fields["kind"].default for cls in union} == set(KINDS)
    for name, kind in KINDS.items():
        assert kind.config.model_fields["kind"].default == name
        assert callable(kind.probe)


def _check_config(
    tmp_path: Path, name: str, text: str
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Write `text` to tmp_path/name and run `python -m exporter check-config` on it."""
    path = tmp_path / name
    path.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return path, proc


def test_check_config_cli_lists_every_error_without_traceback(tmp_path: Path) -> None:
    """`check-config` exits 1 and prints each error line, never a Python traceback."""
    _, proc = _check_config(
        tmp_path,
        "bad.yml",
        "vantage: x\ntargets:\n  - {name: a, role: sso, kind: http, url: nope}\n"
        "  - {name: a, role: sso, kind: http, url: 'https://x.example/'}\n",
    )
    assert proc.returncode == 1
    assert 'targets[0].url: not an http(s) URL: "nope"' in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_check_config_cli_summarises_a_good_file(tmp_path: Path) -> None:
    """A valid file gives exit 0 and a one-line summary."""
    good, proc = _check_config(
        tmp_path,
        "good.yml",
        "vantage: x\ntargets:\n  - {name: a, role: sso, kind: http, url: 'https://x.example/'}\n"
        "  - {name: b, role: control, kind: dns, host: x.example}\n",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{good}: OK - vantage x, 2 targets (1 dns, 1 http)"
