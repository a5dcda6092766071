"""TLS for the probes: the shared SSL contexts, and the leaf certificate's expiry.

`make_ssl_context()` gives a verifying context (or, when a target says
`insecure_skip_verify`, one with no trust store at all), cached because loading a CA bundle
costs tens of milliseconds of CPU. `cert_not_after()` reads the expiry of the certificate a
server presented, from its DER bytes (`der_not_after()`), also when verification was
skipped; the probes report it as `parichay_cert_not_after_seconds`.
"""

from __future__ import annotations

import functools
import os
import ssl
from datetime import UTC, datetime

from exporter.config import TLSConfig


def cert_not_after(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> float | None:
    """Leaf certificate expiry (epoch seconds), also when verification was skipped."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    try:
        return der_not_after(der)
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def _der(data: bytes, pos: int) -> tuple[int, int, int]:
    """The DER element at `pos`: (tag, where its content starts, where it ends)."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


@functools.lru_cache(maxsize=1024)  # targets present the same certificate probe after probe
def der_not_after(der: bytes) -> float:
    """`notAfter` of a DER certificate (RFC 5280 4.1), in epoch seconds.

    Read by hand: the `cryptography` package would add 6 MiB to the running exporter for
    this one field."""
    _, tbs, _ = _der(der, 0)  # Certificate ::= SEQUENCE { tbsCertificate, ... }
    _, pos, _ = _der(der, tbs)  # into tbsCertificate
    tag, _, end = _der(der, pos)
    if tag == 0xA0:  # [0] EXPLICIT version
        pos = end
    for _ in range(3):  # serialNumber, signature, issuer
        _, _, pos = _der(der, pos)
    _, validity, _ = _der(der, pos)  # Validity ::= SEQUENCE { notBefore, notAfter }
    _, _, pos = _der(der, validity)
    tag, start, end = _der(der, pos)
    text = der[start:end].decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ: 50-99 are 1950-1999
        year, rest = int(text[:2]), text[2:]
        year += 1900 if year >= 50 else 2000
    elif tag == 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        year, rest = int(text[:4]), text[4:]
    else:
        raise ValueError(f"not a time (tag {tag:#x})")
    if len(rest) != 11 or rest[-1] != "Z":
        raise ValueError(f"unexpected time format {text!r}")
    month, day, hour, minute, second = (int(rest[i : i + 2]) for i in range(0, 10, 2))
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def make_ssl_context(tls: TLSConfig | None) -> ssl.SSLContext:
    """A verifying context (or an explicitly insecure one), shared between probes.

    Loading a CA bundle costs tens of milliseconds of CPU, so contexts are cached; the CA
    file's modification time is part of the key, so a rotated CA takes effect at once.
    """
    tls = tls or TLSConfig()
    mtime = 0.0
    if tls.ca_file:
        try:
            mtime = os.stat(tls.ca_file).st_mtime
        except OSError:
            mtime = -1.0
    return _ssl_context(tls.ca_file, mtime, tls.insecure_skip_verify)


@functools.lru_cache(maxsize=64)
def _ssl_context(ca_file: str | None, mtime: float, insecure: bool) -> ssl.SSLContext:
    if insecure:
        # No trust store at all: OpenSSL still walks the chain against a loaded store when
        # told not to verify (to report the result), which costs a third of the handshake's
        # CPU (0.24 of 0.76 ms with the system CAs, measured). Same protocol defaults.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=ca_file)
