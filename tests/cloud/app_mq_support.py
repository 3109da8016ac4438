"""The app MQ's test broker: a real Mosquitto on a free loopback port, MQTT over TLS only.

A throwaway CA (generated here with ``cryptography``, valid for the test run) signs the broker's
certificate, which names 127.0.0.1: clients must verify the chain and the address, as the SDK's
``tls_set()`` does against the system trust store (the tests point ``SSL_CERT_FILE`` at the CA).
The broker accepts one login, the one the emulated config call hands out.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.mqtt.broker import MOSQUITTO, MosquittoBroker
from tuyagate.sim.app_mq import AppMqSettings

MQ_USER = "emu-mq-user"
MQ_PASSWORD = "emu-mq-password-0123"  # a test value, not a real secret


@dataclass(frozen=True)
class TestCa:
    ca_path: Path
    cert_path: Path
    key_path: Path


def make_test_ca(directory: Path, days: int = 2) -> TestCa:
    """A CA and a server certificate for 127.0.0.1 signed by it (keys: P-256)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tuyagate test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out = TestCa(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    out.ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    out.key_path.chmod(0o600)
    return out


@dataclass
class TlsBroker:
    broker: MosquittoBroker
    ca: TestCa

    @property
    def url(self) -> str:
        """The URL as the config call hands it out (the SDK's ``ssl://`` scheme)."""
        return f"ssl://{self.broker.host}:{self.broker.port}"

    def settings(self, ttl: float = 7200.0) -> AppMqSettings:
        return AppMqSettings(self.url, MQ_USER, MQ_PASSWORD, ca_file=str(self.ca.ca_path), ttl=ttl)


@contextlib.contextmanager
def running_tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    """The broker (skips the test when mosquitto is missing), stopped by PID at the end."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (Debian: apt-get install mosquitto)")
    ca = make_test_ca(tmp_path / "ca")
    broker = MosquittoBroker(
        tmp_path / "broker",
        users={MQ_USER: MQ_PASSWORD},
        extra=[f"certfile {ca.cert_path}", f"keyfile {ca.key_path}"],
    )
    with broker:
        yield TlsBroker(broker, ca)
