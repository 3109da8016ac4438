"""Crash safety (issue 16.5): ``kill -9`` the gateway under load, several times in a row.

Each round runs paced load long enough for the gateway's periodic registry writes (the state flush,
every 5 s) to be under way, then SIGKILLs the gateway (the PID this run started, nothing else). Then:

- the registry and the vault are opened as a new process would and compared with what they held
  before the first kill: SQLite's integrity check passes, every device record (minus the state the
  gateway flushes) and every secret is there and unchanged;
- a new gateway on the same port and data directory has every device online within 10 s of its
  ready line (the interpreter's own start-up, seconds on a loaded machine, is reported apart), and
  its answers (cached reads included) equal each emulated device's state;
- at the end, every command answered 2xx before any kill took effect exactly once (the emulators'
  application logs); a request in flight at a kill gets no answer, and took effect at most once.
"""

from __future__ import annotations

import asyncio
import random
import signal
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.soak_audit import audit_commands
from benchmarks.soak_load import TAG_DPS, Call, Load
from benchmarks.soak_world import World, snapshot

__all__ = ["RECONNECT_S", "CrashConfig", "run_crash"]

RECONNECT_S = 10.0


@dataclass(frozen=True, slots=True)
class CrashConfig:
    devices: int = 40
    kills: int = 5
    clients: int = 16
    rate: float = 120.0
    seed: int = 5
    first_ip: str = "127.0.21.1"


@dataclass
class CrashResult:
    figures: dict[str, Any]
    problems: list[str] = field(default_factory=list)


async def _online_after(url: str, count: int, began: float, *, within: float) -> float:
    """Seconds from ``began`` until ``count`` devices are online; raises at ``began + within``."""
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=url, timeout=5.0) as http:
        while True:
            answer = await http.get("/api/v1/devices")
            if sum(d["online"] for d in answer.json()["devices"]) >= count:
                return loop.time() - began
            if loop.time() - began > within:
                raise TimeoutError(f"not every device was online within {within:g} s of the restarted gateway's start")
            await asyncio.sleep(0.05)


async def _load_for(load: Load, seconds: float, count: int) -> None:
    """At least ``seconds`` of load (past the 5 s state flush) and ``count`` commands answered 2xx in all."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < seconds or sum(c.ok and c.kind == "command" for c in load.calls) < count:
        if loop.time() - start > 60.0:
            raise TimeoutError(f"fewer than {count} commands answered within 60 s")
        await asyncio.sleep(0.05)


async def _stale(url: str, world: World) -> list[str]:
    """Devices whose cached state the gateway answers differently from the device's."""
    wrong = []
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as http:
        for device_id, sim in world.fleet.sims.items():
            state = (await http.get(f"/api/v1/devices/{device_id}/status")).json()
            if state.get("dps") != sim.dps:
                wrong.append(device_id)
    return wrong


async def run_crash(config: CrashConfig) -> CrashResult:
    rnd = random.Random(config.seed)
    loop = asyncio.get_running_loop()
    problems: list[str] = []
    rounds: list[dict[str, Any]] = []
    kills: list[tuple[float, float]] = []  # when each kill was sent, and when the process was gone
    async with World(config.devices, first_ip=config.first_ip) as world:
        gateway, devices = world.gateway, world.fleet.manifest.devices
        await _online_after(gateway.url, config.devices, loop.time(), within=RECONNECT_S)
        before = snapshot(world.data_dir)
        load = Load(
            gateway.url,
            devices,
            clients=config.clients,
            rate=config.rate,
            request_timeout=gateway.request_timeout,
            rnd=rnd,
        )
        for n in range(1, config.kills + 1):
            stop = asyncio.Event()
            running = asyncio.create_task(load.run(stop))
            answered_before = sum(c.ok and c.kind == "command" for c in load.calls)
            await _load_for(load, rnd.uniform(5.5, 9.0), answered_before + 50)
            killed_at = loop.time()
            status = await gateway.kill()
            stop.set()
            kills.append((killed_at, loop.time()))
            await running
            if status != -signal.SIGKILL:
                problems.append(f"kill {n}: the gateway exited with {status}, not by SIGKILL")
            after = snapshot(world.data_dir)
            intact = not after.integrity and after.devices == before.devices and after.secrets == before.secrets
            if after.integrity:
                problems.append(f"kill {n}: the database fails its integrity check: {after.integrity[:3]}")
            if after.devices != before.devices:
                problems.append(f"kill {n}: the device records changed")
            if after.secrets != before.secrets:
                problems.append(f"kill {n}: the vault's secrets changed")
            ready = await gateway.start()
            began = loop.time()  # the new process is serving: reconnecting the devices is its job from here
            try:
                reconnected = await _online_after(gateway.url, config.devices, began, within=RECONNECT_S)
            except TimeoutError as exc:
                problems.append(f"kill {n}: {exc}")
                reconnected = float("nan")
            stale = await _stale(gateway.url, world)
            problems += [f"kill {n}: {d} answered with values older than the device's" for d in stale]
            rounds.append(
                {
                    "commands_answered_before": sum(c.ok and c.kind == "command" for c in load.calls) - answered_before,
                    "ready_s": round(ready, 2),
                    "all_online_s": round(reconnected, 2),
                    "stale_devices": len(stale),
                    "registry_and_vault_intact": intact,
                }
            )
        tag_dps = {d.id: tuple(dp for dp, _ in TAG_DPS[d.category]) for d in devices}
        applied = {s.device_id: s.applied for s in world.fleet.sims.values()}

    def in_flight_at_a_kill(call: Call) -> bool:
        return call.code.startswith("transport:") and any(
            call.sent <= gone and call.answered >= sent for sent, gone in kills
        )

    commands, command_problems = audit_commands(load.calls, applied, tag_dps, excused=in_flight_at_a_kill)
    problems += command_problems
    figures = {
        "config": {"devices": config.devices, "kills": config.kills, "clients": config.clients, "rate": config.rate},
        "rounds": rounds,
        "commands": commands,
        "in_flight_at_kills": sum(in_flight_at_a_kill(c) for c in load.calls),
        "records": len(before.devices),
        "secrets": len(before.secrets),
        "worst_all_online_s": max(r["all_online_s"] for r in rounds),
        "problems": len(problems),
    }
    return CrashResult(figures, problems)
