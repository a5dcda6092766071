"""The pinned Alertmanager works on a machine without Debian's `prometheus-alertmanager`.

Debian builds Alertmanager to read its built-in templates from the fixed path
`/usr/share/prometheus/alertmanager/`, which only the system package installs.
`tools/fetch-binaries` unpacks those files from the same .deb into `.tools/share/` and
installs `tools/alertmanager-with-assets` as the binary the tests run. Here that binary is
started in a mount namespace where `/usr/share/prometheus` is hidden (a tmpfs over it when
the system has it; on a bare machine it is absent anyway), with the shipped
`alertmanager.yml` and templates, and must deliver an email built from them for an alert
that a real Prometheus raised from the shipped `prometheus.yml` and rules.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.binaries import pinned_binary
from tests.support.net import HOST, free_port
from tests.support.sinks import SmtpSink
from tests.support.stack import (
    Alertmanager,
    Prometheus,
    Server,
    render_alertmanager,
    render_prometheus,
)
from tests.support.timing import E2E, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.binaries]

# Hide whatever the system has under /usr/share/prometheus, prove it is gone, then run the
# command. A user namespace when not root, so the test runs for any user.
HIDE = """
if [ -d /usr/share/prometheus ]; then mount -t tmpfs hidden /usr/share/prometheus; fi
if [ -e /usr/share/prometheus/alertmanager ]; then
  echo "still visible: /usr/share/prometheus/alertmanager" >&2; exit 97
fi
exec "$@"
"""


def hidden(args: list[str]) -> list[str]:
    userns = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return [
        "unshare",
        *userns,
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        HIDE,
        "sh",
        *args,
    ]


def test_the_wrapper_is_what_the_tests_run_and_the_assets_come_from_the_package() -> None:
    """`.tools/bin/prometheus-alertmanager` is the wrapper; the binary and default.tmpl sit beside it."""
    wrapper = Path(pinned_binary("prometheus-alertmanager"))
    tools = wrapper.parent.parent
    repo_wrapper = Path(__file__).resolve().parents[2] / "tools" / "alertmanager-with-assets"
    assert wrapper.read_bytes() == repo_wrapper.read_bytes()
    assert (tools / "libexec" / "prometheus-alertmanager").is_file()
    default = (tools / "share" / "prometheus" / "alertmanager" / "default.tmpl").read_text()
    assert '{{ define "__alertmanager" }}' in default


async def test_alertmanager_delivers_a_templated_email_with_usr_share_prometheus_hidden(
    tmp_path: Path,
) -> None:
    """Ready, and the shipped email template delivers Prometheus's ExporterDown page."""
    mailbox = SmtpSink()
    await mailbox.start()
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "token").write_text("bare-machine-token\n")
    (secrets / "smtp").write_text("unused\n")
    am_port, closed = free_port(), free_port()
    am_config = render_alertmanager(
        tmp_path / "am",
        smtp=f"{HOST}:{mailbox.port}",
        # No bridge runs: the SMS webhook fails, the email must still go.
        webhook=f"http://{HOST}:{closed}/alertmanager",
        heartbeat=f"http://{HOST}:{closed}/heartbeat",
        token_file=secrets / "token",
        smtp_password_file=secrets / "smtp",
        timing=E2E,
    )
    plain = Alertmanager(
        config=am_config, storage=tmp_path / "am-data", log=tmp_path / "am.log", port=am_port
    )
    am = Server(
        "alertmanager (hidden /usr/share/prometheus)", hidden(plain.args), plain.log, port=am_port
    )
    prom_port = free_port()
    # Every scrape target is a closed port, so the shipped ExporterDown rule pages.
    prom_config = render_prometheus(
        tmp_path / "prom",
        exporters=[f"{HOST}:{closed}"],
        bridge=f"{HOST}:{closed}",
        alertmanagers=(f"{HOST}:{am_port}", f"{HOST}:{am_port}"),
        prometheus=f"{HOST}:{prom_port}",
        timing=E2E,
    )
    prom = Prometheus(
        config=prom_config, data=tmp_path / "prom-data", log=tmp_path / "prom.log", port=prom_port
    )
    await am.start()
    try:
        await prom.start()
        try:
            mails = await wait_until(
                lambda: [m for m in mailbox.received() if m.alertname == "ExporterDown"],
                within=60,
                what="an ExporterDown email",
                describe=lambda: f"mails: {[m.subject for m in mailbox.received()]}\n{am.tail(20)}",
            )
        finally:
            await prom.stop()
    finally:
        await am.stop()
        await mailbox.stop()
    mail = mails[0]
    assert mail.status == "FIRING"
    assert mail.scope == "monitoring"
    # Both bodies come from alertmanager/templates/*.tmpl (bilingual), not from default.tmpl.
    assert "ExporterDown" in mail.html and "स्थान" in mail.text
    assert "failed to parse templates" not in am.output()
