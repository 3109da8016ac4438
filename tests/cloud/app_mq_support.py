"""The app MQ's test broker: a real Mosquitto on a free loopback port, MQTT over TLS only.

A throwaway CA (``tests.mqtt.certs``, generated with ``cryptography`` for the test run) signs the broker's
certificate, which names 127.0.0.1: clients must verify the chain and the address, as the SDK's
``tls_set()`` does against the system trust store (the tests point ``SSL_CERT_FILE`` at the CA).
The broker accepts one login, the one the emulated config call hands out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.mqtt.broker import MOSQUITTO, MosquittoBroker
from tests.mqtt.certs import TlsFiles, make_tls_files
from tuyagate.sim.app_mq import AppMqSettings

MQ_USER = "emu-mq-user"
MQ_PASSWORD = "emu-mq-password-0123"  # a test value, not a real secret


@dataclass
class TlsBroker:
    broker: MosquittoBroker
    ca: TlsFiles

    @property
    def url(self) -> str:
        """The URL as the config call hands it out (the SDK's ``ssl://`` scheme)."""
        return f"ssl://{self.broker.host}:{self.broker.port}"

    def settings(self, ttl: float = 7200.0) -> AppMqSettings:
        return AppMqSettings(self.url, MQ_USER, MQ_PASSWORD, ca_file=str(self.ca.ca), ttl=ttl)


@contextlib.contextmanager
def running_tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    """The broker (skips the test when mosquitto is missing), stopped by PID at the end."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (Debian: apt-get install mosquitto)")
    ca = make_tls_files(tmp_path / "ca")
    broker = MosquittoBroker(
        tmp_path / "broker",
        users={MQ_USER: MQ_PASSWORD},
        extra=[f"certfile {ca.cert}", f"keyfile {ca.key}"],
    )
    with broker:
        yield TlsBroker(broker, ca)
