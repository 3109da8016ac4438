"""Find devices on the LAN: listen for UDP discovery broadcasts, solicit the 3.5 ones, sweep other subnets.

Devices announce themselves every few seconds on UDP 6666 (3.1) and 6667 (3.2-3.5); newer 3.5
devices stay quiet until the app's ``REQ_DEVINFO`` probe (UDP 7000) and then answer it. One
listener per port feeds a shared table keyed by device id. The ports are bound with address and
port reuse so that a scan runs beside Home Assistant, which holds them too; a port that still
cannot be bound is named in a warning and skipped, and only when none can be bound does the scan
fail. The scan ends as soon as every wanted id, or the wanted number of devices, has been seen.

Broadcasts do not cross routers, so devices on another VLAN are never heard. ``sweep`` (the
``subnet`` argument of :func:`scan`) connects to TCP 6668 of every address of a subnet, a bounded
number at a time, and sends the probe by unicast to each address that accepted: a 3.5 device
answers it with its id; an older one is reported as an address with the Tuya port open.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tuyagate.errors import ConfigError, ProtocolError, TuyaConnectionError
from tuyagate.protocol.discovery import decode_datagram, encode_devinfo_request, is_app_probe

__all__ = ["DEFAULT_PORTS", "DiscoveredDevice", "ScanResult", "SweepProgress", "scan"]

_LOGGER = logging.getLogger(__name__)
DEFAULT_PORTS = (6666, 6667, 7000)
TUYA_TCP_PORT = 6668
PROBE_PORT = 7000
RECEIVE_BUFFER = 1 << 20
PROBE_RETRIES = 3  # unicast probes to a swept address that has not answered yet (UDP loses datagrams)
MAX_SWEEP_ADDRESSES = 65536  # a /16; more is a typo, not a home network


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    """One device as its broadcast describes it (the local key is never in a broadcast)."""

    device_id: str
    ip: str
    version: str | None
    product_key: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.device_id, "ip": self.ip, "version": self.version, "product_key": self.product_key}


@dataclass(frozen=True, slots=True)
class SweepProgress:
    """How far a subnet sweep is: addresses tried of ``total``, how many accepted TCP."""

    subnet: str
    tried: int
    total: int
    open: int


@dataclass(slots=True)
class ScanResult:
    """What a scan found: devices by id, addresses with the Tuya port open that never said who they are."""

    devices: list[DiscoveredDevice]
    unidentified: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)  # the UDP ports actually listened on
    elapsed: float = 0.0


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, table: _Table) -> None:
        self.table = table

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            obj = decode_datagram(data)
        except ProtocolError:
            return
        dev_id = obj.get("gwId") or obj.get("devId")
        if is_app_probe(obj) or not isinstance(dev_id, str):
            return
        version = obj.get("version")
        product = obj.get("productKey")
        ip = str(obj.get("ip") or addr[0])
        self.table.add(
            DiscoveredDevice(dev_id, ip, str(version) if version else None, str(product) if product else None, obj)
        )


class _Table:
    """The devices seen so far, and the event that says the scan may stop."""

    def __init__(self, wanted: set[str], count: int | None) -> None:
        self.found: dict[str, DiscoveredDevice] = {}
        self.wanted = wanted
        self.count = count
        self.done = asyncio.Event()

    def ips(self) -> set[str]:
        return {d.ip for d in self.found.values()}

    def add(self, device: DiscoveredDevice) -> None:
        self.found[device.device_id] = device
        if self.wanted and not self.wanted <= self.found.keys():
            return
        if self.count is not None and len(self.found) < self.count:
            return
        if self.wanted or self.count is not None:
            self.done.set()


def _bind(port: int, host: str) -> socket.socket:
    """A UDP socket on ``host:port`` that shares the port with other listeners (Home Assistant)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        # a sweep's answers arrive in one burst; the default buffer drops some of 200
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    """``192.168.20.0/24`` -> the network; a ConfigError for anything that is not a sane IPv4 subnet."""
    try:
        net = ipaddress.IPv4Network(text, strict=False)
    except ValueError as exc:
        raise ConfigError(f"--subnet wants an IPv4 CIDR such as 192.168.20.0/24, got {text!r}") from exc
    if net.num_addresses > MAX_SWEEP_ADDRESSES:
        raise ConfigError(f"--subnet {text}: {net.num_addresses} addresses is more than a /16; give a smaller subnet")
    return net


async def _port_open(host: str, port: int, timeout: float) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _sweep(
    net: ipaddress.IPv4Network,
    send_probe: Callable[[str], None],
    *,
    tcp_port: int,
    concurrency: int,
    connect_timeout: float,
    progress: Callable[[SweepProgress], None] | None,
) -> list[str]:
    """Connect to ``tcp_port`` of every host of ``net`` (``concurrency`` at a time); probe the open ones."""
    hosts = [str(h) for h in (net.hosts() if net.num_addresses > 2 else net)]
    gate = asyncio.Semaphore(max(1, concurrency))
    opened: list[str] = []
    tried = 0

    async def one(host: str) -> None:
        nonlocal tried
        async with gate:
            if await _port_open(host, tcp_port, connect_timeout):
                opened.append(host)
                send_probe(host)
            tried += 1
            if progress is not None:
                progress(SweepProgress(str(net), tried, len(hosts), len(opened)))

    await asyncio.gather(*(one(h) for h in hosts))
    return sorted(opened, key=ipaddress.IPv4Address)


async def _sweep_and_retry(
    net: ipaddress.IPv4Network,
    table: _Table,
    send_probe: Callable[[str], None],
    *,
    tcp_port: int,
    concurrency: int,
    connect_timeout: float,
    progress: Callable[[SweepProgress], None] | None,
) -> list[str]:
    """The sweep, then the probe again to open addresses that have not answered, a few times."""
    opened = await _sweep(
        net, send_probe, tcp_port=tcp_port, concurrency=concurrency, connect_timeout=connect_timeout, progress=progress
    )
    for attempt in range(PROBE_RETRIES + 1):
        # the answers are on their way: one round trip's grace (less once the scan may stop)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(table.done.wait(), connect_timeout)
        silent = [ip for ip in opened if ip not in table.ips()]
        if table.done.is_set() or not silent or attempt == PROBE_RETRIES:
            break
        for ip in silent:
            send_probe(ip)
    return opened


async def scan(
    duration: float,
    *,
    listen_host: str = "0.0.0.0",
    ports: Iterable[int] = DEFAULT_PORTS,
    probe_to: Iterable[tuple[str, int]] = (("255.255.255.255", PROBE_PORT),),
    probe_interval: float = 2.0,
    want_ids: Iterable[str] = (),
    want_count: int | None = None,
    subnet: str | None = None,
    sweep_port: int = TUYA_TCP_PORT,
    sweep_probe_port: int = PROBE_PORT,
    sweep_concurrency: int = 128,
    sweep_timeout: float = 0.5,
    progress: Callable[[SweepProgress], None] | None = None,
) -> ScanResult:
    """Listen for up to ``duration`` seconds; stop early once ``want_ids`` (and ``want_count``) are seen.

    ``subnet`` adds the unicast sweep (see the module docstring); the scan then lasts at least
    until the sweep is over, and at most ``duration``.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    net = parse_subnet(subnet) if subnet is not None else None
    table = _Table(set(want_ids), want_count)
    transports: list[asyncio.DatagramTransport] = []
    listened: list[int] = []
    for port in ports:
        try:
            sock = _bind(port, listen_host)
        except OSError as exc:
            _LOGGER.warning(
                "cannot listen on UDP %s:%s (%s); devices announcing there will not be heard",
                listen_host,
                port,
                exc.strerror or exc,
            )
            continue
        transport, _ = await loop.create_datagram_endpoint(lambda: _Listener(table), sock=sock)
        transports.append(transport)
        listened.append(port)
    if not transports:
        names = ", ".join(str(p) for p in ports)
        raise TuyaConnectionError(
            f"could not listen on UDP {listen_host} port(s) {names}: taken by a program without address reuse, "
            "or forbidden; stop it or pass --ports"
        )
    sender = transports[-1]

    def probe(target: tuple[str, int]) -> None:
        try:
            sender.sendto(encode_devinfo_request(_local_ip_for(target, listen_host), iv=os.urandom(12)), target)
        except OSError as exc:
            _LOGGER.warning("cannot send the discovery probe to %s:%s: %s", target[0], target[1], exc)

    targets = list(probe_to)
    end = started + duration
    sweep: asyncio.Task[list[str]] | None = None
    if net is not None:
        sweep = asyncio.create_task(
            _sweep_and_retry(
                net,
                table,
                lambda host: probe((host, sweep_probe_port)),
                tcp_port=sweep_port,
                concurrency=sweep_concurrency,
                connect_timeout=sweep_timeout,
                progress=progress,
            )
        )
    opened: list[str] = []
    try:
        while not table.done.is_set() and loop.time() < end:
            for target in targets:
                probe(target)
            waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(table.done.wait())}
            if sweep is not None and not sweep.done():
                waits.add(sweep)
            timeout = min(probe_interval, max(0.0, end - loop.time()))
            _, pending = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for fut in pending:
                if fut is not sweep:
                    fut.cancel()
            if sweep is not None and sweep.done():
                opened = sweep.result()
                sweep = None
                if not (table.wanted or table.count is not None):
                    break
    finally:
        if sweep is not None:
            sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweep
        for transport in transports:
            transport.close()
    devices = sorted(table.found.values(), key=lambda d: (d.ip, d.device_id))
    known_ips = {d.ip for d in devices}
    return ScanResult(
        devices,
        unidentified=[ip for ip in opened if ip not in known_ips],
        ports=listened,
        elapsed=loop.time() - started,
    )


def _local_ip_for(target: tuple[str, int], listen_host: str) -> str:
    """Our address on the route to ``target`` (the probe carries it); a UDP connect sends nothing."""
    if listen_host not in ("0.0.0.0", ""):
        return listen_host
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.connect(target)
            return str(sock.getsockname()[0])
        except OSError:
            return "0.0.0.0"
