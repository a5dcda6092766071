"""Loopback addresses for tests: the one host every test server binds, and `free_port`."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1, for a process that needs it in its config.

    The port is released before it is returned, so another process could take it first;
    servers that can report the port they bound (`port 0`) should do that instead.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])
