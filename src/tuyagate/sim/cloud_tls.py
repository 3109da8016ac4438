"""A self-signed certificate for the cloud emulator's HTTPS mode.

Clients that insist on https (tinytuya's ``Cloud``) reach the emulator by trusting this one
certificate: ``REQUESTS_CA_BUNDLE=<cert>`` for requests, ``SSL_CERT_FILE`` or
``verify=<cert>`` for httpx. It is its own CA (``CA:TRUE``, self-issued) so OpenSSL accepts
it as a trust anchor, and names ``127.0.0.1``, ``::1`` and ``localhost``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["SelfSignedCert", "make_self_signed_cert"]


@dataclass(frozen=True, slots=True)
class SelfSignedCert:
    cert_path: Path
    key_path: Path
    directory: Path


def make_self_signed_cert(directory: str | os.PathLike[str] | None = None, *, days: int = 30) -> SelfSignedCert:
    """Write ``cert.pem`` and ``key.pem`` (mode 0600) into ``directory`` (default: a new temp dir)."""
    where = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="tuyagate-cloud-tls-"))
    where.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = where / "cert.pem"
    key_path = where / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return SelfSignedCert(cert_path=cert_path, key_path=key_path, directory=where)
