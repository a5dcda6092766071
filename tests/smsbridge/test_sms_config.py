"""Config validation (every error with its YAML path) and the check-config command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from smsbridge.cli import main
from smsbridge.config import ConfigError, load_config, parse_config
from smsbridge.providers.nic import NicConfig
from tests.support.bad_configs import expected_errors

HERE = Path(__file__).parent
BAD = sorted((HERE / "bad_configs").glob("*.yml"))


@pytest.fixture(autouse=True)
def _secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSB_TOKEN", "token-from-env")
    monkeypatch.setenv("SMSB_PIN", "pin-from-env")
    monkeypatch.delenv("SMSB_NOT_SET", raising=False)
    # A ping URL is a credential; the plain-http one must be refused without being echoed.
    monkeypatch.setenv("SMSB_PING_URL", "http://hc-ping.example/0f6c-secret-uuid")


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in BAD])
def test_each_bad_config_reports_exactly_its_errors(path: Path) -> None:
    """Every bad_configs/*.yml fails with exactly the '# error:' lines it declares."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.errors == expected_errors(path)


def test_the_minimal_config_is_valid_and_secrets_are_hidden() -> None:
    """good_config.yml loads; its secrets print as <secret> and reveal the env values."""
    config = load_config(HERE / "good_config.yml")
    assert config.listen == "0.0.0.0:10072"
    assert config.auth.token is not None
    assert str(config.auth.token) == "<secret>"
    assert repr(config.auth.token) == "<secret>"
    assert config.auth.token.reveal() == "token-from-env"
    assert "pin-from-env" not in repr(config)
    assert "token-from-env" not in repr(config)


def test_check_config_prints_a_one_line_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """check-config on a valid file: exit 0 and one summary line."""
    assert main(["check-config", str(HERE / "good_config.yml")]) == 0
    out = capsys.readouterr().out
    assert out == (
        "ok: 1 provider(s) (nic), 1 template(s), 1 route(s), 1 recipient number(s), "
        "listen 0.0.0.0:10072\n"
    )


def test_check_config_lists_every_error_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """check-config on a broken file: exit 1, each error on its own line with its path."""
    path = HERE / "bad_configs" / "many_errors.yml"
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [f"{path}: 3 error(s)"] + [f"  {e}" for e in expected_errors(path)]
    assert "Traceback" not in err


def test_check_config_on_invalid_yaml_and_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unreadable or unparsable files are one clear error each, exit 1."""
    broken = tmp_path / "broken.yml"
    broken.write_text("auth: [unclosed\n")
    assert main(["check-config", str(broken)]) == 1
    assert main(["check-config", str(tmp_path / "absent.yml")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{broken}: 1 error(s)",
        "  line 2, column 1: invalid YAML: expected ',' or ']', but got '<stream end>'",
        f"{tmp_path / 'absent.yml'}: 1 error(s)",
        f"  file not found: {tmp_path / 'absent.yml'}",
    ]


def test_shipped_example_config_is_valid_once_its_secret_files_exist(
    tmp_path: Path, sms: Any
) -> None:
    """config/smsbridge.yml passes validation with its /run/secrets paths redirected."""
    example = (HERE.parent.parent / "config" / "smsbridge.yml").read_text(encoding="utf-8")
    (tmp_path / "token").write_text("t0ken-value\n")
    (tmp_path / "pin").write_text("p1n-value\n")
    (tmp_path / "smtp").write_text("smtp-pa55\n")
    patched = (
        example.replace("/run/secrets/smsbridge_token", str(tmp_path / "token"))
        .replace("/run/secrets/nic_sms_pin", str(tmp_path / "pin"))
        .replace("/run/secrets/smtp_password", str(tmp_path / "smtp"))
        .replace("/var/lib/parichay-smsbridge/", f"{tmp_path}/")
    )
    path = tmp_path / "smsbridge.yml"
    path.write_text(patched, encoding="utf-8")
    config = load_config(path)
    assert config.heartbeat is not None and config.heartbeat.recipients == ("on-call",)
    assert config.smtp is not None and config.routes[0].resolved_email_to
    assert config.summary() == (
        "ok: 1 provider(s) (nic), 7 template(s), 2 route(s), 3 recipient number(s), "
        "listen 0.0.0.0:10072, heartbeat silence 300s"
    )


def _good() -> dict[str, Any]:
    data = yaml.safe_load((HERE / "good_config.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.errors


def test_a_provider_kind_defaults_to_its_name_and_is_required_otherwise() -> None:
    """`providers.nic` needs no kind; `providers.main` must say `kind: nic` and then loads."""
    nic = _good()["providers"]["nic"]
    config = parse_config({**_good(), "providers": {"main": {**nic, "kind": "nic"}}})
    assert isinstance(config.providers["main"], NicConfig)
    assert _errors({**_good(), "providers": {"main": nic}}) == [
        "providers.main.kind: required (one of nic, http): 'main' is not a kind"
    ]


def test_a_bad_secret_does_not_hide_the_other_problems_of_its_mapping(tmp_path: Path) -> None:
    """A missing pin file and a missing username in one provider are both listed."""
    nic = {**_good()["providers"]["nic"], "pin_file": str(tmp_path / "absent")}
    del nic["pin_env"], nic["username"]
    assert _errors({**_good(), "providers": {"nic": nic}}) == [
        f"providers.nic.pin_file: file not found: {tmp_path / 'absent'}",
        "providers.nic.username: is required",
    ]


def test_an_unknown_key_beside_a_secret_lists_the_env_and_file_keys() -> None:
    """The allowed keys name token_env/token_file (what YAML may write), not the field."""
    assert _errors({**_good(), "auth": {"token_env": "SMSB_TOKEN", "tokn": "x"}}) == [
        "auth.tokn: unknown key; allowed keys here: basic_auth, token_env, token_file"
    ]
