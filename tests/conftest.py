"""Shared pytest hooks: the run's header, children that die with the run, honest markers.

- **Children die with the run.** SIGTERM (from `timeout`, CI, a shell) becomes the same
  interrupt as Ctrl-C, so fixtures tear down and stop their servers; whatever is still
  registered in `tests.support.reaper` is SIGKILLed when the run ends. A run killed outright
  (SIGKILL) takes its servers along through the parent-death signal (`reaper.popen`).
- **Markers say what a test needs** (docs/e2e.md, "Test tiers"): `binaries` (the pinned
  prometheus, promtool, prometheus-alertmanager or amtool), `browser` (chromium), `e2e`.
  Every lookup of a pinned binary (`tools.binaries.binary`) and every chromium launch through
  Playwright is recorded against the test, or the fixture, that made it; a test that needed
  one without carrying the marker fails at teardown. A fixture's use counts for every test
  that requests it, so a session fixture shared by many tests cannot hide the need.
"""

from __future__ import annotations

import os
import signal
import types
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserType

from tests.support import reaper
from tools import binaries

# --------------------------------------------------------------------------- header


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Print the versions of the real binaries this run uses, so CI logs show them."""
    lines = []
    for name in binaries.BINARIES:
        try:
            lines.append(binaries.version_line(name))
        except binaries.BinaryNotFound as exc:
            lines.append(str(exc))
    return lines


# --------------------------------------------------------------------------- cleanup


def _sigterm(signum: int, frame: types.FrameType | None) -> None:
    # Once: a second SIGTERM during teardown ends the process (the parent-death signal
    # still takes the children along).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    signal.signal(signal.SIGTERM, _sigterm)
    _install_usage_probes()


def pytest_unconfigure(config: pytest.Config) -> None:
    reaper.kill_all()


# --------------------------------------------------------------------------- markers

# A use of a pinned binary is recorded as "binaries:<name>", a chromium launch as "browser".
_recorders: list[set[str]] = []
_fixture_uses: dict[tuple[str, str], set[str]] = {}
_item_uses: dict[str, set[str]] = {}
_FAST_BINARIES = {"promtool", "amtool"}


def _record(use: str) -> None:
    for rec in _recorders:
        rec.add(use)


def _drop(uses: set[str]) -> None:
    # By identity: two recorders with the same uses compare equal.
    for i, rec in enumerate(_recorders):
        if rec is uses:
            del _recorders[i]
            return


def _install_usage_probes() -> None:
    if getattr(binaries.binary, "_records_use", False):
        return
    original_binary = binaries.binary

    def binary(name: str) -> str:
        path = original_binary(name)  # a lookup that fails (BinaryNotFound) ran nothing
        _record(f"binaries:{name}")
        return path

    binary._records_use = True  # type: ignore[attr-defined]
    binaries.binary = binary

    original_launch: Callable[..., Any] = BrowserType.launch

    async def launch(self: BrowserType, *args: Any, **kwargs: Any) -> Any:
        _record("browser")
        return await original_launch(self, *args, **kwargs)

    BrowserType.launch = launch  # type: ignore[method-assign]


def _fixture_key(fixturedef: pytest.FixtureDef[Any]) -> tuple[str, str]:
    return (fixturedef.baseid, fixturedef.argname)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    uses: set[str] = set()
    _recorders.append(uses)
    try:
        return (yield)
    finally:
        _drop(uses)
        if uses:
            _fixture_uses.setdefault(_fixture_key(fixturedef), set()).update(uses)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    uses = _item_uses.setdefault(item.nodeid, set())
    _recorders.append(uses)
    try:
        return (yield)
    finally:
        _drop(uses)
        _item_uses.pop(item.nodeid, None)


def _uses_of(item: pytest.Item) -> set[str]:
    uses = set(_item_uses.get(item.nodeid, ()))
    fixtureinfo = getattr(item, "_fixtureinfo", None)
    if fixtureinfo is not None:
        for name in fixtureinfo.names_closure:
            for fixturedef in fixtureinfo.name2fixturedefs.get(name, ()):
                uses |= _fixture_uses.get(_fixture_key(fixturedef), set())
    return uses


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    uses = _uses_of(item)
    marks = {m.name for m in item.iter_markers()}
    if report := os.environ.get("PARICHAY_TEST_USES"):
        # One line per test: what it used, and its tier markers (to audit the markers).
        tiers = sorted(marks & {"binaries", "fast_binaries", "browser", "e2e", "lint"})
        with open(report, "a", encoding="utf-8") as out:
            out.write(f"{item.nodeid}\t{','.join(sorted(uses))}\t{','.join(tiers)}\n")
    missing = []
    names = sorted(u.split(":", 1)[1] for u in uses if u.startswith("binaries:"))
    if names and "binaries" not in marks:
        missing.append(f"`binaries` (it ran {', '.join(names)})")
    if "browser" in uses and "browser" not in marks:
        missing.append("`browser` (it launched chromium)")
    if missing:
        pytest.fail(
            f"{item.nodeid} needs the marker {' and '.join(missing)}: add it "
            "(module-level `pytestmark` where the whole module needs it; docs/e2e.md)",
            pytrace=False,
        )
    if "fast_binaries" in marks:
        if "binaries" not in marks:
            pytest.fail(f"{item.nodeid}: `fast_binaries` goes with `binaries`", pytrace=False)
        slow = sorted(set(names) - _FAST_BINARIES)
        if slow:
            pytest.fail(
                f"{item.nodeid} is marked `fast_binaries` but ran {', '.join(slow)}: only "
                "promtool and amtool belong in `make check`",
                pytrace=False,
            )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`--dist loadgroup`, as `make test` runs): a module's tests stay on
    one worker, so a module-scoped fixture (a backfilled Prometheus) starts once; every
    end-to-end test shares one group, so one worker runs them one after another and no two
    alerting chains compete for the cores while their timings are measured."""
    root = Path(str(config.rootpath))
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        path = Path(str(item.path)).resolve()
        group = "e2e" if item.get_closest_marker("e2e") else str(path.relative_to(root))
        item.add_marker(pytest.mark.xdist_group(group))
