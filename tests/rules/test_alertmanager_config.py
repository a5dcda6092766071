"""Alertmanager: the config is valid, routes and inhibitions behave, templates render in both languages.

Routing is checked with `amtool config routes test` against the cases in
alertmanager/tests/routes.yml; inhibition (the cases in alertmanager/tests/inhibitions.yml)
needs a running Alertmanager, so one is started on a loopback port with the repository's config (only the receivers' addresses replaced
by a closed local port, so nothing leaves the machine).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.rules._tools import ALERTMANAGER_DIR, binary, load_rule_groups, run
from tests.support.net import free_port
from tests.support.stack import Alertmanager

CONFIG = ALERTMANAGER_DIR / "alertmanager.yml"
ROUTE_CASES = yaml.safe_load((ALERTMANAGER_DIR / "tests" / "routes.yml").read_text("utf-8"))["cases"]
INHIBITION_CASES = yaml.safe_load(
    (ALERTMANAGER_DIR / "tests" / "inhibitions.yml").read_text("utf-8")
)["cases"]
DEVANAGARI_TEXT = "परिचय"


@pytest.mark.binaries
@pytest.mark.fast_binaries
def test_amtool_check_config_accepts_the_config_and_its_templates() -> None:
    """The config parses strictly and the template files load."""
    result = run([binary("amtool"), "check-config", str(CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout


@pytest.mark.binaries
@pytest.mark.fast_binaries
@pytest.mark.parametrize("case", ROUTE_CASES, ids=lambda c: c["name"])
def test_alert_is_routed_to_exactly_the_expected_receivers(case: dict[str, Any]) -> None:
    """page -> SMS and email, ticket -> email only (amtool config routes test)."""
    labels = [f"{k}={v}" for k, v in case["labels"].items()]
    result = run(
        [
            binary("amtool"), "config", "routes", "test", f"--config.file={CONFIG}",
            f"--verify.receivers={','.join(case['receivers'])}", *labels,
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ",".join(case["receivers"])


def test_config_keeps_secrets_out_and_sends_resolved_notifications() -> None:
    """Secrets are files; every receiver but the heartbeat and the page email also reports
    resolution (the Watchdog never resolves while the chain works; the RESOLVED of a page
    is emailed by the bridge); the mute example uses IST."""
    config = yaml.safe_load(CONFIG.read_text("utf-8"))
    assert "smtp_auth_password" not in config["global"]
    assert config["global"]["smtp_auth_password_file"].startswith("/etc/alertmanager/secrets/")
    for receiver in config["receivers"]:
        for email in receiver.get("email_configs", []):
            assert email["send_resolved"] is (receiver["name"] != "ops-email-page")
        for hook in receiver.get("webhook_configs", []):
            assert hook["send_resolved"] is (receiver["name"] != "heartbeat")
            auth = hook["http_config"]["authorization"]
            assert auth == {"credentials_file": "/etc/alertmanager/secrets/smsbridge_token"}
    assert config["route"]["group_by"] == ["alertname", "scope", "target"]
    (interval,) = config["time_intervals"]
    assert all(t["location"] == "Asia/Kolkata" for t in interval["time_intervals"])


def test_watchdog_goes_every_minute_to_the_bridge_heartbeat_and_nowhere_else() -> None:
    """The first route catches the Watchdog without `continue`; its receiver is the
    heartbeat webhook alone, repeated every minute (inhibition: see the live cases)."""
    config = yaml.safe_load(CONFIG.read_text("utf-8"))
    first = config["route"]["routes"][0]
    assert first["matchers"] == ['alertname="Watchdog"']
    assert first["receiver"] == "heartbeat" and not first.get("continue", False)
    assert first["repeat_interval"] == "1m" and first["group_interval"] == "1m"
    (heartbeat,) = [r for r in config["receivers"] if r["name"] == "heartbeat"]
    assert set(heartbeat) == {"name", "webhook_configs"}
    (hook,) = heartbeat["webhook_configs"]
    assert hook["url"] == "http://smsbridge:10072/heartbeat"


# --- templates -------------------------------------------------------------------------------


def _render(template: str, data: Path, *, kind: str = "text") -> str:
    result = run(
        [
            binary("amtool"), "template", "render",
            f"--template.glob={ALERTMANAGER_DIR / 'templates' / '*.tmpl'}",
            f"--template.type={kind}",
            f'--template.text={{{{ template "{template}" . }}}}',
            f"--template.data={data}",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


FIRING = ALERTMANAGER_DIR / "tests" / "parichay_down_firing.json"
RESOLVED = ALERTMANAGER_DIR / "tests" / "parichay_down_resolved.json"


@pytest.mark.binaries
@pytest.mark.fast_binaries
def test_email_subject_names_status_severity_alert_scope_and_target_in_both_languages() -> None:
    """The subject alone tells the reader what is down and where."""
    subject = _render("parichay.email.subject", FIRING)
    assert subject.strip() == "[FIRING] PAGE ParichayDown | scope: central | target: parichay | चालू समस्या"


SMTP_MAX_LINE = 998


def _q_encoded_header_octets(name: str, value: str) -> int:
    """Upper bound of the header line Alertmanager 0.25 writes: Go's mime.QEncoding turns a
    non-ASCII value into `=?utf-8?q?...?=` words of at most 75 octets, every octet taking up
    to 3 (`=E0`), joined by single spaces on ONE line (it does not fold)."""
    raw = value.encode("utf-8")
    if raw.isascii():
        return len(name) + 2 + len(raw)
    payload_per_word = 75 - len("=?utf-8?q??=")
    encoded = 3 * len(raw)
    words = -(-encoded // (payload_per_word - payload_per_word % 3))
    return len(name) + 2 + encoded + words * (len("=?utf-8?q??=") + 1)


def _catalogue() -> list[tuple[str, str, str]]:
    return [
        (rule["alert"], rule["labels"]["severity"], rule["labels"]["scope"])
        for _, group in load_rule_groups()
        for rule in group["rules"]
        if "alert" in rule
    ]


@pytest.mark.binaries
@pytest.mark.fast_binaries
@pytest.mark.parametrize("status", ["firing", "resolved"])
def test_every_alert_subject_fits_one_smtp_line_once_encoded(status: str, tmp_path: Path) -> None:
    """A relay that enforces RFC 5321's 998-octet line limit rejects the mail ('500 Line too
    long') while Alertmanager logs success: a page silently lost. Worst case per alert: the
    longest target name the exporter accepts (63) and a group of 999 alerts."""
    catalogue = _catalogue()
    assert len(catalogue) >= 10
    target = "t" * 63
    for alertname, severity, scope in catalogue:
        scope_value = "central" if scope.startswith("{{") else scope
        labels = {"alertname": alertname, "severity": severity, "scope": scope_value, "target": target}
        alert = {
            "status": status,
            "labels": labels,
            "annotations": {"summary": "s", "summary_hi": "परिचय " * 200},
            "startsAt": "2026-11-25T04:12:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": "1",
        }
        data = {
            "receiver": "ops-email",
            "status": status,
            "alerts": [alert] * 999,
            "groupLabels": {"alertname": alertname, "scope": scope_value, "target": target},
            "commonLabels": labels,
            "commonAnnotations": {},
            "externalURL": "http://alertmanager-1:9093",
        }
        path = tmp_path / f"{alertname}.json"
        path.write_text(json.dumps(data), "utf-8")
        subject = _render("parichay.email.subject", path).strip()
        assert alertname in subject and target in subject
        octets = _q_encoded_header_octets("Subject", subject)
        assert octets <= SMTP_MAX_LINE, f"{alertname}: subject line is {octets} octets: {subject}"


@pytest.mark.binaries
@pytest.mark.fast_binaries
def test_email_body_gives_vantages_since_when_in_ist_and_the_runbook() -> None:
    """Body: both summaries, the vantages with reasons, start time in IST and UTC, runbook."""
    body = _render("parichay.email.text", FIRING)
    assert "Parichay SSO (parichay) is down" in body
    assert "परिचय SSO (parichay) स्वस्थ नेटवर्क" in body
    assert "cloud-mumbai (http_5xx), secretariat-dehradun (connect_timeout)" in body
    # 04:12 UTC is 09:42 in India.
    assert "Since / कब से:          25 Nov 2026 09:42 IST (04:12 UTC)" in body
    assert "Runbook / रनबुक:        https://example.gov.in/runbooks/ParichayDown.md" in body
    assert "Resolved" not in body


@pytest.mark.binaries
@pytest.mark.fast_binaries
def test_resolved_email_says_so_in_both_languages_with_the_end_time() -> None:
    """The resolved notification is distinct and tells when it ended."""
    subject = _render("parichay.email.subject", RESOLVED)
    body = _render("parichay.email.text", RESOLVED)
    assert subject.strip() == "[RESOLVED] PAGE ParichayDown | scope: central | target: parichay | समस्या समाप्त"
    assert "All alerts of this group are resolved." in body
    assert "इस समूह की सभी समस्याएँ समाप्त हो गई हैं।" in body
    assert "Resolved / समाप्त:      25 Nov 2026 13:52 IST (08:22 UTC)" in body


@pytest.mark.binaries
@pytest.mark.fast_binaries
def test_a_group_of_per_vantage_alerts_counts_them_and_names_each_vantage() -> None:
    """Two vantages' ParichaySlow tickets make one email listing both; 18:40 UTC is past
    midnight in India, so the IST date rolls over."""
    data = ALERTMANAGER_DIR / "tests" / "parichay_slow_two_vantages.json"
    subject = _render("parichay.email.subject", data)
    body = _render("parichay.email.text", data)
    assert subject.startswith("[FIRING x2] TICKET ParichaySlow | scope: central | target: parichay")
    assert "Vantage(s) / स्थान:     cloud-mumbai" in body
    assert "Vantage(s) / स्थान:     secretariat-dehradun" in body
    assert "Since / कब से:          26 Nov 2026 00:10 IST (18:40 UTC)" in body


PARTIAL = ALERTMANAGER_DIR / "tests" / "parichay_partial_two_vantages.json"


@pytest.mark.binaries
@pytest.mark.fast_binaries
def test_partial_reachability_email_names_every_failing_site_and_says_the_service_is_up() -> None:
    """Scope path: one email for two failing vantages; its head names both sites, in English
    and Hindi, and says the service itself is up; each alert names its vantage."""
    subject = _render("parichay.email.subject", PARTIAL)
    body = _render("parichay.email.text", PARTIAL)
    html = _render("parichay.email.html", PARTIAL, kind="html")
    assert subject.strip() == (
        "[FIRING x2] PAGE ParichayPartiallyUnreachable | scope: path | target: parichay | चालू समस्या"
    )
    assert "Unreachable from: district-haridwar, secretariat-dehradun. The service itself is up" in body
    assert "इन स्थानों से नहीं पहुँच रहा: district-haridwar, secretariat-dehradun। सेवा स्वयं" in body
    assert "Vantage(s) / स्थान:     district-haridwar\n" in body
    assert "Vantage(s) / स्थान:     secretariat-dehradun\n" in body
    assert "but works from cloud-mumbai" in body
    assert "Unreachable from: district-haridwar, secretariat-dehradun." in html
    assert '<span lang="hi">इन स्थानों से नहीं पहुँच रहा' in html


@pytest.mark.binaries
@pytest.mark.fast_binaries
def test_other_scopes_get_no_partial_reachability_head() -> None:
    """The path head is for scope path only."""
    assert "Unreachable from" not in _render("parichay.email.text", FIRING)
    assert "Unreachable from" not in _render("parichay.email.html", FIRING, kind="html")


@pytest.mark.binaries
@pytest.mark.fast_binaries
def test_html_email_carries_the_same_facts() -> None:
    """The HTML part is bilingual and links the runbook."""
    html = _render("parichay.email.html", FIRING, kind="html")
    assert '<html lang="en">' in html and DEVANAGARI_TEXT in html
    assert '<a href="https://example.gov.in/runbooks/ParichayDown.md">' in html
    assert "25 Nov 2026 09:42 IST" in html


# --- inhibition, on a real Alertmanager -----------------------------------------------------------


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[httpx.Client]:
    """A real Alertmanager with the repository config; receivers point at a closed port."""
    closed = f"127.0.0.1:{free_port()}"
    text = CONFIG.read_text("utf-8").replace("smsbridge:10072", closed).replace(
        "mailcatcher:1025", closed
    )
    (tmp_path / "alertmanager.yml").write_text(text, "utf-8")
    (tmp_path / "templates").symlink_to(ALERTMANAGER_DIR / "templates")
    am = Alertmanager(
        config=tmp_path / "alertmanager.yml",
        storage=tmp_path / "data",
        log=tmp_path / "alertmanager.log",
    )
    am.start_sync(within=20)
    client = httpx.Client(base_url=f"{am.url}/api/v2", timeout=5)
    try:
        yield client
    finally:
        client.close()
        am.stop_sync()


def _post(client: httpx.Client, *alerts: dict[str, str]) -> None:
    now = datetime.now(UTC).isoformat()
    payload = [{"labels": labels, "annotations": {}, "startsAt": now} for labels in alerts]
    client.post("/alerts", content=json.dumps(payload), headers={
        "Content-Type": "application/json"
    }).raise_for_status()


def _states(client: httpx.Client, expected: dict[str, str]) -> dict[str, str]:
    """alertname/severity/target/vantage -> state, once it equals `expected` or 10 s passed.

    Alertmanager's inhibitor learns of source alerts from its own subscription to the alert
    store, a moment after the API accepted them: until then a target alert reads "active".
    So the test waits for the expected states and fails with whatever it last saw; once they
    match it reads them again a second later, so an alert that must stay "active" is not
    passed just because it was read before the inhibitor caught up.
    """

    def read() -> dict[str, str]:
        return {
            "/".join(a["labels"].get(k, "-") for k in ("alertname", "severity", "target", "vantage")):
            a["status"]["state"]
            for a in client.get("/alerts").json()
        }

    deadline = time.monotonic() + 10
    while True:
        states = read()
        if states == expected:
            time.sleep(1.0)
            return read()
        if time.monotonic() > deadline:
            return states
        time.sleep(0.2)


@pytest.mark.binaries
@pytest.mark.parametrize("case", INHIBITION_CASES, ids=lambda c: c["name"])
def test_inhibition(alertmanager: httpx.Client, case: dict[str, Any]) -> None:
    """Inhibition rules of alertmanager.yml, observed on a running Alertmanager."""
    _post(alertmanager, *case["alerts"])
    assert _states(alertmanager, case["expected"]) == case["expected"]


def test_the_bridge_emails_the_resolved_of_every_page_to_whom_alertmanager_emailed_the_firing() -> None:
    """Pages reach email FIRING-only from Alertmanager (two clustered members can send a
    FIRING after the RESOLVED, alertmanager#4008; a FIRING-only receiver never does) and
    RESOLVED from the bridge, once: both bridge configs send it to the same addresses."""
    config = yaml.safe_load(CONFIG.read_text("utf-8"))
    page_routes = [r for r in config["route"]["routes"] if r.get("matchers") == ['severity="page"']]
    assert [r["receiver"] for r in page_routes] == ["ops-sms", "ops-email-page"]
    (receiver,) = [r for r in config["receivers"] if r["name"] == "ops-email-page"]
    (email,) = receiver["email_configs"]
    assert email["send_resolved"] is False
    repo = CONFIG.parents[1]
    for bridge_file in ("config/smsbridge.yml", "deploy/smsbridge-demo.yml"):
        bridge = yaml.safe_load((repo / bridge_file).read_text("utf-8"))
        (pages,) = [r for r in bridge["routes"] if r["match"] == {"severity": "page"}]
        assert pages["resolved_email_to"] == [email["to"]], bridge_file
        assert bridge["smtp"]["host"], bridge_file
