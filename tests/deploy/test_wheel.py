"""The wheel a production install gets: no extras, so no simulator dependencies.

How the fresh venv gets its runtime dependencies without the network: it is created with
``python -m venv --without-pip`` and a ``.pth`` file names a directory of symlinks to the
test venv's installed distributions, minus ``trustme`` (the only dependency of the
``demo`` extra) and minus the project's own editable install. The wheel is then installed
into it with ``--no-deps --no-index`` by the test venv's pip (``pip --python``), which also
writes the console scripts. So ``import trustme`` genuinely fails in that venv, and the
project is imported from the wheel, not from the checkout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The distribution's packages, as pyproject's find list names them.
PACKAGES = tuple(
    pattern.rstrip("*")
    for pattern in tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["packages"]["find"]["include"]
)
# Distributions the production venv must not see: the demo extra, and the checkout itself.
HIDDEN_PREFIXES = ("trustme", "__editable__", "parichay_exporter", "_parichay_exporter")


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _production_venv(tmp_path: Path) -> Path:
    """A venv whose site-packages sees the test venv's packages except trustme and the project."""
    venv = tmp_path / "venv"
    made = _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    deps = tmp_path / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(HIDDEN_PREFIXES) and not entry.name.endswith(".pth"):
            (deps / entry.name).symlink_to(entry)
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (site / "runtime-deps.pth").write_text(f"{deps}\n", encoding="utf-8")
    return venv


def test_a_wheel_without_extras_checks_a_config_and_never_imports_trustme(
    tmp_path: Path,
) -> None:
    """`pip wheel .` installed without extras: check-config works, trustme is neither
    installed nor imported, and `demo` says how to install the extra instead of a traceback."""
    # Built from a copy of what the Dockerfile copies, so setuptools' build/ and egg-info
    # never land in the checkout (a stale build/lib would also leak into later wheels).
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    wheels = tmp_path / "wheels"
    built = _run(
        sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
        "-q", "-w", wheels, cwd=source,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("parichay_exporter-*.whl")
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {"exporter", "simulator", "smsbridge", "servicekit", "statuspage"} <= set(PACKAGES)
    assert set(PACKAGES) <= top_level
    assert "tests" not in top_level and "bench" not in top_level
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA"))
    ).decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    trustme = [line for line in requires if "trustme" in line]
    assert trustme and all("extra == \"demo\"" in line for line in trustme), trustme

    venv = _production_venv(tmp_path)
    python = venv / "bin" / "python"
    installed = _run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        "-q", wheel, cwd=tmp_path,
    )
    assert installed.returncode == 0, installed.stderr

    # Run from tmp_path, so the checkout is not on sys.path: the code comes from the wheel.
    where = _run(python, "-c", "import exporter; print(exporter.__file__)", cwd=tmp_path)
    assert str(venv) in where.stdout, where.stdout + where.stderr
    no_trustme = _run(python, "-c", "import trustme", cwd=tmp_path)
    assert "No module named 'trustme'" in no_trustme.stderr

    # The shipped config as is, its mounted secret files replaced by dummies in tmp_path.
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    text = (REPO / "config" / "exporter.yml").read_text(encoding="utf-8")
    for name in set(re.findall(r"/run/secrets/([\w.-]+)", text)):
        (secrets / name).write_text("a-dummy-secret-of-32-characters!\n", encoding="utf-8")
    config = tmp_path / "exporter.yml"
    config.write_text(text.replace("/run/secrets", str(secrets)), encoding="utf-8")
    checked = _run(venv / "bin" / "parichay-exporter", "check-config", config, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    imported = _run(
        python, "-c",
        "import sys, exporter.cli, smsbridge.cli, statuspage.cli; "
        "assert 'trustme' not in sys.modules, 'trustme imported'",
        cwd=tmp_path,
    )
    assert imported.returncode == 0, imported.stderr

    for command in ("demo", "simulate"):
        refused = _run(venv / "bin" / "parichay-exporter", command, cwd=tmp_path)
        assert refused.returncode == 1, (command, refused.stdout, refused.stderr)
        assert "pip install 'parichay-exporter[demo]'" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr, refused.stderr
