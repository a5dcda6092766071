"""The certificate's notAfter is read from DER without the cryptography package."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from exporter.probes.tls import der_not_after


def _cert(not_after: datetime) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "parichay.example")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(1990, 1, 1, tzinfo=UTC))
        .not_valid_after(not_after)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    "not_after",
    [
        datetime(2027, 3, 31, 23, 59, 59, tzinfo=UTC),  # UTCTime
        datetime(1999, 12, 31, 0, 0, 1, tzinfo=UTC),  # UTCTime, 19xx, long expired
        datetime(2061, 7, 4, 12, 30, 0, tzinfo=UTC),  # GeneralizedTime (2050 and later)
    ],
)
def test_not_after_matches_cryptography(not_after: datetime) -> None:
    """The hand-read expiry equals what cryptography parses, for both ASN.1 time types."""
    der = _cert(not_after)
    expected = x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
    assert der_not_after(der) == expected == not_after.timestamp()


def test_garbage_is_an_error_not_a_wrong_date() -> None:
    """Truncated or foreign bytes raise ValueError/IndexError (the probe then reports no
    expiry) instead of yielding a made-up timestamp."""
    der = _cert(datetime.now(UTC) + timedelta(days=30))
    with pytest.raises((ValueError, IndexError)):
        der_not_after(der[:40])
    with pytest.raises((ValueError, IndexError)):
        der_not_after(b"\x30\x03\x02\x01\x01")
