"""`parichay-exporter run` uses uvloop when installed and asyncio's loop when told to, and
keeps the garbage collector's full passes short."""

from __future__ import annotations

import asyncio
import gc

import pytest

from exporter.app import run_loop, settle_heap


def _loop_module() -> str:
    seen: list[str] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()).__module__)

    run_loop(main())
    return seen[0]


def test_uvloop_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the `speed` extra (installed for development) the service runs on uvloop."""
    monkeypatch.delenv("PARICHAY_EVENT_LOOP", raising=False)
    assert _loop_module().startswith("uvloop")


def test_pure_asyncio_fallback_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """PARICHAY_EVENT_LOOP=asyncio runs the service on asyncio's own loop."""
    monkeypatch.setenv("PARICHAY_EVENT_LOOP", "asyncio")
    assert _loop_module().startswith("asyncio")


def test_malloc_threshold_is_fixed_on_glibc() -> None:
    """On glibc (Debian, the image) the service pins malloc's mmap threshold, so freed
    256 KiB TLS buffers go back to the system instead of growing the heap."""
    from exporter.app import fix_mmap_threshold

    assert fix_mmap_threshold() is True


def test_settle_heap_freezes_what_lives_and_still_collects_new_cycles() -> None:
    """After start-up the living objects are frozen (a full collection no longer walks
    them), while cycles that die later are still collected."""
    class Node:
        other: object = None

    try:
        settle_heap()
        frozen = gc.get_freeze_count()
        assert frozen > 1000
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
