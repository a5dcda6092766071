"""Children die with the test run: the parent-death signal and a registry of live servers.

Every long-running server the harness starts (`stack.Proc.spawn`) goes through `popen`:

- the child asks the kernel for SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG), so a
  pytest killed outright (SIGKILL, an OOM kill) takes Prometheus, the Alertmanagers and the
  bridge with it. The kernel sends that signal when the *thread* that forked the child exits,
  not the process: a child spawned from a short-lived thread (`asyncio.to_thread`) would be
  killed when that thread ends. So children are forked from the main thread, or else from
  one spawner thread that lives as long as the process;
- `kill_all` (tests/conftest.py calls it at the end of the run, and at interpreter exit)
  SIGKILLs whatever is still registered and alive, by PID: a SIGTERM or Ctrl-C that ends the
  run in the middle of a fixture still leaves nothing behind.

The signal survives `exec`, so it reaches the real binary behind the Alertmanager wrapper
(`unshare ... sh -c 'exec ...'`, which forks nothing).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_live: set[subprocess.Popen[bytes]] = set()
_lock = threading.Lock()
_spawner: ThreadPoolExecutor | None = None


def _die_with_parent() -> None:
    """In the child, between fork and exec: SIGKILL when the forking thread goes away."""
    if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The parent may have died between fork and prctl: then nobody will signal us.
    if os.getppid() == 1:
        os._exit(1)


def _popen(args: list[str], kwargs: dict[str, Any]) -> subprocess.Popen[bytes]:
    proc: subprocess.Popen[bytes] = subprocess.Popen(
        args, preexec_fn=_die_with_parent, **kwargs
    )
    with _lock:
        _live.difference_update([p for p in _live if p.poll() is not None])
        _live.add(proc)
    return proc


def popen(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen` whose child is SIGKILLed when this process dies, and is registered
    for `kill_all`. Forked from the main thread, or from the long-lived spawner thread."""
    global _spawner
    if threading.current_thread() is threading.main_thread():
        return _popen(args, kwargs)
    with _lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reaper-spawner")
        spawner = _spawner
    return spawner.submit(_popen, args, kwargs).result()


def live_pids() -> list[int]:
    """PIDs of registered children that have not exited."""
    with _lock:
        return [p.pid for p in _live if p.poll() is None]


def kill_all() -> list[int]:
    """SIGKILL every registered child still running (by PID) and reap it; returns the PIDs."""
    with _lock:
        procs = list(_live)
        _live.clear()
    killed = []
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
            killed.append(p.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(5)
    return killed


atexit.register(kill_all)
