"""``tuyagate demo``: the gateway in front of a whole emulated home, in one process.

It starts the demo fleet (a dozen stock Tuya devices across protocol versions 3.1-3.5 on
127.0.1.x:6668, a Zigbee gateway with sub-devices and a cloud-only plug), an emulated Tuya
cloud sharing their state, an emulated Tasmota plug and an emulated ESPHome device; fills a
throw-away registry exactly as a user would (fleet import, stored cloud login, flashed devices
added by URL); and serves the gateway on top. Everything real except the hardware.

The gateway leaves its runtime file in the data directory (:mod:`tuyagate.cli.gateway_link`), so
the CLI pointed at that directory (``tuyagate demo`` uses the well-known :func:`demo_data_dir`
and prints the ``export TUYAGATE_DATA_DIR=...`` line) lists the demo's devices and drives them
through the gateway.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuyagate.cli.gateway_link import remove_runtime_file, write_runtime_file
from tuyagate.cloud.credentials import CloudCredentials
from tuyagate.devices.cloud_events import cloud_events
from tuyagate.devices.cloud_login import save_cloud_login
from tuyagate.devices.home import open_home
from tuyagate.devices.hub import Home, HubOptions
from tuyagate.devices.manifest_import import parse_fleet_manifest
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.tinytuya_import import write_import
from tuyagate.devices.vault import Vault

if TYPE_CHECKING:
    from tuyagate.cloud.pulsar import PulsarConsumer
    from tuyagate.gateway.server import ServedApp
    from tuyagate.mqtt.bridge import MqttBridge
    from tuyagate.mqtt.config import MqttConfig
    from tuyagate.sim.cloud_server import RunningCloud
    from tuyagate.sim.esphome_app import EspHomeSim
    from tuyagate.sim.fleet import SimFleet
    from tuyagate.sim.tasmota_app import TasmotaSim

__all__ = ["DemoWorld", "demo_data_dir"]

DEMO_CLOUD_CLIENT_ID = "tuyagatedemocloud"


def demo_data_dir() -> Path:
    """Where ``tuyagate demo`` keeps its throw-away registry: ``$XDG_RUNTIME_DIR/tuyagate-demo``
    (a per-user tmpfs on most Linux systems), else ``<tmp>/tuyagate-demo-<uid>``. Never the user's
    own data directory, so the demo cannot touch a real registry."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "tuyagate-demo"
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"tuyagate-demo-{uid}"


@dataclass
class DemoWorld:
    """Everything ``tuyagate demo`` runs; ``start()`` then ``stop()``."""

    host: str = "127.0.0.1"
    port: int = 8080
    fleet_ip: str = "127.0.1.1"
    fleet_port: int = 6668
    data_dir: Path | None = None
    options: HubOptions = field(default_factory=HubOptions)
    fleet: SimFleet | None = None
    cloud: RunningCloud | None = None
    tasmota: TasmotaSim | None = None
    esphome: EspHomeSim | None = None
    cloud_events: PulsarConsumer | None = None  # the emulated cloud's message service, feeding the hub
    registry: Registry | None = None
    hub: Home | None = None
    served: ServedApp | None = None
    mqtt: MqttConfig | None = None  # bridge the demo's devices to this broker too
    bridge: MqttBridge | None = None
    client_id: str = ""
    secret: str = field(default="", repr=False)
    _own_dir: bool = False

    async def start(self) -> None:
        from tuyagate.cloud.client import TuyaCloudClient
        from tuyagate.gateway.app import create_app
        from tuyagate.gateway.server import serve_app
        from tuyagate.gateway.settings import GatewaySettings
        from tuyagate.sim.cloud_server import start_cloud_server
        from tuyagate.sim.cloud_state import CloudConfig
        from tuyagate.sim.esphome import EspHomeConfig
        from tuyagate.sim.esphome_app import start_esphome
        from tuyagate.sim.fleet import SimFleet
        from tuyagate.sim.tasmota import TasmotaConfig
        from tuyagate.sim.tasmota_app import start_tasmota

        try:
            if self.data_dir is None:
                self.data_dir = Path(tempfile.mkdtemp(prefix="tuyagate-demo-"))
                self._own_dir = True
            manifest = SimFleet.demo(first_ip=self.fleet_ip, port=self.fleet_port)
            self.fleet = SimFleet(manifest)
            await self.fleet.start()
            cloud_secret = secrets.token_hex(16)
            self.cloud = await start_cloud_server(
                CloudConfig(client_id=DEMO_CLOUD_CLIENT_ID, secret=cloud_secret), manifest, backend=self.fleet.backend
            )
            self.tasmota = await start_tasmota(TasmotaConfig(relays=1, energy=True, name="Porch plug"))
            self.esphome = await start_esphome(EspHomeConfig(name="Garden pump"))

            self.registry = Registry.open(self.data_dir)
            vault = Vault.open(self.registry.db, self.data_dir)
            write_import(parse_fleet_manifest(manifest.to_dict()), self.registry, vault)
            for ident, name, backend, url in (
                ("tasmota-porch-plug", "Porch plug (Tasmota)", "tasmota", self.tasmota.url),
                ("esphome-garden-pump", "Garden pump (ESPHome)", "esphome", self.esphome.url),
            ):
                self.registry.add(
                    DeviceRecord(id=ident, name=name, backend=backend, category="cz", settings={"url": url})
                )
                vault.delete(secret_name(ident, "password"))
            creds = CloudCredentials(DEMO_CLOUD_CLIENT_ID, cloud_secret, base_url=self.cloud.base_url)
            save_cloud_login(self.registry, vault, creds)
            client = TuyaCloudClient(creds.client_id, creds.secret, base_url=creds.base_url, timeout=3.0, retries=1)
            self.hub = await open_home(self.data_dir, cloud=client, options=self.options)
            self.cloud_events = cloud_events(self.hub, creds)  # so the cloud-only plug changes live
            await self.cloud_events.start()

            self.client_id = "tuyagate" + secrets.token_hex(6)
            self.secret = secrets.token_hex(16)
            settings = GatewaySettings(
                host=self.host,
                port=self.port,
                data_dir=self.data_dir,
                cloud_client_id=self.client_id,
                cloud_client_secret=self.secret,
                # The dashboard's scan stays on loopback, where the emulated devices are.
                scan_listen="127.0.0.1",
                scan_probe="",
            )
            self.served = await serve_app(create_app(settings, self.hub, manage_manager=False))
            write_runtime_file(self.data_dir, self.served.url)  # the CLI goes through this gateway
            if self.mqtt is not None:
                from tuyagate.mqtt.bridge import MqttBridge

                self.bridge = MqttBridge(self.hub, self.mqtt)
                await self.bridge.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop everything that was started, newest first; remove the throw-away data."""
        if self.data_dir is not None:
            remove_runtime_file(self.data_dir)
        if self.bridge is not None:
            with contextlib.suppress(Exception):
                await self.bridge.close()
            self.bridge = None
        if self.served is not None:
            with contextlib.suppress(Exception):
                await self.served.stop()
            self.served = None
        if self.cloud_events is not None:
            await self.cloud_events.close()
            self.cloud_events = None
        if self.hub is not None:
            with contextlib.suppress(Exception):
                await self.hub.close()
        self.hub = None
        for sim in (self.esphome, self.tasmota, self.cloud):
            if sim is not None:
                with contextlib.suppress(Exception):
                    await sim.stop()
        self.esphome = self.tasmota = self.cloud = None
        if self.fleet is not None:
            await self.fleet.stop()
            self.fleet = None
        if self.registry is not None:
            self.registry.close()
            self.registry = None
        if self._own_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    @property
    def url(self) -> str:
        assert self.served is not None
        return self.served.url

    @property
    def cloud_base_url(self) -> str:
        assert self.cloud is not None
        return self.cloud.base_url

    def info(self) -> dict[str, Any]:
        """The first line ``tuyagate demo`` prints."""
        assert self.hub is not None
        info: dict[str, Any] = {
            "url": self.url,
            "client_id": self.client_id,
            "secret": self.secret,
            "devices": len(self.hub.devices()),
            "docs": self.url + "/docs",
            "data_dir": str(self.data_dir),
        }
        if self.mqtt is not None:
            info["mqtt"] = {"broker": self.mqtt.display_url, "node_id": self.mqtt.node_id}
        return info

    def examples(self) -> str:
        """Copy-pasteable commands for each API style, with real device ids."""
        assert self.hub is not None
        plug = self.hub.device("Desk plug").info.id
        light = self.hub.device("Living room light").info.id
        cellar = self.hub.device("Cellar plug (cloud only)").info.id
        url = self.url
        return "\n".join(
            [
                "",
                "tuyagate demo is running. Try, in another terminal:",
                "",
                "# native REST API",
                f"curl -s {url}/api/v1/devices",
                f"curl -s {url}/api/v1/devices/{plug}/status",
                f"curl -s -X POST {url}/api/v1/devices/{plug}/commands -H 'Content-Type: application/json' \\",
                '     -d \'{"commands":[{"code":"switch_1","value":true}]}\'',
                f"curl -s -X POST {url}/api/v1/devices/{light}/commands -H 'Content-Type: application/json' \\",
                '     -d \'{"commands":[{"code":"bright_value_v2","value":800}]}\'',
                f"curl -sN {url}/api/v1/events        # live events (Ctrl-C to stop)",
                "",
                "# the CLI, through the running gateway (the demo's registry is in its data dir)",
                f"export TUYAGATE_DATA_DIR={shlex.quote(str(self.data_dir))}",
                "tuyagate devices list",
                "tuyagate status 'Desk plug'",
                "tuyagate set 'Desk plug' switch_1=true",
                "tuyagate watch 'Desk plug'          # live pushes (Ctrl-C to stop)",
                "",
                "# the cloud-only plug, switched by hand: the emulated cloud pushes it, the events above show it",
                f"curl -s -X POST {self.cloud_base_url}/_sim/devices/{cellar} -d " + """'{"dps":{"1":true}}'""",
                "",
                "# Tasmota-compatible API",
                f"curl -s '{url}/tasmota/{plug}/cm?cmnd=Power%20Toggle'",
                "",
                "# Tuya-cloud-compatible API (signed like the Tuya OpenAPI; tuyagate signs for you)",
                f"tuyagate cloud call GET /v1.0/devices/{plug}/status --base-url {url} \\",
                f"     --client-id {self.client_id} --secret {self.secret}",
                "",
                *self._mqtt_examples(plug),
                f"Dashboard: {url}/      API explorer: {url}/docs      Metrics: {url}/metrics      Stop: Ctrl-C",
            ]
        )

    def _mqtt_examples(self, plug: str) -> list[str]:
        if self.mqtt is None:
            return []
        broker = f"-h {self.mqtt.host} -p {self.mqtt.port}"
        prefix = self.mqtt.prefix
        return [
            "# MQTT (Home Assistant: add the MQTT integration for this broker; the devices appear by themselves)",
            f"mosquitto_sub {broker} -v -t '{prefix}/#'",
            f"mosquitto_pub {broker} -t '{prefix}/{plug}/set' -m '{{\"switch_1\": true}}'",
            "",
        ]
