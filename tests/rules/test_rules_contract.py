"""The rules keep the project's contracts: alert catalogue, annotations, runbooks, metric names.

The alert catalogue and metric contract are embedded below and checked against their tables
in docs/architecture.md, so the documentation and the rules cannot drift apart silently.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.rules._tools import (
    ARCHITECTURE_DOC,
    PROMETHEUS_DIR,
    PROMTOOL_TESTS_DIR,
    RULES_DIR,
    RUNBOOKS_DIR,
    load_rule_groups,
)

# docs/architecture.md "Alert catalogue": alert -> (allowed scopes, allowed severities).
CATALOGUE: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "ParichayDown": (frozenset({"central"}), frozenset({"page"})),
    "EOfficeDown": (frozenset({"app"}), frozenset({"page"})),
    "EOfficeLoginFailing": (frozenset({"app"}), frozenset({"page"})),
    "VantageNetworkDown": (frozenset({"local"}), frozenset({"page"})),
    "ParichaySlow": (frozenset({"central"}), frozenset({"ticket"})),
    "EOfficeSlow": (frozenset({"app"}), frozenset({"ticket"})),
    "LoginAccountRejected": (frozenset({"config"}), frozenset({"ticket"})),
    "TLSCertificateExpiringSoon": (frozenset({"central", "app"}), frozenset({"ticket"})),
    "ProbesStale": (frozenset({"monitoring"}), frozenset({"page"})),
    "ExporterDown": (frozenset({"monitoring"}), frozenset({"page"})),
    "ParichayErrorBudgetBurn": (frozenset({"central"}), frozenset({"page", "ticket"})),
    "EOfficeErrorBudgetBurn": (frozenset({"app"}), frozenset({"page", "ticket"})),
    # Issue "alerts you can trust in messy incidents".
    "ParichayPartiallyUnreachable": (frozenset({"path"}), frozenset({"page"})),
    "EOfficePartiallyUnreachable": (frozenset({"path"}), frozenset({"page"})),
    "ParichayIntermittent": (frozenset({"central"}), frozenset({"page"})),
    "EOfficeIntermittent": (frozenset({"app"}), frozenset({"page"})),
    "VantageResolverDown": (frozenset({"local"}), frozenset({"page"})),
    "Watchdog": (frozenset({"monitoring"}), frozenset({"none"})),
    "SMSDeliveryFailing": (frozenset({"monitoring"}), frozenset({"page"})),
    "AlertmanagerNotificationsFailing": (frozenset({"monitoring"}), frozenset({"page"})),
    "PrometheusRuleFailures": (frozenset({"monitoring"}), frozenset({"page"})),
    "PrometheusNotificationsFailing": (frozenset({"monitoring"}), frozenset({"page"})),
    "ConfigReloadFailed": (frozenset({"monitoring"}), frozenset({"ticket"})),
}
# Alerts about the whole chain rather than one target, vantage or component instance.
CHAIN_ALERTS = frozenset({"Watchdog"})

# docs/architecture.md "Metric contract".
CONTRACT_METRICS = frozenset(
    {
        "parichay_probe_success",
        "parichay_probe_duration_seconds",
        "parichay_probe_phase_duration_seconds",
        "parichay_probe_latency_seconds",
        "parichay_probes_total",
        "parichay_http_status_code",
        "parichay_tls_cert_not_after_timestamp_seconds",
        "parichay_login_step_duration_seconds",
        "parichay_login_suspended",
        "parichay_probe_last_run_timestamp_seconds",
        "parichay_config_last_reload_successful",
        "parichay_exporter_build_info",
    }
)
HISTOGRAMS = frozenset({"parichay_probe_latency_seconds"})
# Prometheus' own scrape metric and its ALERTS series.
BUILTIN_SERIES = frozenset({"up", "ALERTS"})
# What the self-monitoring alerts read: the SMS bridge's own metrics (smsbridge/metrics.py)
# and those of Prometheus and Alertmanager (present in Prometheus 2.42-2.53 and
# Alertmanager 0.25-0.28).
SELF_MONITORING_METRICS = frozenset(
    {
        "parichay_smsbridge_dead_total",
        "parichay_smsbridge_oldest_pending_age_seconds",
        "parichay_smsbridge_config_last_reload_successful",
        "prometheus_rule_evaluation_failures_total",
        "prometheus_notifications_dropped_total",
        "prometheus_notifications_alertmanagers_discovered",
        "prometheus_config_last_reload_successful",
        "alertmanager_notifications_failed_total",
        "alertmanager_config_last_reload_successful",
    }
)

RUNBOOK_URL = "{{ $externalLabels.runbook_base }}/%s.md"
DEVANAGARI = re.compile(r"[\u0900-\u097F]")
RECORDING_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9_]+$")
REQUIRED_ANNOTATIONS = ("summary", "summary_hi", "description", "runbook_url")

PROMQL_KEYWORDS = frozenset(
    {
        "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
        "group_right", "bool", "offset", "inf", "nan", "atan2",
    }
)


GROUPS = load_rule_groups()
RULES = [(path, rule) for path, group in GROUPS for rule in group["rules"]]
ALERTS = [(path, rule) for path, rule in RULES if "alert" in rule]
RECORDS = [(path, rule) for path, rule in RULES if "record" in rule]
ALERT_NAMES = sorted({rule["alert"] for _, rule in ALERTS})
RECORD_NAMES = frozenset(rule["record"] for _, rule in RECORDS)


def _alert_id(item: tuple[Path, dict[str, Any]]) -> str:
    path, rule = item
    return f"{path.stem}:{rule['alert']}:{rule['labels'].get('severity', '?')}"


# --- PromQL metric-name extraction -------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_IDENT = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_NUMBER_LIKE = re.compile(r"^(?:\d|[eE]\d|inf$|nan$)")


def metric_names(expr: str) -> set[str]:
    """Return the metric names a PromQL expression selects.

    Strings, label matchers, range/offset brackets and the label lists of `by`, `on`,
    `group_left` and friends are removed first; what remains that is not a function call,
    a keyword or a number is a metric name.
    >>> sorted(metric_names('sum by (vantage) (rate(x_total{a="b"}[5m])) > on () y'))
    ['x_total', 'y']
    """
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _LABEL_LISTS.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in PROMQL_KEYWORDS or _NUMBER_LIKE.match(name):
            continue
        names.add(name)
    return names


def template_queries(template: str) -> list[str]:
    """Return the PromQL queries embedded in an annotation template.

    Annotations build queries as `query "..."` or `printf `...`` strings.
    """
    queries = re.findall(r"`([^`]*)`", template)
    queries += re.findall(r'query\s+"((?:[^"\\]|\\.)*)"', template)
    return [q.replace("%q", '"x"').replace("%s", "x") for q in queries]


ALLOWED_NAMES = (
    CONTRACT_METRICS
    | {f"{h}_{suffix}" for h in HISTOGRAMS for suffix in ("bucket", "sum", "count")}
    | BUILTIN_SERIES
    | SELF_MONITORING_METRICS
    | RECORD_NAMES
)


def test_metric_name_extraction_sees_through_promql_syntax() -> None:
    """The tokeniser finds metric names, not labels, functions, keywords or strings."""
    expr = (
        'histogram_quantile(0.95, sum by (target, le) (rate(a_bucket{le="1"}[5m] offset 1m)))'
        ' > on (target) group_left (kind) b:c:d unless on () (min(up) == 0)'
        ' or label_replace(vector(1), "kind", "http", "", "") * 1e3'
    )
    assert metric_names(expr) == {"a_bucket", "b:c:d", "up"}


def test_a_metric_outside_the_contract_is_reported() -> None:
    """A typo or an invented metric in a rule would be caught."""
    used = metric_names('max by (target) (parichay_probe_sucess) or blackbox_probe_success')
    assert used - ALLOWED_NAMES == {"parichay_probe_sucess", "blackbox_probe_success"}


# --- catalogue ---------------------------------------------------------------------------


def test_every_alert_of_the_design_catalogue_exists() -> None:
    """Alert names are part of the contract (docs/architecture.md, alert catalogue)."""
    assert sorted(CATALOGUE) == ALERT_NAMES


def test_embedded_catalogue_and_metrics_match_the_architecture_doc() -> None:
    """The embedded copies equal docs/architecture.md's tables: every alert with exactly its
    scopes and severities, and exactly the contract's metrics."""
    doc = ARCHITECTURE_DOC.read_text(encoding="utf-8")
    catalogue = doc.split("## Alert catalogue", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for row in catalogue.splitlines():
        if row.startswith("| `"):
            cells = [c.strip() for c in row.strip("|").split("|")]
            scopes = frozenset(s.strip() for s in cells[1].split(","))
            severities = frozenset(s.strip() for s in cells[2].split(","))
            documented[cells[0].strip("`")] = (scopes, severities)
    assert documented == CATALOGUE
    contract = doc.split("## Metric contract", 1)[1].split("\n## ", 1)[0]
    metrics = set(re.findall(r"^\| `(parichay_[a-z_]+)`", contract, re.MULTILINE))
    assert metrics == CONTRACT_METRICS


@pytest.mark.parametrize("item", ALERTS, ids=_alert_id)
def test_alert_scope_and_severity_follow_the_catalogue(item: tuple[Path, dict[str, Any]]) -> None:
    """Severity is page or ticket (none for the Watchdog) and scope one the catalogue allows."""
    _, rule = item
    scopes, severities = CATALOGUE[rule["alert"]]
    labels = rule["labels"]
    assert labels["severity"] in severities
    assert labels["severity"] in {"page", "ticket"} or rule["alert"] in CHAIN_ALERTS
    scope = labels["scope"]
    if "{{" in scope:  # a templated scope yields only the literals between its actions
        assert set(re.findall(r"\}\}([a-z]+)\{\{", scope)) == scopes
    else:
        assert scope in scopes


# --- per-alert invariants ----------------------------------------------------------------


@pytest.mark.parametrize("item", ALERTS, ids=_alert_id)
def test_alert_has_for_severity_scope_and_all_annotations(item: tuple[Path, dict[str, Any]]) -> None:
    """`for:`, labels severity+scope, the four annotations, Hindi in summary_hi."""
    _, rule = item
    assert "for" in rule, "every alert states its `for:` explicitly"
    assert set(rule["labels"]) >= {"severity", "scope"}
    annotations = rule["annotations"]
    for key in REQUIRED_ANNOTATIONS:
        assert annotations.get(key, "").strip(), f"missing annotation {key}"
    assert DEVANAGARI.search(annotations["summary_hi"]), "summary_hi must be in Devanagari"
    assert not DEVANAGARI.search(annotations["summary"]), "summary is the English one"


@pytest.mark.parametrize("item", ALERTS, ids=_alert_id)
def test_alert_texts_name_the_target_or_vantage_they_are_about(
    item: tuple[Path, dict[str, Any]],
) -> None:
    """Summaries and descriptions are templated with the affected target / vantage / instance
    (the Watchdog is about the whole chain and has none of them)."""
    _, rule = item
    if rule["alert"] in CHAIN_ALERTS:
        assert rule["expr"].strip() == "vector(1)"
        return
    for key in ("summary", "summary_hi", "description"):
        text = rule["annotations"][key]
        assert re.search(r"\$labels\.(target|vantage|instance)", text), key


@pytest.mark.parametrize("item", ALERTS, ids=_alert_id)
def test_runbook_url_is_the_one_base_plus_the_alerts_runbook_which_exists(
    item: tuple[Path, dict[str, Any]],
) -> None:
    """runbook_url = external label runbook_base + /<AlertName>.md, and that file exists."""
    _, rule = item
    assert rule["annotations"]["runbook_url"] == RUNBOOK_URL % rule["alert"]
    assert (RUNBOOKS_DIR / f"{rule['alert']}.md").is_file()


def test_runbook_base_is_defined_once_in_prometheus_yml() -> None:
    """The single definition of the runbook base is an external label of prometheus.yml."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    base = config["global"]["external_labels"]["runbook_base"]
    # The status page serves them (statuspage/runbooks.py); shipped as its compose address.
    assert base == "http://statuspage:10073/runbooks"
    for path in RULES_DIR.glob("*.yml"):
        assert base not in path.read_text(encoding="utf-8"), f"{path.name} repeats the base"


def test_every_runbook_belongs_to_an_alert() -> None:
    """No orphan runbooks: a renamed alert takes its runbook along."""
    assert sorted(p.stem for p in RUNBOOKS_DIR.glob("*.md")) == ALERT_NAMES


# --- PromQL only uses the contract ----------------------------------------------------------


@pytest.mark.parametrize(
    "item", RULES, ids=lambda i: f"{i[0].stem}:{i[1].get('alert') or i[1]['record']}"
)
def test_rule_promql_uses_only_contract_metrics_and_recording_rules(
    item: tuple[Path, dict[str, Any]],
) -> None:
    """Every metric in expr and in annotation queries is from the metric contract (docs/architecture.md),
    `up`, a histogram series of the contract, or a recording rule defined here."""
    _, rule = item
    queries = [rule["expr"]]
    for text in rule.get("annotations", {}).values():
        queries += template_queries(text)
    used = set().union(*(metric_names(q) for q in queries))
    # Only constants (the SLO objective, latency thresholds) select no metric at all.
    assert used or "vector(" in rule["expr"], "no metric found: the tokeniser is broken"
    assert used <= ALLOWED_NAMES, sorted(used - ALLOWED_NAMES)


def test_recording_rules_are_named_level_metric_operation_and_defined_once() -> None:
    """Recording rules are named level:metric:operation, one definition per name."""
    names = [rule["record"] for _, rule in RECORDS]
    assert len(names) == len(set(names))
    for name in names:
        assert RECORDING_NAME.match(name), name


def test_only_recording_rules_sum_the_probe_counter_over_result() -> None:
    """The total and failure ratio of parichay_probes_total come from
    recording rules; alerts never aggregate the counter away from `result` themselves."""
    for _, rule in ALERTS:
        assert "without (result)" not in rule["expr"].replace("without(", "without (")


def test_slo_objective_is_defined_in_exactly_one_place() -> None:
    """99.5 % appears once, as the objective recording rule everyone else reads."""
    hits = [
        (p.name, r["record"]) for p, r in RECORDS if "0.995" in r["expr"]
    ] + [(p.name, r["alert"]) for p, r in ALERTS if "0.995" in r["expr"]]
    assert hits == [("slo.yml", "parichay:slo_availability_objective:ratio")]


def test_error_ratio_is_recorded_for_every_window_of_the_burn_rate_alerts() -> None:
    """The SRE-workbook windows all exist as recording rules."""
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
        assert f"target:parichay_probes:failure_ratio_rate{window}" in RECORD_NAMES


# --- promtool tests cover every alert ---------------------------------------------------------


def _promtool_cases() -> tuple[set[str], set[str]]:
    firing, silent = set(), set()
    for path in PROMTOOL_TESTS_DIR.glob("*.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in doc["tests"]:
            for case in group.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    return firing, silent


@pytest.mark.parametrize("alert", ALERT_NAMES)
def test_every_alert_has_a_firing_and_a_not_firing_promtool_case(alert: str) -> None:
    """Each alert is shown to fire, and shown to stay quiet (except the
    Watchdog, which is shown to fire always)."""
    firing, silent = _promtool_cases()
    assert alert in firing, f"no promtool case where {alert} fires"
    assert alert in silent or alert in CHAIN_ALERTS, f"no promtool case where {alert} must not fire"


def test_firing_cases_assert_exact_annotations() -> None:
    """Every alert has at least one firing case that pins all four annotations."""
    pinned: set[str] = set()
    for path in PROMTOOL_TESTS_DIR.glob("*.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in doc["tests"]:
            for case in group.get("alert_rule_test", []):
                for alert in case.get("exp_alerts") or []:
                    if set(alert.get("exp_annotations", {})) >= set(REQUIRED_ANNOTATIONS):
                        pinned.add(case["alertname"])
    assert pinned == set(ALERT_NAMES)


# --- prometheus.yml follows the vantage model -----------------------------------------------


def test_scrape_config_never_sets_vantage_and_lists_every_alertmanager() -> None:
    """The exporter owns `vantage` (docs/architecture.md, conventions); HA Alertmanagers are all listed."""
    text = (PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) >= {"parichay", "smsbridge", "alertmanager"}
    for job in jobs.values():
        for static in job.get("static_configs", []):
            assert "vantage" not in static.get("labels", {})
        for relabel in job.get("relabel_configs", []) + job.get("metric_relabel_configs", []):
            assert relabel.get("target_label") != "vantage"
    assert "vantage" not in config["global"].get("external_labels", {})
    targets = [
        t
        for am in config["alerting"]["alertmanagers"]
        for static in am["static_configs"]
        for t in static["targets"]
    ]
    assert targets == ["alertmanager-1:9093", "alertmanager-2:9093"]
    assert config["rule_files"] == ["rules/*.yml"]


# --- the issue "alerts you can trust in messy incidents" ------------------------------------


def _alert(name: str) -> list[dict[str, Any]]:
    return [rule for _, rule in ALERTS if rule["alert"] == name]


def test_watchdog_always_fires_and_pages_nobody() -> None:
    """vector(1), no `for` delay, severity none: it only feeds the heartbeat."""
    (rule,) = _alert("Watchdog")
    assert rule["expr"].strip() == "vector(1)"
    assert rule["for"] == "0s"
    assert rule["labels"] == {"severity": "none", "scope": "monitoring"}


def test_partial_and_down_alerts_are_exclusive_by_expression_and_debounced_alike() -> None:
    """A partial alert needs the target up from some healthy vantage (`== 1`), the Down
    alert needs it down from all (`== 0`); both use the same `for:`."""
    for service in ("Parichay", "EOffice"):
        (partial,) = _alert(f"{service}PartiallyUnreachable")
        (down,) = _alert(f"{service}Down")
        assert "target:parichay_probe_success:max_network_healthy == 1" in partial["expr"]
        assert "target:parichay_probe_success:max_network_healthy" in down["expr"]
        assert partial["for"] == down["for"] == "30s"
        assert partial["labels"]["scope"] == "path"


def test_holds_on_other_alerts_key_on_firing_alerts_only() -> None:
    """Every `ALERTS{...}` a rule reads selects alertstate="firing": a pending Down alert
    (failures never long enough in a row) must never hold a page."""
    for _, rule in RULES:
        for selector in re.findall(r"ALERTS\{([^}]*)\}", rule["expr"]):
            assert 'alertstate="firing"' in selector, (rule.get("alert"), selector)


def test_account_faults_are_left_out_of_every_sli_rate() -> None:
    """login_rejected and otp_rejected never count as failed or total in the SLI inputs."""
    for name in ("target_vantage:parichay_probes:rate5m", "target_vantage:parichay_probes_failed:rate5m"):
        (expr,) = [r["expr"] for _, r in RECORDS if r["record"] == name]
        assert 'result!~"login_rejected|otp_rejected"' in expr or (
            'result!~"success|login_rejected|otp_rejected"' in expr
        ), name
