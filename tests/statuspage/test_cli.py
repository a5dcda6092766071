"""`parichay-status` command line: clear errors and exit code 2 for bad input."""

from __future__ import annotations

import pytest

from statuspage.cli import main
from tests.support.net import free_port


def test_cli_reports_unreachable_sources_with_exit_code_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An unreachable Alertmanager is one line naming it, and exit code 2."""
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["maintenance", "list", "--alertmanager-url", url, "--timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip() == f"parichay-status: could not reach Alertmanager at {url}: connection refused"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--start", "tomorrow", "--end", "2030-01-01T10:00"],
            "--start: expected a time like 2024-09-02T09:40 (IST)",
            id="bad-start",
        ),
        pytest.param(
            ["--start", "2030-01-01T10:00", "--end", "2030-01-01T09:00"],
            "--end: must be after --start",
            id="end-before-start",
        ),
    ],
)
def test_maintenance_add_rejects_bad_times_before_contacting_anything(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad times are named by option, exit code 2, and nothing is created."""
    url = f"http://127.0.0.1:{free_port()}"
    base = ["maintenance", "add", "--alertmanager-url", url, "--service", "parichay"]
    code = main([*base, *args, "--note-en", "x", "--note-hi", "y"])
    assert code == 2
    assert message in capsys.readouterr().err


def test_check_names_an_unreachable_prometheus_with_exit_code_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`check` reads Prometheus first; unreachable: one line naming it, exit code 2, no traceback."""
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["check", "--prometheus-url", url, "--timeout", "2"]) == 2
    captured = capsys.readouterr()
    assert (
        captured.err
        == f"parichay-status: could not reach Prometheus at {url}: connection refused\n"
    )
    assert "Traceback" not in captured.out + captured.err


def test_credentials_in_a_source_url_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """A URL carrying a password is bad input (exit 2) and the password is not echoed."""
    assert main(["check", "--prometheus-url", "http://ops:hunter22@127.0.0.1:9090"]) == 2
    err = capsys.readouterr().err
    assert "must not carry credentials; use a password or token file instead" in err
    assert "hunter22" not in err


def test_every_alertmanager_member_down_is_named_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two members, both unreachable: one message naming both, exit code 2."""
    a, b = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    code = main(["maintenance", "list", "--alertmanager-url", f"{a},{b}", "--timeout", "2"])
    assert code == 2
    assert capsys.readouterr().err == (
        f"parichay-status: could not read any Alertmanager ({a}: connection refused; "
        f"{b}: connection refused)\n"
    )
