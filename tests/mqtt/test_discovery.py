"""Home Assistant discovery for every device of the demo, checked against Home Assistant's own schema.

The payloads are read back from the broker, as Home Assistant would receive them. Each is checked
field by field against the table in :mod:`tests.mqtt.ha_schema` (required keys, accepted keys, device
classes, units and state classes); its templates are rendered on the device's real state topic; and
its controls are exercised the way Home Assistant would use them (command templates rendered with
Home Assistant's variables, published to the command topic), each answered ``ok`` by the device.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.mqtt.conftest import Site
from tests.mqtt.ha_check import JINJA, problems
from tests.mqtt.ha_schema import PLATFORMS
from tests.mqtt.watch import Watcher
from tuyagate.device_api import DeviceInfo
from tuyagate.mqtt.discovery import DeviceView, entities_for
from tuyagate.mqtt.topics import Topics
from tuyagate.schema import DpDef, DpMode, DpSchema, DpType

# What each demo device must become (component -> device classes that must be among its entities).
EXPECTED: dict[str, dict[str, set[str]]] = {
    "Desk plug": {"switch": {"outlet"}, "sensor": {"power", "voltage", "current", "energy"}, "number": {"duration"}},
    "Cellar plug (cloud only)": {"switch": {"outlet"}, "sensor": {"power", "voltage", "current", "energy"}},
    "Garage plug (Zigbee)": {"switch": {"outlet"}, "sensor": {"power", "energy"}},
    "Kitchen switch": {"switch": {"switch"}},
    "Living room light": {"light": set()},
    "Hall light": {"light": set()},
    "Bedroom curtain": {"cover": {"curtain"}},
    "Office thermostat": {"climate": set(), "switch": set()},
    "Garden sensor": {"sensor": {"temperature", "humidity", "battery"}},
    "Zigbee gateway": {"sensor": set()},
    "Porch plug (Tasmota)": {"switch": {"outlet"}, "sensor": {"power", "voltage", "current", "energy"}},
    "Garden pump (ESPHome)": {
        "light": set(),
        "cover": set(),
        "binary_sensor": set(),
        "select": set(),
        "number": set(),
        "button": {"restart"},
        "sensor": {"temperature", "power"},
    },
}


async def _discovery(site: Site) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every retained discovery payload of node ``test``: topic -> (component, config)."""
    hub = site.world.hub
    assert hub is not None
    topics = site.bridge.topics
    async with Watcher(site.broker.port, ("homeassistant/+/test/+/config",)) as mqtt:
        pump = site.device_id("Garden pump (ESPHome)")  # a flashed device: described after its first read
        await mqtt.wait(f"homeassistant/light/test/{pump}_light/config")

        def complete() -> bool:
            wanted = {
                topics.discovery(e.component, e.object_id)
                for d in hub.devices()
                for e in site.bridge.entities(d.info.id)
            }
            return wanted <= {t for t, p in mqtt.latest.items() if p}

        await mqtt.wait_until(complete)
        return {t: (t.split("/")[1], json.loads(p)) for t, p in mqtt.latest.items() if p}


async def test_every_demo_device_is_discovered_as_home_assistant_documents_it(site: Site) -> None:
    found = await _discovery(site)
    hub = site.world.hub
    assert hub is not None
    by_id = {d.info.id: d for d in hub.devices()}
    identifiers = {f"tuyagate_{i}" for i in by_id}
    unique_ids = Counter(config["unique_id"] for _, config in found.values())
    assert [u for u, n in unique_ids.items() if n > 1] == []  # "Platform mqtt does not generate unique IDs"
    components: dict[str, dict[str, set[str]]] = {}
    for topic, (component, config) in found.items():
        assert problems(component, config) == [], (topic, problems(component, config))
        device = config["device"]
        (identifier,) = device["identifiers"]
        assert identifier in identifiers
        device_id = identifier.removeprefix("tuyagate_")
        info = by_id[device_id].info
        assert device["name"] == info.name
        assert config["origin"]["name"] == "tuyagate"
        assert config["availability"] == [
            {"topic": "tuyagate/bridge/test/availability"},
            {"topic": f"tuyagate/{device_id}/availability"},
        ]
        assert config["availability_mode"] == "all"
        if info.parent_id:
            assert device["via_device"] == f"tuyagate_{info.parent_id}"
            assert device["via_device"] in identifiers
        else:
            assert "via_device" not in device
        for key, value in config.items():
            if key.endswith("state_topic") or key in ("position_topic", "current_temperature_topic"):
                assert value == f"tuyagate/{device_id}/state", key
            if key.endswith("command_topic") or key == "set_position_topic":
                assert value == f"tuyagate/{device_id}/set", key
        classes = components.setdefault(info.name, {}).setdefault(component, set())
        if "device_class" in config:
            classes.add(config["device_class"])
    for name, wanted in EXPECTED.items():
        for component, classes in wanted.items():
            assert component in components.get(name, {}), (name, component, components.get(name))
            assert classes <= components[name][component], (name, component, components[name][component])
    # every platform row of the table but fan is exercised by the demo (fan: see the unit test below)
    used = {component for c in components.values() for component in c}
    assert used == set(PLATFORMS) - {"fan"}


def _render(template: str, **variables: Any) -> str:
    return JINJA.from_string(template).render(**variables)


async def test_templates_read_the_real_state_topics(site: Site) -> None:
    found = await _discovery(site)
    async with Watcher(site.broker.port, ("tuyagate/+/state",)) as mqtt:
        for topic, (component, config) in found.items():
            state_topic = (
                config.get("state_topic") or config.get("position_topic") or config.get("temperature_state_topic")
            )
            if not state_topic:
                continue  # write-only (a button)
            raw = await mqtt.wait(state_topic)
            state = json.loads(raw)
            variables = {"value": raw.decode(), "value_json": state}
            for key, template in config.items():
                if not key.endswith("template") or "command" in key or key.startswith("set_position"):
                    continue
                out = _render(template, **variables).strip()
                assert out, (topic, key)
                if component in ("switch", "binary_sensor") and key == "value_template":
                    assert out in ("ON", "OFF"), (topic, out)
                if key == "state_value_template":
                    assert out in (config["payload_on"], config["payload_off"]), (topic, out)
                if key == "brightness_value_template":
                    assert 0 <= int(out) <= config["brightness_scale"], (topic, out)
                if key == "hs_value_template":
                    hue, sat = (float(x) for x in out.split(","))
                    assert 0 <= hue <= 360, (topic, out)
                    assert 0 <= sat <= 100, (topic, out)
                if key == "color_temp_value_template":
                    assert config["min_mireds"] <= int(out) <= config["max_mireds"], (topic, out)
                if key == "color_mode_value_template":
                    assert out in ("hs", "color_temp"), (topic, out)
                if key in ("effect_value_template", "preset_mode_value_template"):
                    assert out in config.get("effect_list", config.get("preset_modes", [])), (topic, out)
                if key == "mode_state_template":
                    assert out in config["modes"], (topic, out)
                if component == "sensor" and config.get("device_class") not in (None, "enum"):
                    float(out)  # a number Home Assistant can graph
                if component == "select" and key == "value_template":
                    assert out in config["options"]


def _home_assistant_commands(component: str, config: dict[str, Any]) -> list[tuple[str, str]]:
    """(what, payload) for each control of an entity, rendered the way Home Assistant renders them."""
    out: list[tuple[str, str]] = []
    if "payload_on" in config and component in ("switch", "light", "fan"):
        out += [("on", config["payload_on"]), ("off", config["payload_off"])]
    if component == "button":
        out.append(("press", config["payload_press"]))
    if component == "light":
        if "brightness_command_template" in config:
            out.append(
                ("brightness", _render(config["brightness_command_template"], value=config["brightness_scale"] // 2))
            )
        if "color_temp_command_template" in config:
            out.append(("color_temp", _render(config["color_temp_command_template"], value=300)))
        if "hs_command_template" in config:
            out.append(("hs", _render(config["hs_command_template"], hue=120.4, sat=55.5)))
        if "effect_command_template" in config:
            out.append(("effect", _render(config["effect_command_template"], value=config["effect_list"][-1])))
    if component == "cover":
        out += [("open", config["payload_open"]), ("stop", config.get("payload_stop", config["payload_close"]))]
        if "set_position_template" in config:
            out.append(("position", _render(config["set_position_template"], position=40)))
    if component == "climate":
        out.append(
            (
                "temperature",
                _render(config["temperature_command_template"], value=config["min_temp"] + config["temp_step"]),
            )
        )
        if "mode_command_template" in config:
            out += [("mode", _render(config["mode_command_template"], value=m)) for m in config["modes"]]
        if "preset_mode_command_template" in config:
            out.append(("preset", _render(config["preset_mode_command_template"], value=config["preset_modes"][0])))
    if component == "number":
        out.append(("number", _render(config["command_template"], value=config.get("max", 1))))
    if component == "select":
        out.append(("select", _render(config["command_template"], value=config["options"][-1])))
    return out


async def test_home_assistant_controls_work_on_every_demo_device(site: Site) -> None:
    found = await _discovery(site)
    tried = Counter[str]()
    async with Watcher(site.broker.port, ("tuyagate/+/result", "tuyagate/+/state")) as mqtt:
        for topic, (component, config) in sorted(found.items()):
            for what, payload in _home_assistant_commands(component, config):
                command_topic = str(config.get("command_topic") or config["temperature_command_topic"])
                mark = len(mqtt.history)
                await mqtt.publish(command_topic, payload)
                result_topic = command_topic.removesuffix("/set") + "/result"
                result = json.loads((await mqtt.next_on(result_topic, after=mark, timeout=15)).payload)
                assert result["ok"] is True, (topic, what, payload, result)
                tried[component] += 1
        light = site.device_id("Living room light")
        state = await mqtt.wait_json(f"tuyagate/{light}/state", lambda s: s["work_mode"] == "music")
        assert state["colour_data_v2"]["h"] == 120  # the hue Home Assistant sent (rounded)
        assert state["colour_data_v2"]["s"] == 555  # 55.5 % of 1000
        curtain = site.device_id("Bedroom curtain")
        await mqtt.wait_json(f"tuyagate/{curtain}/state", lambda s: s["percent_control"] == 40)
        thermostat = site.device_id("Office thermostat")
        await mqtt.wait_json(f"tuyagate/{thermostat}/state", lambda s: s["temp_set"] == 5.5 and s["mode"] == "auto")
    assert set(tried) == {"switch", "light", "cover", "climate", "number", "select", "button"}


def _info(category: str, name: str = "Test device") -> DeviceInfo:
    return DeviceInfo(id="bf0123456789abcdef01", name=name, backend="tuya-lan", category=category, product_name="x")


def _int(dp: int, code: str, lo: int, hi: int, **kw: Any) -> DpDef:
    return DpDef(dp, code, DpType.INTEGER, kw.pop("mode", DpMode.RW), min=lo, max=hi, **kw)


@pytest.mark.parametrize(
    ("category", "dps", "component", "device_class"),
    [
        ("mcs", [DpDef(1, "doorcontact_state", DpType.BOOLEAN, DpMode.RO)], "binary_sensor", "door"),
        ("pir", [DpDef(1, "pir", DpType.ENUM, DpMode.RO, range=("pir", "none"))], "binary_sensor", "motion"),
        (
            "sj",
            [DpDef(1, "watersensor_state", DpType.ENUM, DpMode.RO, range=("alarm", "normal"))],
            "binary_sensor",
            "moisture",
        ),
        (
            "ywbj",
            [DpDef(1, "smoke_sensor_status", DpType.ENUM, DpMode.RO, range=("alarm", "normal"))],
            "binary_sensor",
            "smoke",
        ),
        ("cz", [_int(6, "power_w", 0, 9999, unit="W", mode=DpMode.RO)], "sensor", "power"),
        ("wsdcg", [_int(1, "temp", -400, 800, unit="℃", scale=1, mode=DpMode.RO)], "sensor", "temperature"),
        ("fs", [DpDef(1, "switch", DpType.BOOLEAN), _int(3, "fan_speed_percent", 1, 6)], "fan", None),
    ],
)
def test_categories_beyond_the_demo(category: str, dps: list[DpDef], component: str, device_class: str | None) -> None:
    view = DeviceView.from_schema(_info(category), DpSchema(dps))
    entities = [
        e
        for e in entities_for(view, Topics("tuyagate", "n", "homeassistant"))
        if e.object_id != f"{view.info.id}_route"
    ]
    assert [e.component for e in entities] == [component]
    config = entities[0].config
    assert problems(component, config) == []
    assert config.get("device_class") == device_class
    if component == "sensor" and device_class == "temperature":
        assert config["unit_of_measurement"] == "°C"  # Tuya's "℃" in Home Assistant's spelling


def test_a_full_fan_maps_speed_steps_oscillation_and_presets() -> None:
    dps = [
        DpDef(1, "switch", DpType.BOOLEAN),
        DpDef(3, "fan_speed_enum", DpType.ENUM, range=("low", "middle", "high")),
        DpDef(5, "switch_horizontal", DpType.BOOLEAN),
        DpDef(2, "mode", DpType.ENUM, range=("nature", "sleep")),
    ]
    view = DeviceView.from_schema(_info("fs", "Fan"), DpSchema(dps))
    (fan,) = [e for e in entities_for(view, Topics("tuyagate", "n", "homeassistant")) if e.component == "fan"]
    config = fan.config
    assert problems("fan", config) == []
    assert (config["speed_range_min"], config["speed_range_max"]) == (1, 3)
    assert json.loads(_render(config["percentage_command_template"], value=2)) == {"fan_speed_enum": "middle"}
    assert _render(config["percentage_value_template"], value_json={"fan_speed_enum": "high"}) == "3"
    on = {"switch_horizontal": True}
    assert _render(config["oscillation_value_template"], value_json=on) == config["payload_oscillation_on"]
    assert config["preset_modes"] == ["nature", "sleep"]
    assert fan.codes == {"switch", "fan_speed_enum", "switch_horizontal", "mode"}


@pytest.mark.parametrize(
    ("component", "change", "complaint"),
    [
        ("sensor", {"unit_of_measurement": "kW/h"}, "not valid for device_class"),
        ("sensor", {"state_class": "total_increasing"}, "state_class"),
        ("switch", {"payload_onn": "x"}, "not in the switch schema"),
        ("switch", {"device": {"identifiers": ["x"], "model_number": "1"}}, "device key"),
        ("climate", {"precision": 0.2}, "precision"),
        ("light", {"brightness_value_template": "{{ value_json['x'] "}, "not a valid template"),
    ],
)
def test_the_schema_table_rejects_what_home_assistant_rejects(
    component: str, change: dict[str, Any], complaint: str
) -> None:
    base = {
        "sensor": {
            "state_topic": "a/b",
            "device_class": "power",
            "unit_of_measurement": "W",
            "state_class": "measurement",
        },
        "switch": {"command_topic": "a/set"},
        "climate": {"temperature_command_topic": "a/set"},
        "light": {"command_topic": "a/set"},
    }[component]
    config = {"unique_id": "u", "device": {"identifiers": ["x"]}, "origin": {"name": "t"}, **base}
    assert problems(component, config) == []
    config.update(change)
    assert any(complaint in p for p in problems(component, config)), problems(component, config)
