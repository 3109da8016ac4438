"""The broker link alone (tuyagate.mqtt.link, on gmqtt) against a real Mosquitto: TLS with a CA file,
refused logins, and a lost connection, which must end the link (the bridge reconnects, not gmqtt)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.mqtt.broker import MOSQUITTO, MosquittoBroker, free_port
from tests.mqtt.certs import TlsFiles, make_tls_files
from tests.mqtt.conftest import SKIP_REASON
from tests.mqtt.watch import Watcher
from tuyagate.mqtt.config import parse_mqtt_url
from tuyagate.mqtt.errors import LinkError
from tuyagate.mqtt.link import MqttLink, Will
from tuyagate.mqtt.outbox import Outbox, Stats

pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason=SKIP_REASON)


def _tls_broker(directory: Path, tls: TlsFiles, tls_port: int) -> MosquittoBroker:
    """A broker with a plain listener (for the watcher) and a TLS one with the test authority's certificate."""
    extra = [f"listener {tls_port} 127.0.0.1", f"certfile {tls.cert}", f"keyfile {tls.key}"]
    return MosquittoBroker(directory, extra=extra)


async def test_mqtts_with_a_ca_file_connects_and_a_foreign_ca_is_refused(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    other = make_tls_files(tmp_path / "other")  # an authority that did not sign the broker's certificate
    tls_port = free_port()
    with _tls_broker(tmp_path / "broker", tls, tls_port) as broker:
        async with Watcher(broker.port, ("tls/#",)) as watcher:
            config = parse_mqtt_url(f"mqtts://127.0.0.1:{tls_port}?ca={tls.ca}&node_id=tls")
            async with MqttLink(config) as link:
                await link.publish("tls/hello", b"over TLS", qos=1, retain=True)
            assert await watcher.wait("tls/hello") == b"over TLS"

        refused = parse_mqtt_url(f"mqtts://127.0.0.1:{tls_port}?ca={other.ca}&node_id=tls")
        with pytest.raises(LinkError, match=r"cannot connect.*certificate verify failed"):
            async with MqttLink(refused):
                pass


async def test_a_refused_login_is_a_link_error_that_does_not_show_the_password(tmp_path: Path) -> None:
    with MosquittoBroker(tmp_path / "broker", users={"gateway": "right"}) as broker:
        config = parse_mqtt_url(f"mqtt://gateway:wrong-secret@127.0.0.1:{broker.port}?node_id=login")
        with pytest.raises(LinkError, match="cannot connect to the MQTT broker") as caught:
            async with MqttLink(config):
                pass
        assert "wrong-secret" not in str(caught.value)
        assert "***" in str(caught.value)


async def test_a_lost_connection_ends_the_link_and_gmqtt_reports_no_error_of_its_own(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with MosquittoBroker(tmp_path / "broker") as broker:
        config = parse_mqtt_url(broker.url + "?node_id=lost")
        async with Watcher(broker.port, ("lost/#",)) as watcher, MqttLink(config, Will("lost/will", "gone")) as link:
            await link.subscribe(["lost/in"])
            await watcher.publish("lost/in", b"hello")
            messages = link.messages()
            first = await asyncio.wait_for(anext(messages), 10)
            assert (first.topic, first.payload, first.retain) == ("lost/in", b"hello", False)

            broker.stop()
            with pytest.raises(LinkError, match="lost the MQTT broker"):
                await asyncio.wait_for(anext(messages), 10)
            with pytest.raises(LinkError, match="connection broke"):
                await link.publish("lost/after", b"x", qos=1)
    # gmqtt's own reconnect is off, so it has nothing to give up on: no ERROR from it (nor from us).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_state_that_cannot_be_built_is_skipped_and_the_others_still_go_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def build(kind: str, device_id: str) -> bytes:
        if device_id == "broken":
            raise ValueError("Out of range float values are not JSON compliant")
        return b'{"switch_1":true}'

    with MosquittoBroker(tmp_path / "broker") as broker:
        config = parse_mqtt_url(broker.url + "?node_id=outbox")
        async with Watcher(broker.port, ("out/#",)) as watcher, MqttLink(config) as link:
            stats = Stats()
            outbox = Outbox(link, publishers=2, topic_for=lambda k, d: f"out/{d}/{k}", build=build, stats=stats)
            try:
                outbox.state("broken")  # runs inside the bridge's bus reader: it must not raise
                outbox.state("fine")
                await asyncio.wait_for(outbox.drained(), 10)
                assert await watcher.wait("out/fine/state") == b'{"switch_1":true}'
            finally:
                await outbox.close()
    assert (stats.state_messages, stats.publish_errors) == (1, 0)
    assert "out/broken/state" not in watcher.latest
    assert any("the state of broken cannot be published" in r.getMessage() for r in caplog.records)
