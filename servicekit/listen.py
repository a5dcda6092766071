"""The one parser of listen addresses (`HOST:PORT`) for every service and flag.

`0.0.0.0:10071`, `127.0.0.1:0` (any free port), `[::1]:10072`, `localhost:10073`. An
empty host (`:10071`) means every IPv4 interface. The port is required.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final, NamedTuple

_LABEL: Final = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


class ListenAddress(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def is_host(text: str) -> bool:
    """True for an IP literal or a syntactically valid DNS name."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    return bool(text) and all(_LABEL.fullmatch(label) for label in labels)


def parse_listen(text: str, *, example: str = "0.0.0.0:10071") -> ListenAddress:
    """Split `HOST:PORT` (IPv6 in brackets); ValueError saying what is wrong and an example."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT such as {example}, got {text!r}")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if bare and not is_host(bare):
        raise ValueError(f"not a host name or IP address: {host!r}")
    return ListenAddress(bare or "0.0.0.0", int(port))
