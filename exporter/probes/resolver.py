"""Name resolution for the probes: an IP literal as is, a host name through the system
resolver.

`resolve()` is the *resolve* phase of every connection `open_timed()` makes
(`exporter/probes/transport.py`), and the dns probe's view of the system resolver. An IP
literal is used as is: no `getaddrinfo`, no thread hop. A name goes through the system
resolver, a blocking call that asyncio runs in a thread.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket


@functools.lru_cache(maxsize=4096)
def ip_literal(host: str) -> bool:
    """True for '127.0.0.1', '::1' and the like: nothing to resolve."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def resolve(host: str, port: int, *, family: int = socket.AF_UNSPEC) -> list[str]:
    """Resolve `host` to unique addresses in resolver order; raises socket.gaierror.

    An IP literal comes back as is, with no resolver round trip (and no thread hop)."""
    if ip_literal(host):
        return [host.strip("[]")]
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for info in infos:
        seen.setdefault(str(info[4][0]), None)
    return list(seen)
