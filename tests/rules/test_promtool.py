"""promtool accepts the rules and the Prometheus config, and every promtool unit test passes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.rules._tools import PROMETHEUS_DIR, PROMTOOL_TESTS_DIR, RULES_DIR, binary, run

RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
TEST_FILES = sorted(PROMTOOL_TESTS_DIR.glob("*.yml"))


def test_there_are_rule_files_and_promtool_test_files() -> None:
    """The globs below are not silently empty."""
    assert RULE_FILES, f"no rule files in {RULES_DIR}"
    assert TEST_FILES, f"no promtool tests in {PROMTOOL_TESTS_DIR}"


@pytest.mark.binaries
@pytest.mark.fast_binaries
@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules_accepts_rule_file(rule_file: Path) -> None:
    """Each rules file parses, every expression is valid PromQL and every template compiles."""
    result = run([binary("promtool"), "check", "rules", str(rule_file)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda p: p.name)
def test_every_rules_file_has_a_promtool_test_file_beside_it(rule_file: Path) -> None:
    """rules/<concern>.yml is tested by tests/<concern>_test.yml."""
    assert (PROMTOOL_TESTS_DIR / f"{rule_file.stem}_test.yml").is_file()


@pytest.mark.binaries
@pytest.mark.fast_binaries
@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(test_file: Path) -> None:
    """Firing and not-firing cases of every alert, and the key recording rules, hold."""
    result = run([binary("promtool"), "test", "rules", test_file.name], cwd=PROMTOOL_TESTS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.binaries
@pytest.mark.fast_binaries
def test_promtool_check_config_accepts_prometheus_yml(tmp_path: Path) -> None:
    """prometheus.yml is valid and loads every rule file (checked on a copy, as deployed)."""
    shutil.copy(PROMETHEUS_DIR / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copytree(RULES_DIR, tmp_path / "rules")
    result = run([binary("promtool"), "check", "config", str(tmp_path / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(RULE_FILES)} rule files found" in result.stdout + result.stderr
