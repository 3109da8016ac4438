"""An emulated Tuya device, built on :mod:`tuyagate.protocol` in the device role.

It listens on TCP like a real device (any host/port; a fleet binds 127.0.1.x:6668), speaks any
protocol version including device22, keeps typed DP state, answers query, control, heartbeat,
UPDATEDPS and the sub-device (``cid``) forms of a Zigbee gateway, pushes STATUS on every change,
announces itself over UDP and answers 3.5 ``REQ_DEVINFO`` probes. It behaves like real
hardware where clients depend on it: one TCP client at a time, the connection closed after
``idle_timeout`` seconds without traffic, and silence (or a close, or an answer with its own
key) when the client's key is wrong. :class:`Faults` injects the failures clients must survive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from tuyagate.errors import HandshakeError, ProtocolError
from tuyagate.protocol import payloads
from tuyagate.protocol.codec import Message, MessageCodec, Role
from tuyagate.protocol.commands import Command
from tuyagate.protocol.handshake import DeviceHandshake
from tuyagate.protocol.versions import Encryption, Template, VersionSpec, get_spec
from tuyagate.sim.discovery import DevInfoResponder, DiscoveryAnnouncer

__all__ = ["Faults", "SimChild", "SimDevice", "SimStats"]

_LOGGER = logging.getLogger(__name__)
SecondClient = Literal["replace", "refuse", "ignore"]
WrongKey = Literal["answer", "silent", "close"]
# Line noise (no frame prefix in it), then a well-framed 55AA frame whose CRC is wrong.
_GARBAGE = (
    b"\xde\xad\xbe\xef noise that is not a frame \xff\xfe"
    + bytes.fromhex("000055aa00000000000000090000000c00000000")
    + b"\x00\x00\x00\x00"
    + bytes.fromhex("0000aa55")
)


@dataclass(slots=True)
class Faults:
    """Failure knobs; change them at any time, they apply to the next frame."""

    reply_delay: float = 0.0  # seconds before every answer
    drop_after_frames: int | None = None  # close the connection after this many received frames
    refuse: bool = False  # close new connections at once
    garbage: bool = False  # send garbage bytes before every answer
    silent: bool = False  # read everything, answer nothing


@dataclass(slots=True)
class SimChild:
    """A sub-device behind an emulated gateway."""

    dps: dict[str, Any] = field(default_factory=dict)
    online: bool = True


@dataclass(slots=True)
class SimStats:
    """Counters that tests assert on."""

    connections_accepted: int = 0
    connections_refused: int = 0
    active_clients: int = 0
    frames_received: int = 0
    frames_sent: int = 0
    handshakes: int = 0
    bad_frames: int = 0
    commands: int = 0


class _Client:
    """One accepted TCP connection and its protocol state."""

    __slots__ = ("codec", "established", "frames", "handshake", "writer")

    def __init__(self, spec: VersionSpec, key: bytes, writer: asyncio.StreamWriter) -> None:
        self.codec = MessageCodec(spec, key, role=Role.DEVICE)
        self.handshake = DeviceHandshake(self.codec, os.urandom(16)) if spec.session_key else None
        self.established = not spec.session_key
        self.writer = writer
        self.frames = 0


class SimDevice:
    """An emulated Tuya device (``async with SimDevice(...) as dev``)."""

    def __init__(
        self,
        *,
        device_id: str,
        local_key: str | bytes,
        version: str = "3.3",
        dps: Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        children: Mapping[str, SimChild] | None = None,
        faults: Faults | None = None,
        idle_timeout: float = 30.0,
        second_client: SecondClient = "replace",
        wrong_key: WrongKey = "answer",
        discovery_to: tuple[str, int] | None = None,
        discovery_interval: float = 5.0,
        probe_port: int | None = None,
        product_key: str = "keysimulated0000",
    ) -> None:
        self.device_id = device_id
        self._key = local_key.encode("latin-1") if isinstance(local_key, str) else local_key
        self.spec = get_spec(version)
        self.version = version
        self.dps: dict[str, Any] = {str(k): v for k, v in (dps or {"1": False}).items()}
        self.children: dict[str, SimChild] = dict(children or {})
        self.faults = faults or Faults()
        self.stats = SimStats()
        self.idle_timeout = idle_timeout
        self.second_client = second_client
        self.wrong_key = wrong_key
        self.product_key = product_key
        self._bind = (host, port)
        self._server: asyncio.Server | None = None
        self._client: _Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._seq = 0
        self.host = host
        self.port = port
        self._announcer = (
            DiscoveryAnnouncer(
                self._discovery_info, version=self.spec.name, target=discovery_to, interval=discovery_interval
            )
            if discovery_to
            else None
        )
        self._responder = (
            DevInfoResponder(self._discovery_info, host=host, port=probe_port) if probe_port is not None else None
        )

    def __repr__(self) -> str:  # never shows the key
        return f"SimDevice(id={self.device_id!r}, version={self.spec.label!r}, at={self.host}:{self.port})"

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start listening (and announcing, and answering probes, when configured)."""
        self._server = await asyncio.start_server(self._serve, self._bind[0], self._bind[1], reuse_address=True)
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = sockname[0], sockname[1]
        self._bind = (self.host, self.port)  # a restart comes back on the same port, like a rebooted device
        if self._announcer:
            await self._announcer.start()
        if self._responder:
            await self._responder.start()

    async def stop(self) -> None:
        """Stop listening and drop the client, like pulling the plug."""
        if self._announcer:
            await self._announcer.stop()
        if self._responder:
            await self._responder.stop()
        if self._server is not None:
            self._server.close()
        self.disconnect()
        for writer in list(self._writers):
            writer.close()
        if self._tasks:
            # Closing the writers ends every connection task; cancel only a straggler.
            _, pending = await asyncio.wait(list(self._tasks), timeout=1.0)
            for task in pending:
                task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    async def __aenter__(self) -> SimDevice:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def disconnect(self) -> None:
        """Close the current client connection (the device rebooted its socket)."""
        if self._client is not None:
            self._client.writer.close()
            self._client = None

    @property
    def connected(self) -> bool:
        return self._client is not None

    # ---------------------------------------------------------------- state changes from "outside"

    async def set_dps(self, dps: Mapping[str, Any]) -> None:
        """Change DPs as if someone pressed a button: the connected client gets a STATUS push."""
        changed = {str(k): v for k, v in dps.items()}
        self.dps.update(changed)
        self._push(changed)

    async def set_child_dps(self, cid: str, dps: Mapping[str, Any]) -> None:
        """Change a sub-device's DPs and push them with its ``cid``."""
        changed = {str(k): v for k, v in dps.items()}
        self.children[cid].dps.update(changed)
        self._push(changed, cid=cid)

    async def push_status(self) -> None:
        """Push the whole current state now."""
        self._push(dict(self.dps))

    def apply_dps(self, dps: Mapping[str, Any], *, cid: str | None = None) -> dict[str, Any]:
        """Apply values as a command would (type-checked); return what was accepted and push it."""
        target = self.children[cid].dps if cid else self.dps
        accepted: dict[str, Any] = {}
        for key, value in dps.items():
            key = str(key)
            if key in target and not _same_type(target[key], value):
                _LOGGER.debug("sim %s: ignoring DP %s with a value of the wrong type", self.device_id, key)
                continue
            target[key] = value
            accepted[key] = value
        if accepted:
            self._push(accepted, cid=cid)
        return accepted

    # ---------------------------------------------------------------- connection handling

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self._serve_one(reader, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.faults.refuse:
            self.stats.connections_refused += 1
            return
        if self._client is not None:
            if self.second_client == "refuse":
                self.stats.connections_refused += 1
                return
            if self.second_client == "ignore":
                self.stats.connections_refused += 1
                await self._drain_silently(reader)
                return
            self.disconnect()
        client = _Client(self.spec, self._key, writer)
        self._client = client
        self.stats.connections_accepted += 1
        self.stats.active_clients += 1
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(4096), self.idle_timeout)
                except TimeoutError:
                    _LOGGER.debug("sim %s: closing an idle connection", self.device_id)
                    return
                if not data or self._client is not client:
                    return
                if not await self._receive(client, data):
                    return
        finally:
            self.stats.active_clients -= 1
            if self._client is client:
                self._client = None

    async def _drain_silently(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(TimeoutError):
            while await asyncio.wait_for(reader.read(4096), self.idle_timeout):
                pass

    async def _receive(self, client: _Client, data: bytes) -> bool:
        """Handle received bytes; False closes the connection."""
        try:
            raws = client.codec.split(data)
        except ProtocolError:
            self.stats.bad_frames += 1
            return True
        for raw in raws:
            client.frames += 1
            self.stats.frames_received += 1
            drop = self.faults.drop_after_frames
            if drop is not None and client.frames > drop:
                return False
            try:
                msg = client.codec.decode_frame(raw)
            except (ProtocolError, HandshakeError):
                self.stats.bad_frames += 1
                if not await self._on_undecodable(client, raw):
                    return False
                continue
            if self.faults.silent:
                continue
            if not await self._dispatch(client, msg):
                return False
        return True

    async def _on_undecodable(self, client: _Client, raw: bytes) -> bool:
        """A frame we cannot verify: most likely the client uses another key."""
        if self.wrong_key == "close":
            return False
        if self.wrong_key == "answer" and client.handshake is not None and not client.established:
            # Answer the handshake with our own key, as many devices do: the client sees a bad HMAC.
            await self._send(client, Command.SESS_KEY_NEG_RESP, os.urandom(48), seq=1)
        return True

    def _next_seq(self, request_seq: int) -> int:
        self._seq += 1
        # 3.5 devices number their frames globally; older ones echo the request's seq.
        return self._seq if self.spec.frame.value == "6699" else request_seq

    async def _send(
        self, client: _Client, cmd: int, body: bytes | dict[str, Any], *, seq: int, retcode: int = 0
    ) -> None:
        if self.faults.reply_delay:
            await asyncio.sleep(self.faults.reply_delay)
        if self._client is not client:
            return
        if self.faults.garbage:
            client.writer.write(_GARBAGE)
        iv = os.urandom(12) if self.spec.encryption is Encryption.GCM_SESSION else None
        client.writer.write(client.codec.encode(cmd, body, seq=seq, retcode=retcode, iv=iv))
        self.stats.frames_sent += 1

    def _push(self, dps: dict[str, Any], *, cid: str | None = None) -> None:
        client = self._client
        if client is None or not client.established or not dps or self.faults.silent:
            return
        body = payloads.status_push(self.spec, self.device_id, dps, t=int(time.time()), cid=cid)
        self._seq += 1
        iv = os.urandom(12) if self.spec.encryption is Encryption.GCM_SESSION else None
        client.writer.write(client.codec.encode(Command.STATUS, body, seq=self._seq, iv=iv))
        self.stats.frames_sent += 1

    async def _dispatch(self, client: _Client, msg: Message) -> bool:
        seq = self._next_seq(msg.seq)
        if not client.established:
            return await self._handshake(client, msg, seq)
        cmd = msg.cmd
        data = msg.data or {}
        if cmd == Command.HEART_BEAT:
            await self._send(client, Command.HEART_BEAT, b"", seq=seq)
        elif cmd == Command.DP_QUERY:
            await self._answer_query(client, Command.DP_QUERY, data, seq)
        elif cmd == Command.DP_QUERY_NEW:
            await self._answer_query(client, Command.DP_QUERY_NEW, data, seq)
        elif cmd in (Command.CONTROL, Command.CONTROL_NEW):
            await self._answer_control(client, Command(cmd), data, seq)
        elif cmd == Command.UPDATEDPS:
            await self._send(client, Command.UPDATEDPS, b"", seq=seq)
            wanted = [str(d) for d in data.get("dpId", []) if str(d) in self.dps]
            self._push({d: self.dps[d] for d in wanted})
        elif cmd == Command.LAN_EXT_STREAM and data.get("reqType") == "subdev_online_stat_query":
            wanted = list((data.get("data") or {}).get("cids") or self.children)
            online = [c for c in wanted if c in self.children and self.children[c].online]
            offline = [c for c in wanted if c not in online]
            await self._send(client, Command.LAN_EXT_STREAM, payloads.subdev_online_report(online, offline), seq=seq)
        elif cmd in (Command.SESS_KEY_NEG_START, Command.SESS_KEY_NEG_FINISH) and client.handshake is not None:
            client.established = False  # a client restarting the negotiation on the same socket
            return await self._handshake(client, msg, seq)
        else:
            await self._send(client, cmd, b"data format error", seq=seq, retcode=1)
        return True

    async def _handshake(self, client: _Client, msg: Message, seq: int) -> bool:
        assert client.handshake is not None
        try:
            answer = client.handshake.receive(msg, seq=seq, iv=os.urandom(12))
        except HandshakeError:
            self.stats.bad_frames += 1
            return self.wrong_key != "close"
        if answer is not None:
            if self.faults.reply_delay:
                await asyncio.sleep(self.faults.reply_delay)
            if self.faults.silent:
                return True
            client.writer.write(answer)
            self.stats.frames_sent += 1
        else:
            client.established = True
            self.stats.handshakes += 1
        return True

    def _cid_of(self, data: Mapping[str, Any]) -> str | None:
        cid = data.get("cid")
        inner = data.get("data")
        if cid is None and isinstance(inner, dict):
            cid = inner.get("cid")
        return str(cid) if cid is not None else None

    async def _answer_query(self, client: _Client, cmd: Command, data: Mapping[str, Any], seq: int) -> None:
        cid = self._cid_of(data)
        if cid is not None:
            child = self.children.get(cid)
            if child is None or not child.online:
                await self._send(client, cmd, b"json obj data unvalid", seq=seq, retcode=1)
                return
            values = child.dps
        else:
            if self.spec.device22 and cmd == Command.DP_QUERY:
                await self._send(client, cmd, b"json obj data unvalid", seq=seq, retcode=1)
                return
            values = self.dps
        body = payloads.query_reply(self.spec, self.device_id, values, t=int(time.time()), cid=cid)
        await self._send(client, cmd, body, seq=seq)

    async def _answer_control(self, client: _Client, cmd: Command, data: Mapping[str, Any], seq: int) -> None:
        inner = data.get("data")
        dps = inner.get("dps") if isinstance(inner, dict) and "dps" in inner else data.get("dps")
        if not isinstance(dps, dict):
            await self._send(client, cmd, b"json obj data unvalid", seq=seq, retcode=1)
            return
        cid = self._cid_of(data)
        if cid is not None and (cid not in self.children or not self.children[cid].online):
            await self._send(client, cmd, b"json obj data unvalid", seq=seq, retcode=1)
            return
        self.stats.commands += 1
        wanted = {k: v for k, v in dps.items() if v is not None}
        asked = [str(k) for k, v in dps.items() if v is None]
        if asked and not wanted and cmd == Command.CONTROL_NEW and self.spec.template is Template.LEGACY:
            # device22 status query: CONTROL_NEW with the wanted DPs set to null.
            source = self.children[cid].dps if cid else self.dps
            values = {k: source[k] for k in asked if k in source}
            body = payloads.query_reply(self.spec, self.device_id, values, t=int(time.time()), cid=cid)
            await self._send(client, cmd, body, seq=seq)
            return
        await self._send(client, cmd, b"", seq=seq)
        self.apply_dps(wanted, cid=cid)

    def _discovery_info(self) -> dict[str, Any]:
        return {
            "ip": self.host,
            "gwId": self.device_id,
            "active": 2,
            "ablilty": 0,
            "encrypt": self.spec.name != "3.1",
            "productKey": self.product_key,
            "version": self.spec.name,
            "token": True,
            "wf_cfg": True,
        }


def _same_type(old: Any, new: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool)
    if isinstance(old, int | float):
        return isinstance(new, int | float)
    return type(old) is type(new)
