"""TLS material of the simulator: one trustme CA, a valid leaf certificate for the
loopback names and an expired leaf from the same CA, and the server contexts that pick
between them per handshake.
The expired certificate is chosen in the context's ``sni_callback``, which OpenSSL calls
for every ClientHello (also when a client connecting to an IP address sends no server
name), so switching an app to ``cert_expired`` takes effect on the next connection
without re-binding the port.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable

import trustme

LEAF_NAMES: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")


class TlsMaterial:
    """A CA plus valid and expired server certificates for ``LEAF_NAMES`` (and ``host``)."""

    def __init__(self, *, host: str) -> None:
        names = list(LEAF_NAMES)
        if host not in names and host not in ("0.0.0.0", "::", ""):
            names.append(host)
        self.ca = trustme.CA(organization_name="Parichay simulator (test only)")
        self.leaf = self.ca.issue_cert(*names)
        now = dt.datetime.now(dt.UTC)
        self.expired_leaf = self.ca.issue_cert(
            *names,
            not_before=now - dt.timedelta(days=400),
            not_after=now - dt.timedelta(days=1),
        )

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate in PEM, for clients' trust stores."""
        return self.ca.cert_pem.bytes()

    def server_context(self, *, expired: Callable[[], bool]) -> ssl.SSLContext:
        """A server context serving the expired leaf whenever ``expired()`` is true."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.leaf.configure_cert(ctx)
        expired_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.expired_leaf.configure_cert(expired_ctx)

        def choose(
            conn: ssl.SSLObject | ssl.SSLSocket, _name: str | None, _ctx: ssl.SSLContext
        ) -> None:
            if expired():
                conn.context = expired_ctx

        ctx.sni_callback = choose
        return ctx
