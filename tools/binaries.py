"""The Prometheus and Alertmanager binaries that tests and benchmarks run: one lookup.

The versions are pinned in `tools/versions.env`, the same ones docker-compose.yml ships.
`tools/fetch-binaries` (run by `make test` and `.ci/run`) installs them into `.tools/bin`;
Alertmanager there is `tools/alertmanager-with-assets`, which gives the real binary the files
of its own package (docs/e2e.md).
Where they live elsewhere, an environment variable per binary names the path:

    PARICHAY_PROMETHEUS_BIN=/opt/prometheus-2.53.3/prometheus pytest tests/e2e

Debian 12's own packages (Prometheus 2.42, Alertmanager 0.25) are deliberately not used as
a fallback: the tests would then pass on releases that compose does not ship.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VERSIONS_FILE = REPO / "tools" / "versions.env"

# binary -> (versions.env key of its upstream version, environment override)
BINARIES: dict[str, tuple[str, str]] = {
    "prometheus": ("PROMETHEUS_VERSION", "PARICHAY_PROMETHEUS_BIN"),
    "promtool": ("PROMETHEUS_VERSION", "PARICHAY_PROMTOOL_BIN"),
    "prometheus-alertmanager": ("ALERTMANAGER_VERSION", "PARICHAY_ALERTMANAGER_BIN"),
    "amtool": ("ALERTMANAGER_VERSION", "PARICHAY_AMTOOL_BIN"),
}

_VERSION_LINE = re.compile(r"^\S+, version (\d+(?:\.\d+)*)")


class BinaryNotFound(RuntimeError):
    """A pinned binary is not installed where the lookup expects it."""


def pinned_versions() -> dict[str, str]:
    """`tools/versions.env` as a dict (KEY=value lines; `#` comments)."""
    values: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def tools_dir() -> Path:
    """Where `tools/fetch-binaries` installs (PARICHAY_TOOLS_DIR, default `.tools/`)."""
    return Path(os.environ.get("PARICHAY_TOOLS_DIR") or REPO / ".tools")


def binary(name: str) -> str:
    """Path of a pinned binary, or BinaryNotFound saying how to install it."""
    version_key, env = BINARIES[name]
    override = os.environ.get(env)
    path = Path(override) if override else tools_dir() / "bin" / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        where = f"{env}={override}" if override else str(path)
        raise BinaryNotFound(
            f"`{name}` {pinned_versions()[version_key]} not found at {where}: run "
            f"`tools/fetch-binaries` (make test and .ci/run do), or set {env} to its path"
        )
    return str(path)


def version_line(name: str) -> str:
    """The first line of `<binary> --version`, e.g. `prometheus, version 2.53.3+ds1 (...)`."""
    result = subprocess.run(
        [binary(name), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    # Alertmanager and amtool print their version on stderr.
    return (result.stdout or result.stderr).strip().splitlines()[0]


def upstream_version(line: str) -> str:
    """`prometheus, version 2.53.3+ds1 (...)` -> `2.53.3` (Debian's suffix dropped)."""
    match = _VERSION_LINE.match(line)
    if match is None:
        raise ValueError(f"not a version line: {line!r}")
    return match.group(1)
