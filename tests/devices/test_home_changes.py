"""A home whose devices change while it runs: add, remove, reload, on emulated devices over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tests.devices.waiting import until
from tuyagate.bus import Subscription
from tuyagate.device_api import CommandResult, DeviceEvent, DeviceState
from tuyagate.devices.hub import Home, HubOptions, build_hub
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.errors import ConfigError, NotFoundError
from tuyagate.sim.device import SimDevice
from tuyagate.sim.device_options import SimChild

HOST = "127.0.10.1"
OPTIONS = HubOptions(timeout=2.0, lan_timeout=2.0, retry_base=0.2, retry_cap=0.5, flush_interval=0.1)


def _id(n: int) -> str:
    return f"bfhomechange{n:08d}"


def _key(n: int) -> str:
    return f"{n:016d}"


@dataclass
class World:
    registry: Registry
    vault: Vault
    home: Home
    sims: dict[str, SimDevice]

    async def sim(self, n: int, *, host: str = HOST, version: str = "3.3", **kwargs: Any) -> SimDevice:
        device = SimDevice(
            device_id=_id(n), local_key=_key(n), version=version, host=host, dps={"1": False, "20": 2300}, **kwargs
        )
        await device.start()
        self.sims[f"{_id(n)}@{host}:{device.port}"] = device
        return device

    def register(self, n: int, sim: SimDevice, *, name: str | None = None) -> DeviceRecord:
        """A record for emulated device ``n`` in the registry (its key in the vault)."""
        record = DeviceRecord(
            id=_id(n), name=name or f"Plug {n}", address=sim.host, port=sim.port, version=sim.spec.label, category="cz"
        )
        self.vault.put(secret_name(record.id), _key(n))
        return self.registry.upsert(record)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    registry = Registry.open(tmp_path)
    vault = Vault.open(registry.db, tmp_path, env={})
    home = build_hub(registry, vault, options=OPTIONS)
    world = World(registry, vault, home, {})
    await home.start()
    try:
        yield world
    finally:
        await home.close()
        for sim in world.sims.values():
            await sim.stop()
        registry.close()


async def _next(sub: Subscription[DeviceEvent], kind: str, device_id: str, timeout: float = 5.0) -> DeviceEvent:
    async with asyncio.timeout(timeout):
        while True:
            event = await sub.get()
            if event.kind == kind and event.device_id == device_id:
                return event


async def test_a_device_added_at_runtime_answers_and_pushes(world: World) -> None:
    sim = await world.sim(1)
    record = world.register(1, sim)
    async with world.home.events() as events:
        device = await world.home.add(record)
        added = await _next(events, "added", record.id)
        assert added.at > 0
        assert world.home.device("plug 1") is device
        assert (await device.status()).values["switch_1"] is False
        await sim.set_dps({"1": True})  # a button press on the device: its push reaches the home's bus
        state = await _next(events, "state", record.id)
        while state.values.get("switch_1") is not True:  # the read's own event may come first
            state = await _next(events, "state", record.id)
        assert state.values == {"switch_1": True}
    with pytest.raises(ConfigError, match="already in this home"):
        await world.home.add(record)


async def test_a_removed_device_is_gone_and_its_connection_closed(world: World) -> None:
    sim = await world.sim(2)
    device = await world.home.add(world.register(2, sim))
    await device.set(switch_1=True)
    assert sim.clients == 1
    async with world.home.events() as events:
        await world.home.remove(_id(2))
        await _next(events, "removed", _id(2))
    with pytest.raises(NotFoundError):
        world.home.device(_id(2))
    with pytest.raises(NotFoundError, match="was removed"):
        await device.status()
    await until(lambda: sim.clients == 0)
    assert sim.stats.clean_closes == 1  # closed as a client should, not reset
    assert world.home.connections == ()
    with pytest.raises(NotFoundError):
        await world.home.remove(_id(2))


async def test_a_gateway_connection_stays_while_a_sub_device_uses_it(world: World) -> None:
    gw = await world.sim(3, children={"c1": SimChild(dps={"1": False}), "c2": SimChild(dps={"1": False})})
    world.register(3, gw, name="Zigbee hub")
    children = [
        world.registry.upsert(DeviceRecord(id=f"{_id(3)}{cid}", name=cid, parent_id=_id(3), cid=cid, category="cz"))
        for cid in ("c1", "c2")
    ]
    result = await world.home.reload()
    assert sorted(result.added) == sorted([_id(3), *(c.id for c in children)])
    c1, c2 = (world.home.device(c.id) for c in children)
    await c1.set(switch_1=True)
    await c2.set(switch_1=True)
    assert len(world.home.connections) == 1  # one connection to the gateway, shared
    await world.home.remove(_id(3))  # the gateway device goes; its sub-devices still need the connection
    await world.home.remove(children[0].id)
    assert (await c2.set(switch_1=False)).route == "lan"
    assert gw.children["c2"].dps["1"] is False
    assert gw.clients == 1
    assert gw.stats.connections_accepted == 1
    await world.home.remove(children[1].id)  # the last user: now it closes
    await until(lambda: gw.clients == 0)
    assert not world.home.connections


async def test_reload_adds_removes_and_replaces_and_keeps_subscribers(world: World) -> None:
    kept, moved, dropped = await world.sim(4), await world.sim(5), await world.sim(6)
    for n, sim in ((4, kept), (5, moved), (6, dropped)):
        world.register(n, sim)
    assert sorted((await world.home.reload()).added) == [_id(4), _id(5), _id(6)]
    assert not await world.home.reload()  # nothing changed: nothing happens
    for n in (4, 5, 6):
        await world.home.device(_id(n)).status()
    fresh = await world.sim(7)
    world.register(7, fresh)
    world.registry.remove(_id(6))
    moved_again = await world.sim(5, host="127.0.10.2")  # re-paired elsewhere: new address and port
    world.registry.update(_id(5), address=moved_again.host, port=moved_again.port)
    async with world.home.events(devices=[_id(5)]) as followed:
        result = await world.home.reload()
        assert (result.added, result.removed, result.replaced, result.errors) == ((_id(7),), (_id(6),), (_id(5),), {})
        assert [(await followed.get()).kind for _ in range(2)] == ["removed", "added"]
        state = await world.home.device(_id(5)).status()
        assert state.route == "lan"
        assert moved_again.stats.connections_accepted == 1
        await moved_again.set_dps({"20": 2400})
        assert (await _next(followed, "state", _id(5))).values["cur_voltage"] == 240.0  # the same subscription
    await until(lambda: dropped.clients == 0 and moved.clients == 0)
    assert kept.stats.connections_accepted == 1  # an unchanged device keeps its connection
    assert (await world.home.device(_id(7)).status()).values["switch_1"] is False
    with pytest.raises(NotFoundError):
        world.home.device(_id(6))


async def test_reload_replaces_a_device_whose_key_or_name_changed(world: World) -> None:
    sim = await world.sim(8)
    world.register(8, sim)
    await world.home.reload()
    await world.home.device(_id(8)).status()
    described = replace(world.registry.get(_id(8)), settings={"uuid": "u8", "model": "Plug"}, schema_source="cloud")
    world.registry.upsert(described)  # what a cloud sync notes about a device does not rebuild it
    assert not await world.home.reload()
    world.vault.put(secret_name(_id(8)), "f" * 16)  # a wrong key now: the replacement uses it
    world.registry.upsert(replace(world.registry.get(_id(8)), name="Renamed plug"))
    assert (await world.home.reload()).replaced == (_id(8),)
    assert world.home.device("Renamed plug").info.id == _id(8)
    assert "f" * 16 not in repr(world.home.device(_id(8)))


async def test_reload_reports_a_record_that_cannot_be_a_device(world: World) -> None:
    world.registry.upsert(DeviceRecord(id="tasmota-broken", name="No URL", backend="tasmota"))
    result = await world.home.reload()
    assert result.added == ()
    assert "no url" in result.errors["tasmota-broken"]
    with pytest.raises(NotFoundError):
        world.home.device("No URL")


async def test_a_request_to_a_device_being_removed_gets_the_answer_or_not_found(world: World) -> None:
    sim = await world.sim(9)
    device = await world.home.add(world.register(9, sim))
    await device.status()
    sim.faults.reply_delay = 0.3  # the device is slow: the requests are still waiting when it goes
    outcomes: list[object] = []

    async def ask(call: Callable[[], Awaitable[object]]) -> None:
        try:
            outcomes.append(await call())
        except NotFoundError as exc:
            outcomes.append(exc)

    requests = [asyncio.create_task(ask(lambda: device.status())) for _ in range(5)]
    requests += [asyncio.create_task(ask(lambda: device.set(switch_1=True))) for _ in range(3)]
    await asyncio.sleep(0.05)  # the requests are on their way to the device
    await world.home.remove(_id(9))
    await asyncio.gather(*requests)  # none raised anything else
    assert len(outcomes) == 8, outcomes
    assert all(isinstance(o, DeviceState | CommandResult | NotFoundError) for o in outcomes)
    assert any(isinstance(o, NotFoundError) for o in outcomes)


async def test_adds_and_removes_at_once_are_serialized(world: World) -> None:
    sims = [await world.sim(n) for n in range(10, 16)]
    records = [world.register(n, sim) for n, sim in zip(range(10, 16), sims, strict=True)]
    await asyncio.gather(*(world.home.add(r) for r in records[:3]))
    calls: list[Awaitable[object]] = [world.home.remove(r.id) for r in records[:3]]
    calls += [world.home.add(r) for r in records[3:]]
    calls.append(world.home.reload())  # whatever order they run in, the home ends as the registry says
    await asyncio.gather(*calls, return_exceptions=True)
    await world.home.reload()
    assert sorted(d.info.id for d in world.home.devices()) == sorted(r.id for r in records)
    assert len(world.home.connections) == 6
    for device in world.home.devices():
        assert (await device.status()).route == "lan"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_the_discovery_follower_follows_devices_added_and_removed(tmp_path: Path) -> None:
    listen = _free_udp_port()
    registry = Registry.open(tmp_path)
    vault = Vault.open(registry.db, tmp_path, env={})
    options = replace(OPTIONS, discovery_listen="127.0.0.1", discovery_ports=(listen,))
    home = build_hub(registry, vault, options=options)
    sim = SimDevice(
        device_id=_id(20),
        local_key=_key(20),
        version="3.3",
        host="127.0.10.3",
        dps={"1": True},
        discovery_to=("127.0.0.1", listen),
        discovery_interval=0.05,
    )
    await sim.start()
    await home.start()
    try:
        follower = home.follower
        assert follower is not None
        assert follower.listening

        def discovered() -> bool:
            return _id(20) in {d.device_id for d in follower.discovered}

        await until(discovered)  # announced, key unknown
        vault.put(secret_name(_id(20)), _key(20))
        record = registry.add(
            DeviceRecord(id=_id(20), name="New plug", address="127.0.10.9", port=sim.port, category="cz")
        )
        device = await home.add(record)  # registered at a stale address ...
        assert not discovered()
        await until(lambda: registry.get(_id(20)).address == "127.0.10.3")  # ... the follower repoints it
        assert (await device.status()).values["switch_1"] is True
        assert not await home.reload()  # the move is not a change of configuration
        await home.remove(_id(20))
        await until(discovered)  # no key here any more
    finally:
        with contextlib.suppress(Exception):
            await home.close()
        await sim.stop()
        registry.close()


async def test_the_periodic_state_flush_writes_off_the_event_loop(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last states reach the registry from a worker thread: its fsync never stalls the loop."""
    import threading

    writers: list[threading.Thread] = []
    record_states = world.registry.record_states

    def spy(updates: Any, **kwargs: Any) -> None:
        writers.append(threading.current_thread())
        record_states(updates, **kwargs)

    monkeypatch.setattr(world.registry, "record_states", spy)
    sim = await world.sim(7)
    device = await world.home.add(world.register(7, sim))
    await device.set(switch_1=True)

    def saved() -> bool:
        found = world.registry.find(_id(7))
        return found is not None and (found.last_state or {}).get("1") is True

    await until(saved, what="the flush of the new state")
    assert writers
    assert all(t is not threading.main_thread() for t in writers)
