"""What we test is what we ship: the Prometheus and Alertmanager that the tests run, the
images docker-compose.yml pins, and the versions docs/deployment.md states are one set
(tools/versions.env); the dashboards are built for the Grafana release compose runs."""

from __future__ import annotations

import json
import re
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.models.dashboard import Dashboard

from tests.support.binaries import pinned_binary
from tools import binaries

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DEPLOYMENT_DOC = REPO / "docs" / "deployment.md"
DASHBOARDS = REPO / "grafana" / "dashboards"

# The newest dashboard schemaVersion each Grafana minor release understands (Grafana
# migrates older ones on load, but cannot read newer ones).
GRAFANA_MAX_SCHEMA = {"10.4": 39}


def compose_images() -> dict[str, str]:
    """service -> image of docker-compose.yml."""
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return {name: str(svc["image"]) for name, svc in data["services"].items() if "image" in svc}


def image_tag(repository: str) -> set[str]:
    """Every tag compose uses for an image repository, e.g. {"v2.53.3"}."""
    return {
        image.rpartition(":")[2]
        for image in compose_images().values()
        if image.rpartition(":")[0] == repository
    }


def test_the_versions_file_pins_upstream_and_debian_versions_that_agree() -> None:
    """Each Debian package version in tools/versions.env is a build of its upstream version."""
    v = binaries.pinned_versions()
    for upstream, debs in (
        ("PROMETHEUS_VERSION", ("PROMETHEUS_DEB", "PROMTOOL_DEB")),
        ("ALERTMANAGER_VERSION", ("ALERTMANAGER_DEB",)),
    ):
        assert re.fullmatch(r"\d+\.\d+\.\d+", v[upstream]), upstream
        for deb in debs:
            assert v[deb].startswith(v[upstream] + "+"), f"{deb}={v[deb]} is not {v[upstream]}"


@pytest.mark.parametrize(
    ("repository", "key"),
    [
        pytest.param("prom/prometheus", "PROMETHEUS_VERSION", id="prometheus"),
        pytest.param("prom/alertmanager", "ALERTMANAGER_VERSION", id="alertmanager"),
    ],
)
def test_compose_pins_exactly_the_tested_version(repository: str, key: str) -> None:
    """docker-compose.yml runs the release the tests run, in every service that uses it."""
    assert image_tag(repository) == {"v" + binaries.pinned_versions()[key]}


@pytest.mark.binaries
@pytest.mark.parametrize("name", list(binaries.BINARIES))
def test_the_binaries_the_tests_run_are_the_pinned_versions(name: str) -> None:
    """The binary found by the lookup reports the pinned upstream version."""
    pinned_binary(name)
    key = binaries.BINARIES[name][0]
    line = binaries.version_line(name)
    assert binaries.upstream_version(line) == binaries.pinned_versions()[key], line


def test_upstream_version_reads_debian_and_upstream_version_lines() -> None:
    """The version parser drops Debian's suffix and rejects anything else."""
    assert binaries.upstream_version("prometheus, version 2.53.3+ds1 (branch: x)") == "2.53.3"
    assert binaries.upstream_version("alertmanager, version 0.28.1 (branch: HEAD)") == "0.28.1"
    with pytest.raises(ValueError, match="not a version line"):
        binaries.upstream_version("usage: prometheus [<flags>]")


def test_deployment_doc_states_the_tested_versions() -> None:
    """docs/deployment.md names the pinned versions and the image tags compose uses."""
    text = DEPLOYMENT_DOC.read_text(encoding="utf-8")
    v = binaries.pinned_versions()
    for key in ("PROMETHEUS_VERSION", "ALERTMANAGER_VERSION"):
        assert f"| {v[key]}" in text, f"the tested-versions table lacks {v[key]}"
    for image in compose_images().values():
        if image.startswith("prom/"):
            assert image in text, f"docs/deployment.md does not name {image}"
    stale = re.findall(r"prom/(?:prometheus|alertmanager):v[\d.]+", text)
    assert set(stale) <= set(compose_images().values())


def test_missing_binary_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the binaries, the lookup names the path, the version and the fetch command."""
    monkeypatch.delenv("PARICHAY_PROMTOOL_BIN", raising=False)
    monkeypatch.setenv("PARICHAY_TOOLS_DIR", str(tmp_path))
    with pytest.raises(binaries.BinaryNotFound) as exc:
        binaries.binary("promtool")
    message = str(exc.value)
    assert str(tmp_path / "bin" / "promtool") in message
    assert binaries.pinned_versions()["PROMETHEUS_VERSION"] in message
    assert "tools/fetch-binaries" in message and "PARICHAY_PROMTOOL_BIN" in message


@pytest.mark.binaries
@pytest.mark.fast_binaries
def test_environment_override_names_the_binary(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """PARICHAY_AMTOOL_BIN wins over the tools folder; a wrong path is reported as such."""
    real = pinned_binary("amtool")
    monkeypatch.setenv("PARICHAY_TOOLS_DIR", str(tmp_path))
    monkeypatch.setenv("PARICHAY_AMTOOL_BIN", str(tmp_path / "nope"))
    with pytest.raises(binaries.BinaryNotFound, match="PARICHAY_AMTOOL_BIN="):
        binaries.binary("amtool")
    monkeypatch.setenv("PARICHAY_AMTOOL_BIN", real)
    assert binaries.binary("amtool") == real


def grafana_minor() -> str:
    (tag,) = {
        image.rpartition(":")[2]
        for image in compose_images().values()
        if image.startswith("grafana/grafana")
    }
    return ".".join(tag.split(".")[:2])


def test_grafana_sdk_flavour_matches_the_grafana_compose_runs() -> None:
    """The installed grafana-foundation-sdk is the flavour of compose's Grafana minor release."""
    flavour = dist_version("grafana-foundation-sdk").partition("!")[2]
    assert ".".join(flavour.split(".")[:2]) == grafana_minor(), flavour


def test_pyproject_pins_the_sdk_flavour_of_compose_grafana() -> None:
    """pyproject.toml pins the SDK with `==epoch!<grafana minor>.0`, not an open bound."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    pins = re.findall(r'"grafana-foundation-sdk([^"]*)"', text)
    assert pins, "grafana-foundation-sdk is not a dependency"
    for spec in pins:
        assert re.fullmatch(r"==\d+!" + re.escape(grafana_minor()) + r"\.0", spec), spec


@pytest.mark.parametrize("path", sorted(DASHBOARDS.glob("*.json")), ids=lambda p: p.stem)
def test_dashboard_schema_version_is_the_sdk_flavours_and_grafana_reads_it(path: Path) -> None:
    """Generated dashboards carry the pinned SDK's schemaVersion, within compose Grafana's."""
    schema = json.loads(path.read_text(encoding="utf-8"))["schemaVersion"]
    assert schema == Dashboard().schema_version
    assert schema <= GRAFANA_MAX_SCHEMA[grafana_minor()]
