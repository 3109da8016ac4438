"""The bridge's parts without a broker: URLs and config, topics, command parsing, coalescing, light rules."""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tuyagate.device_api import DeviceInfo
from tuyagate.errors import ConfigError, ValidationError
from tuyagate.mqtt.commands import CommandError, parse_command
from tuyagate.mqtt.config import MqttConfig, load_mqtt_config, parse_mqtt_url, redact_url, with_vault_password
from tuyagate.mqtt.discovery.light import light_dps, prepare_light_command
from tuyagate.mqtt.discovery.view import DeviceView
from tuyagate.mqtt.state import Coalescer
from tuyagate.mqtt.topics import Topics, object_id
from tuyagate.schema import DpDef, DpSchema, DpType


def test_urls_name_broker_credentials_and_options() -> None:
    config = parse_mqtt_url("mqtt://ha%40home:p%3Ass@broker.lan:1884?node_id=site-a&prefix=tg&discovery=false")
    assert (config.host, config.port, config.tls) == ("broker.lan", 1884, False)
    assert (config.username, config.password) == ("ha@home", "p:ss")
    assert (config.node_id, config.prefix, config.discovery) == ("site-a", "tg", False)
    assert config.identifier == "tuyagate-site-a"
    tls = parse_mqtt_url("mqtts://broker?ca=/etc/ca.pem&keepalive=20&client_id=gw1")
    assert (tls.port, tls.tls, tls.ca_file, tls.keepalive, tls.identifier) == (8883, True, "/etc/ca.pem", 20, "gw1")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://broker", "scheme"),
        ("mqtt://", "needs a host"),
        ("mqtt://broker:99999", "(?i)port"),
        ("mqtt://broker/path", "path"),
        ("mqtt://broker?colour=blue", "unknown option 'colour'"),
        ("mqtt://broker?node_id=a/b", "node_id"),
        ("mqtt://broker?prefix=a/%23", "wildcards"),
        ("mqtt://broker?discovery=maybe", "true or false"),
        ("mqtt://broker?ca=/x.pem", "mqtts://"),
        ("mqtt://broker?prefix=homeassistant", "must differ"),
    ],
)
def test_bad_urls_are_refused_with_a_clear_message(url: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_mqtt_url(url)


def test_the_password_never_shows() -> None:
    config = parse_mqtt_url("mqtt://user:hunter2@broker")
    assert "hunter2" not in repr(config)
    assert "hunter2" not in config.display_url
    assert config.display_url == "mqtt://user:***@broker:1883"
    assert redact_url("mqtt://user:hunter2@broker:1/x") == "mqtt://user:***@broker:1/x"
    with pytest.raises(ConfigError) as caught:
        parse_mqtt_url("mqtt://user:hunter2@broker:notaport")
    assert "hunter2" not in str(caught.value)


def test_config_file_environment_and_command_line_in_that_order(tmp_path: Path) -> None:
    file = tmp_path / "tuyagate.toml"
    file.write_text('[mqtt]\nurl = "mqtt://file-broker"\nnode_id = "from-file"\nprefix = "site"\n', encoding="utf-8")
    assert load_mqtt_config(None, env={}) is None
    config = load_mqtt_config(file, env={})
    assert config is not None
    assert (config.host, config.node_id, config.prefix) == ("file-broker", "from-file", "site")
    env = {"TUYAGATE_MQTT_URL": "mqtt://user@env-broker", "TUYAGATE_MQTT_PASSWORD": "s3cret"}
    config = load_mqtt_config(file, env=env)
    assert config is not None
    assert (config.host, config.password, config.node_id, config.prefix) == (
        "env-broker",
        "s3cret",
        "from-file",
        "site",
    )
    config = load_mqtt_config(file, env=env, url="mqtt://cli-broker", node_id="cli")
    assert config is not None
    assert (config.host, config.node_id) == ("cli-broker", "cli")
    file.write_text('[mqtt]\nurl = "mqtt://b"\npassword = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="tuyagate mqtt password"):
        load_mqtt_config(file, env={})


def test_the_vault_supplies_a_missing_password() -> None:
    class Vault:
        def get(self, name: str) -> str | None:
            return {"mqtt/password": "from-vault"}.get(name)

    assert with_vault_password(parse_mqtt_url("mqtt://user@b"), Vault()).password == "from-vault"
    assert with_vault_password(parse_mqtt_url("mqtt://user:given@b"), Vault()).password == "given"
    assert with_vault_password(parse_mqtt_url("mqtt://b"), Vault()).password is None


def test_topics() -> None:
    topics = Topics("tuyagate", "site-a", "homeassistant")
    assert topics.state("bf01") == "tuyagate/bf01/state"
    assert topics.bridge_availability == "tuyagate/bridge/site-a/availability"
    assert topics.discovery("light", object_id("bf01", "light")) == "homeassistant/light/site-a/bf01_light/config"
    assert topics.device_of_set("tuyagate/bf01/set") == "bf01"
    assert topics.device_of_set("tuyagate/bf01/state") is None
    assert topics.device_of_set("other/bf01/set") is None
    assert topics.device_of_set("tuyagate/bridge/set") is None
    assert topics.is_discovery("homeassistant/switch/site-a/x_switch_1/config")
    assert not topics.is_discovery("homeassistant/switch/site-b/x_switch_1/config")
    assert object_id("tasmota.porch plug", "switch_1") == "tasmota_porch_plug_switch_1"


def test_command_shapes() -> None:
    assert parse_command(b'{"switch_1": true}') == ({"switch_1": True}, None)
    values, request = parse_command(json.dumps({"commands": [{"code": "a", "value": 1}], "id": 7}).encode())
    assert (values, request) == ({"a": 1}, "7")
    assert parse_command(b'{"dps": {"1": true}}') == ({"1": True}, None)
    assert parse_command(b'{"id": "x"}') == ({"id": "x"}, None)  # flat: "id" is just a code there
    with pytest.raises(CommandError, match="at most 64"):
        parse_command(json.dumps({f"c{i}": i for i in range(65)}).encode())
    with pytest.raises(CommandError, match="1 to 64 characters"):
        parse_command(json.dumps({"x" * 65: 1}).encode())


async def test_the_coalescer_sends_the_first_at_once_and_the_rest_once_per_interval() -> None:
    sent: list[tuple[str, float]] = []
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def flush(key: str) -> None:
        sent.append((key, loop.time()))
        if len(sent) == 3:
            done.set()

    coalescer = Coalescer(0.05, flush)
    start = loop.time()
    coalescer.touch("a")
    for _ in range(10):
        coalescer.touch("a")  # folded into one flush at the end of the interval
    coalescer.touch("b")  # another device is not held back by the first
    assert [k for k, _ in sent] == ["a", "b"]
    async with asyncio.timeout(2):
        await done.wait()
    assert [k for k, _ in sent] == ["a", "b", "a"]
    assert sent[2][1] - start >= 0.05
    assert coalescer.pending() == 0


def _light(colour_fields: dict[str, dict[str, int]]) -> DeviceView:
    dps = [
        DpDef(20, "switch_led", DpType.BOOLEAN),
        DpDef(21, "work_mode", DpType.ENUM, range=("white", "colour")),
        DpDef(22, "bright_value_v2", DpType.INTEGER, min=10, max=1000),
        DpDef(24, "colour_data_v2", DpType.JSON, fields=colour_fields),
    ]
    info = DeviceInfo(id="bf01", name="Light", backend="tuya-lan", category="dj")
    return DeviceView.from_schema(info, DpSchema(dps))


def test_light_commands_complete_colours_and_follow_the_colour_mode() -> None:
    hsv = {"h": {"min": 0, "max": 360}, "s": {"min": 0, "max": 1000}, "v": {"min": 0, "max": 1000}}
    light = light_dps(_light(hsv))
    assert light is not None
    current = {"work_mode": "colour", "colour_data_v2": {"h": 10, "s": 20, "v": 30}}
    assert prepare_light_command(light, {"colour_data_v2": {"h": 120}}, current) == {
        "colour_data_v2": {"h": 120, "s": 20, "v": 30}
    }
    # in colour mode a brightness is the colour's v (scaled from the brightness range to v's)
    assert prepare_light_command(light, {"bright_value_v2": 500}, current) == {
        "colour_data_v2": {"h": 10, "s": 20, "v": 500}
    }
    white = {"work_mode": "white", "colour_data_v2": {"h": 10, "s": 20, "v": 30}}
    assert prepare_light_command(light, {"bright_value_v2": 500}, white) == {"bright_value_v2": 500}
    with pytest.raises(ValidationError, match=r"colour_data_v2\.s must be an integer between 0 and 1000"):
        prepare_light_command(light, {"colour_data_v2": {"s": 2000}}, current)
    # a colour DP whose sub-schema lacks v is no colour to the schema: send the device's own hex layout
    lenient = light_dps(_light({"h": {"min": 0, "max": 360}, "s": {"min": 0, "max": 1000}}))
    assert lenient is not None
    assert prepare_light_command(lenient, {"colour_data_v2": {"h": 120, "s": 1000, "v": 1000}}, {}) == {
        "colour_data_v2": "007803e803e8"
    }


def test_import_tuyagate_mqtt_loads_no_mqtt_client() -> None:
    code = "import sys, tuyagate.mqtt, tuyagate.cli.main; print(sorted(m for m in sys.modules if 'mqtt' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    loaded = ast.literal_eval(out)
    assert [m for m in loaded if m.startswith(("gmqtt", "aiomqtt", "paho"))] == []
    assert "tuyagate.mqtt.link" not in loaded


def test_mqtt_config_defaults_are_home_assistants() -> None:
    config = MqttConfig(host="b")
    assert (config.prefix, config.discovery_prefix, config.discovery, config.coalesce) == (
        "tuyagate",
        "homeassistant",
        True,
        0.1,
    )


def test_without_the_mqtt_extra_the_cli_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from tuyagate.cli.extras import MissingExtraError, extra_for_module, require_extra

    assert extra_for_module("gmqtt.client") == "mqtt"
    monkeypatch.setitem(sys.modules, "gmqtt", None)
    with pytest.raises(
        MissingExtraError, match=r"tuyagate serve --mqtt needs the mqtt extra: pip install 'tuyagate\[mqtt\]'"
    ):
        require_extra("mqtt", "tuyagate serve --mqtt")
