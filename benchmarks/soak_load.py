"""The load of the audit: HTTP clients sending tagged commands and reads, SSE listeners, random faults.

Every command carries a value no other command to that device uses (its *tag*: a countdown, or a
light's brightness and colour temperature together), so the emulated device's application log
(:attr:`tuyagate.sim.device.SimDevice.applied`) tells exactly how often each command took effect.
Clients are paced (a random pause between requests, ``rate`` requests per second in all), so the
figures describe a gateway that is loaded, not one drowned past its capacity on a shared machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx

from tuyagate.sim.device import Faults, SimDevice
from tuyagate.sim.manifest import ManifestDevice

__all__ = [
    "FAULT_MODES",
    "Call",
    "Faulter",
    "LagMonitor",
    "Listener",
    "Load",
    "Sampler",
    "WaitMonitor",
    "tagged_command",
]

# Writable DPs per category: the tag DPs (wide integer ranges) and the booleans sent along at random.
TAG_DPS = {
    "cz": (("9", "countdown_1"),),
    "kg": (("7", "countdown_1"),),
    "dj": (("22", "bright_value_v2"), ("23", "temp_value_v2")),
}
BOOL_DPS = {"cz": (("1", "switch_1"),), "kg": (("1", "switch_1"), ("2", "switch_2")), "dj": (("20", "switch_led"),)}
FAULT_MODES = ("late", "slow", "refuse", "silent", "garbage", "corrupt", "drop", "drop_requests", "restart")
# One TLS context for every client (they speak plain HTTP): building one per client loads the CA
# bundle each time, ~0.1 s of blocked event loop apiece.
_TLS = ssl.create_default_context()


@dataclass(slots=True)
class Call:
    """One HTTP request of a load client and its answer."""

    kind: str  # command, read (cached), refresh (asks the device)
    device: str
    sent: float  # event-loop time (the clock of SimDevice.applied too)
    answered: float = 0.0
    status: int = 0  # 0: no HTTP answer at all (the connection failed)
    code: str = ""  # the error code of a non-2xx answer
    values: dict[str, Any] = field(default_factory=dict)  # a command's values by DP id
    tag: tuple[tuple[str, Any], ...] = ()  # the values that name the command (a Tag)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def latency(self) -> float:
        return self.answered - self.sent


def tagged_command(
    device: ManifestDevice, n: int, rnd: random.Random
) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    """The ``n``-th command to a device: its values by DP id and its tag (unique per device and ``n``)."""
    tags = TAG_DPS[device.category]
    if len(tags) == 1:
        values: dict[str, Any] = {tags[0][0]: n % 86401}
    else:  # a light: brightness 10..1000 and colour temperature 0..1000 together, ~990,000 pairs
        values = {tags[0][0]: 10 + n % 991, tags[1][0]: (n // 991) % 1001}
    for dp, _ in BOOL_DPS[device.category]:
        if rnd.random() < 0.5:
            values[dp] = rnd.random() < 0.5
    tag = tuple(sorted((dp, values[dp]) for dp, _ in tags))
    return values, tag


def _body(device: ManifestDevice, values: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    """Half the commands by DP id, half in the Tuya cloud's shape by code."""
    if rnd.random() < 0.5:
        return {"dps": values}
    codes = dict(TAG_DPS[device.category] + BOOL_DPS[device.category])
    return {"commands": [{"code": codes[dp], "value": v} for dp, v in values.items()]}


class Listener:
    """One SSE client of ``/api/v1/events`` that keeps every message it reads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[tuple[int, str, dict[str, Any]]] = []  # (id, event, data)
        self.connected = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="soak-sse")

    async def _run(self) -> None:
        async with (
            httpx.AsyncClient(base_url=self.url, timeout=httpx.Timeout(10.0, read=None), verify=_TLS) as http,
            http.stream("GET", "/api/v1/events") as answer,
        ):
            ident, kind = 0, ""
            async for line in answer.aiter_lines():
                if line.startswith(": connected"):
                    self.connected.set()
                elif line.startswith("id: "):
                    ident = int(line[4:])
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    self.events.append((ident, kind, json.loads(line[6:])))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await self.task

    @property
    def lost(self) -> int:
        """Events the gateway said it dropped, plus gaps in the ids (both mean: some were not seen)."""
        dropped = sum(int(d.get("dropped", 0)) for _, kind, d in self.events if kind == "lost")
        ids = [i for i, _, _ in self.events]
        gaps = sum(b - a - 1 if b > a else 1 for a, b in itertools.pairwise(ids) if b != a + 1)  # a repeat counts
        return dropped + gaps + (ids[0] - 1 if ids else 0)


class Faulter:
    """Turns the emulators' fault modes on and off at random on a fixed set of devices."""

    def __init__(self, sims: list[SimDevice], *, request_timeout: float, rnd: random.Random) -> None:
        self.sims = sims
        self.request_timeout = request_timeout
        self.rnd = rnd
        self.windows: list[tuple[str, str, float, float]] = []  # (device, mode, start, end)
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event, *, every: float = 0.25) -> None:
        """Until ``stop``: every ``every`` s, put a random fault on a random idle device for 1-6 s."""
        while not stop.is_set():
            idle = [s for s in self.sims if s.device_id not in self._busy]
            if idle:
                sim = self.rnd.choice(idle)
                task = asyncio.create_task(self._one(sim, self.rnd.choice(FAULT_MODES), self.rnd.uniform(1.0, 6.0)))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
        await asyncio.gather(*self._tasks)

    async def _one(self, sim: SimDevice, mode: str, duration: float) -> None:
        loop = asyncio.get_running_loop()
        self._busy.add(sim.device_id)
        start = loop.time()
        try:
            if mode == "restart":  # a reboot: the port closes for a while, state is kept
                await sim.stop()
                await asyncio.sleep(duration)
                await sim.start()
                return
            faults = sim.faults
            if mode == "late":  # answers after the request's deadline
                faults.reply_delay = self.request_timeout + 1.0
            elif mode == "slow":  # answers late but within the deadline
                faults.reply_delay = 0.3
            elif mode == "refuse":
                faults.refuse = True
                sim.disconnect("fault: refusing connections")
            elif mode == "silent":
                faults.silent = True
            elif mode == "garbage":
                faults.garbage = True
            elif mode == "corrupt":  # well-framed answers with a wrong CRC / HMAC / GCM tag
                faults.corrupt = True
            elif mode == "drop":  # every connection dies at its second frame
                faults.drop_after_frames = 1
            elif mode == "drop_requests":  # a request arrives, the connection closes unanswered
                faults.drop_requests = True
            await asyncio.sleep(duration)
            sim.faults = Faults()
        finally:
            self.windows.append((sim.device_id, mode, start, loop.time()))
            self._busy.discard(sim.device_id)


class LagMonitor:
    """How late this process's own event loop runs (a timer due every 20 ms, and when it fired).

    A client's clock is only as good as its loop: on a machine shared with other work, an answer can
    sit in this process's socket buffer while the loop waits for a core. The audit does not blame the
    gateway for that part of a latency.
    """

    def __init__(self) -> None:
        self.lags: list[tuple[float, float]] = []  # (loop time, seconds late) of every late tick

    async def run(self, stop: asyncio.Event, *, every: float = 0.02) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            due = loop.time() + every
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
            late = loop.time() - due
            if late > 0.005:
                self.lags.append((loop.time(), late))

    def worst(self, start: float, end: float) -> float:
        """The longest stall of this loop between ``start`` and ``end`` (a stall is seen when it ends)."""
        return max((lag for at, lag in self.lags if start <= at <= end + 0.5), default=0.0)


class WaitMonitor:
    """The gateway's run-queue wait (:meth:`GatewayProcess.runqueue_wait_s`) every 50 ms, so that a
    late answer can be set against the time the gateway could not run at all while it was due."""

    def __init__(self, read: Any) -> None:
        self._read = read
        self.samples: list[tuple[float, float]] = []  # (loop time, seconds waited so far)

    async def run(self, stop: asyncio.Event, *, every: float = 0.05) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            self.samples.append((loop.time(), self._read()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
        self.samples.append((loop.time(), self._read()))

    def waited(self, start: float, end: float) -> float:
        """Run-queue wait between the samples around ``start`` and ``end`` (never less than the truth)."""
        before = [w for at, w in self.samples if at <= start]
        after = [w for at, w in self.samples if at >= end]
        if not before or not after:
            return 0.0
        return after[0] - before[-1]


class Sampler:
    """The gateway's RSS and open descriptors, once a second."""

    def __init__(self, rss: Any, fds: Any) -> None:
        self._rss, self._fds = rss, fds
        self.samples: list[tuple[float, int, int]] = []  # (seconds since start, RSS KiB, fds)

    async def run(self, stop: asyncio.Event, *, every: float = 1.0) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while not stop.is_set():
            self.samples.append((loop.time() - start, self._rss(), self._fds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
        self.samples.append((loop.time() - start, self._rss(), self._fds()))


class Load:
    """``clients`` paced HTTP clients, each its own connection, picking devices and requests at random."""

    def __init__(
        self,
        url: str,
        devices: list[ManifestDevice],
        *,
        clients: int,
        rate: float,
        request_timeout: float,
        rnd: random.Random,
        commands: float = 0.55,
        refreshes: float = 0.15,
    ) -> None:
        self.url = url
        self.devices = devices
        self.clients = clients
        self.pause = clients / rate  # mean seconds between two requests of one client
        self.request_timeout = request_timeout
        self.rnd = rnd
        self.commands, self.refreshes = commands, refreshes
        self.calls: list[Call] = []
        self._counters = dict.fromkeys((d.id for d in devices), 0)

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._client(stop, random.Random(self.rnd.random())) for _ in range(self.clients)))

    async def _client(self, stop: asyncio.Event, rnd: random.Random) -> None:
        loop = asyncio.get_running_loop()
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        # The client waits well past the gateway's deadline, so a late answer is measured, not cut off.
        async with httpx.AsyncClient(
            base_url=self.url, timeout=self.request_timeout + 10.0, limits=limits, verify=_TLS
        ) as http:
            due = loop.time()
            while not stop.is_set():
                # Paced on a schedule, not after each answer: a slow answer does not lower the offered rate.
                due = max(due + rnd.expovariate(1.0 / self.pause), loop.time() - self.pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, due - loop.time()))
                if stop.is_set():
                    return
                device = rnd.choice(self.devices)
                pick = rnd.random()
                if pick < self.commands:
                    self._counters[device.id] += 1
                    values, tag = tagged_command(device, self._counters[device.id], rnd)
                    call = Call("command", device.id, loop.time(), values=values, tag=tag)
                    request = http.post(f"/api/v1/devices/{device.id}/commands", json=_body(device, values, rnd))
                else:
                    refresh = pick < self.commands + self.refreshes
                    call = Call("refresh" if refresh else "read", device.id, loop.time())
                    request = http.get(f"/api/v1/devices/{device.id}/status", params={"refresh": str(refresh).lower()})
                self.calls.append(call)
                try:
                    answer = await request
                except httpx.HTTPError as exc:
                    call.answered, call.code = loop.time(), f"transport:{type(exc).__name__}"
                    continue
                call.answered, call.status = loop.time(), answer.status_code
                if not call.ok:
                    call.code = _error_code(answer)


def _error_code(answer: httpx.Response) -> str:
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"unparsed:{answer.status_code}"
