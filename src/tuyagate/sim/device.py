"""An emulated Tuya device, built on :mod:`tuyagate.protocol` in the device role.

It listens on TCP like a real device (any host/port; a fleet binds 127.0.1.x:6668), speaks any
protocol version including device22, keeps typed DP state, answers query, control, heartbeat,
UPDATEDPS and the sub-device (``cid``) forms of a Zigbee gateway, pushes STATUS on every change,
announces itself over UDP and answers 3.5 ``REQ_DEVINFO`` probes. It behaves like real
hardware where clients depend on it: one TCP client at a time (a client turned away is reset,
as lwIP does when it closes a socket with unread data), the connection closed after
``idle_timeout`` seconds without traffic, and the wire quirks of :mod:`tuyagate.sim.device_options`
(sequence numbering, missing return codes, ACK-only controls, several clients). When the client's
key is wrong it does what real devices do: by default it answers in its own key (3.4/3.5 with a
handshake answer that fails the client's check; 3.2/3.3 with return code 1 and an error text
encrypted with its key, the same bytes every time, as in tinytuya #636 and tuyapi #260; 3.1 stays
silent, its queries carry no key), or it stays silent, or closes (``wrong_key``).
:class:`Faults` injects the failures clients must survive; :mod:`tuyagate.sim.closes` records
whether clients closed their connections cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from tuyagate.errors import HandshakeError, ProtocolError
from tuyagate.protocol import payloads
from tuyagate.protocol.codec import Message
from tuyagate.protocol.commands import Command
from tuyagate.protocol.frames import check_55aa
from tuyagate.protocol.versions import Encryption, get_spec
from tuyagate.sim.closes import CloseHow, CloseLog, CloseRecord
from tuyagate.sim.device_answers import plan_control, query_answer
from tuyagate.sim.device_options import (
    Applied,
    ControlReply,
    Faults,
    SecondClient,
    SeqMode,
    SimChild,
    SimStats,
    WrongKey,
)
from tuyagate.sim.device_wire import IdleWatch, Numbering, SimConnection, StatusSchedule, reset_after_eof
from tuyagate.sim.discovery import DevInfoResponder, DiscoveryAnnouncer

__all__ = ["APPLIED_KEPT", "Applied", "Faults", "SimChild", "SimDevice", "SimStats"]

APPLIED_KEPT = 100_000  # entries of SimDevice.applied kept per device (about 20 MB at most)

_LOGGER = logging.getLogger(__name__)
# Line noise (no frame prefix in it), then a well-framed 55AA frame whose CRC is wrong.
_GARBAGE = (
    b"\xde\xad\xbe\xef noise that is not a frame \xff\xfe"
    + bytes.fromhex("000055aa00000000000000090000000c00000000")
    + b"\x00\x00\x00\x00"
    + bytes.fromhex("0000aa55")
)


class SimDevice:
    """An emulated Tuya device (``async with SimDevice(...) as dev``).

    ``seq_mode`` defaults to ``device`` for 3.4 and 3.5 (as real devices number their frames) and
    ``echo`` otherwise; ``seq_start`` is the
    number of the device's first frame (random by default, like a real device's counter).
    ``status_delay`` is how long after a control's ACK the STATUS push follows.
    ``record_closes`` keeps a :class:`~tuyagate.sim.closes.CloseLog` in :attr:`closes`;
    ``close_log`` also appends it to a JSON-lines file. :attr:`applied` logs every command the
    device applied (a control, or a write of the emulated cloud), not the changes of :meth:`set_dps`.
    """

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
        seq_mode: SeqMode | None = None,
        seq_start: int | None = None,
        return_codes: bool = True,
        control_reply: ControlReply = "ack+status",
        status_delay: float = 0.02,
        record_closes: bool = False,
        close_log: str | Path | None = None,
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
        # Every command applied, in order (see Applied); the newest APPLIED_KEPT, so that an emulator
        # running for days (``tuyagate demo``) does not grow without bound. A load audit of hours fits.
        self.applied: deque[Applied] = deque(maxlen=APPLIED_KEPT)
        self.idle_timeout = idle_timeout
        self.second_client = second_client
        self.wrong_key = wrong_key
        self.seq_mode: SeqMode = seq_mode or ("device" if self.spec.device_numbers_frames else "echo")
        first = seq_start if seq_start is not None else 1 + int.from_bytes(os.urandom(2), "big")
        self.numbering = Numbering(self.seq_mode, first)
        self.return_codes = return_codes
        self.control_reply = control_reply
        # A real device pushes its STATUS some milliseconds after the ACK.
        self._status = StatusSchedule(lambda dps, cid: self._push(dps, cid=cid), status_delay)
        self.closes: CloseLog | None = CloseLog(close_log) if record_closes or close_log is not None else None
        self.product_key = product_key
        self._bind = (host, port)
        self._server: asyncio.Server | None = None
        self._clients: list[SimConnection] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.host = host
        self.port = port
        self._announcer = (
            DiscoveryAnnouncer(
                self._discovery_info, version=self.spec, target=discovery_to, interval=discovery_interval
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
        """Stop listening and drop the clients, like pulling the plug."""
        if self._announcer:
            await self._announcer.stop()
        if self._responder:
            await self._responder.stop()
        if self._server is not None:
            self._server.close()
        self._status.cancel()
        self.disconnect("the device stopped")
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

    def disconnect(self, reason: str = "the device closed the connection") -> None:
        """Close every client connection (the device rebooted its socket)."""
        clients, self._clients = self._clients, []
        for client in clients:
            client.end(reason)

    def rekey(self, local_key: str | bytes) -> None:
        """Take a new local key, as a device re-paired in the app does; connected clients are dropped."""
        self._key = local_key.encode("latin-1") if isinstance(local_key, str) else local_key
        self.disconnect("re-paired with a new local key")

    @property
    def connected(self) -> bool:
        return bool(self._clients)

    @property
    def clients(self) -> int:
        """How many clients are connected now."""
        return len(self._clients)

    # ---------------------------------------------------------------- state changes from "outside"

    async def set_dps(self, dps: Mapping[str, Any]) -> None:
        """Change DPs as if someone pressed a button: the connected clients get a STATUS push."""
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

    def apply_dps(self, dps: Mapping[str, Any], *, cid: str | None = None, push: bool = True) -> dict[str, Any]:
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
            self.applied.append(Applied(time.monotonic(), dict(accepted), cid))
        if accepted and push:
            self._push(accepted, cid=cid)
        return accepted

    # ---------------------------------------------------------------- connection handling

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        how: CloseHow = "device"
        reason = ""
        try:
            how, reason = await self._serve_one(reader, writer)
        except (ConnectionError, OSError) as exc:  # a reset, a broken pipe
            how, reason = "reset", type(exc).__name__
        except asyncio.CancelledError:
            # stop() cancels a connection still sleeping in a reply_delay. Ending normally keeps
            # asyncio's stream callback (which asks a cancelled task for its exception) from logging it.
            how, reason = "device", "the device stopped"
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()
            self._record_close(writer, how, reason)

    def _record_close(self, writer: asyncio.StreamWriter, how: CloseHow, reason: str) -> None:
        if how == "clean":
            self.stats.clean_closes += 1
        elif how == "reset":
            self.stats.reset_closes += 1
        if self.closes is not None:
            peer = writer.get_extra_info("peername") or ("?", 0)
            self.closes.add(CloseRecord(f"{peer[0]}:{peer[1]}", how, reason))

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[CloseHow, str]:
        if self.faults.refuse:
            self.stats.connections_refused += 1
            _reset(writer)
            return "device", "refused (fault)"
        if self._clients and self.second_client != "allow":
            if self.second_client == "refuse":
                self.stats.connections_refused += 1
                _reset(writer)
                return "device", "refused: another client is connected"
            if self.second_client == "ignore":
                self.stats.connections_refused += 1
                return await self._drain_silently(reader)
            self.disconnect("replaced by a new client")
        client = SimConnection(self.spec, self._key, writer, retcodes=self.return_codes)
        self._clients.append(client)
        self.stats.connections_accepted += 1
        self.stats.active_clients += 1
        idle = IdleWatch(client, self.idle_timeout)  # ends it (the read below sees EOF) when silent
        try:
            while True:
                data = await reader.read(4096)
                idle.heard()
                if client.ended_by_device:
                    _LOGGER.debug("sim %s: closed the connection: %s", self.device_id, client.ended_by_device)
                    return "device", client.ended_by_device
                if not data:
                    return await self._on_eof(writer)
                if not await self._receive(client, data):
                    client.end(client.ended_by_device or "closed by a fault or a bad frame")
                    return "device", client.ended_by_device
        finally:
            idle.stop()
            self.stats.active_clients -= 1
            if client in self._clients:
                self._clients.remove(client)

    async def _on_eof(self, writer: asyncio.StreamWriter) -> tuple[CloseHow, str]:
        """The client sent FIN. A real device still sends what it owes (the STATUS after a
        control); a client that closed instead of half-closing answers that with a reset."""
        if not self._status:
            return "clean", ""
        self._status.flush()
        if await reset_after_eof(writer):
            return "reset", "the client closed before reading the STATUS that follows its control"
        return "clean", ""

    async def _drain_silently(self, reader: asyncio.StreamReader) -> tuple[CloseHow, str]:
        try:
            while True:
                async with asyncio.timeout(self.idle_timeout):
                    if not await reader.read(4096):
                        break
        except TimeoutError:
            return "device", f"ignored, then idle for {self.idle_timeout:g} s"
        return "clean", "ignored"

    async def _receive(self, client: SimConnection, data: bytes) -> bool:
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
                client.end(f"dropped after {drop} frames (fault)")
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
            if self.faults.drop_requests and client.established and msg.cmd != Command.HEART_BEAT:
                client.end("dropped a request unanswered (fault)")
                return False
            if not await self._dispatch(client, msg):
                return False
        return True

    async def _on_undecodable(self, client: SimConnection, raw: bytes) -> bool:
        """A frame we cannot verify: most likely the client uses another key."""
        if self.wrong_key == "close":
            client.end("a frame failed its integrity check (wrong key)")
            return False
        if self.wrong_key != "answer":
            return True
        if client.handshake is not None and not client.established:
            # Answer the handshake with our own key, as many devices do: the client sees a bad HMAC.
            await self._send(client, Command.SESS_KEY_NEG_RESP, os.urandom(48), request_seq=1)
        elif self.spec.encryption is Encryption.ECB and _intact_55aa(raw):
            # An intact request we cannot decrypt: reject it with our own key, as real 3.2/3.3 devices do.
            seq, cmd = struct.unpack_from(">II", raw, 4)
            await self._send(client, cmd, b"data format error", request_seq=seq, retcode=1)
        return True

    # ---------------------------------------------------------------- sending

    def _iv(self) -> bytes | None:
        return os.urandom(12) if self.spec.encryption is Encryption.GCM_SESSION else None

    async def _send(
        self,
        client: SimConnection,
        cmd: int,
        body: bytes | dict[str, Any],
        *,
        request_seq: int | None,
        retcode: int = 0,
    ) -> None:
        if self.faults.reply_delay:
            await asyncio.sleep(self.faults.reply_delay)
        if client.ended_by_device or client.writer.is_closing():
            return  # the client is gone (uvloop refuses writes to a closed transport)
        if self.faults.garbage:
            client.writer.write(_GARBAGE)
        seq = self.numbering.next(request_seq)
        frame = client.codec.encode(cmd, body, seq=seq, retcode=retcode, iv=self._iv())
        if self.faults.corrupt:
            frame = _corrupted(frame)
        client.writer.write(frame)
        self.stats.frames_sent += 1

    def _push(self, dps: dict[str, Any], *, cid: str | None = None) -> None:
        if not dps or self.faults.silent:
            return
        body = payloads.status_push(self.spec, self.device_id, dps, t=int(time.time()), cid=cid)
        for client in self._clients:
            if client.established and not client.ended_by_device and not client.writer.is_closing():
                frame = client.codec.encode(Command.STATUS, body, seq=self.numbering.next(None), iv=self._iv())
                client.writer.write(frame)
                self.stats.frames_sent += 1

    # ---------------------------------------------------------------- answering

    async def _dispatch(self, client: SimConnection, msg: Message) -> bool:
        if not client.established:
            return await self._handshake(client, msg)
        if self._status:
            # A device sends what it owes before it answers the next frame: the STATUS of an earlier
            # control never comes after a later control's ACK (which would put stale values last).
            self._status.flush()
        cmd = msg.cmd
        data = msg.data or {}
        seq = msg.seq
        if cmd == Command.HEART_BEAT:
            await self._send(client, Command.HEART_BEAT, b"", request_seq=None)
        elif cmd == Command.DP_QUERY:
            await self._answer_query(client, Command.DP_QUERY, data, seq)
        elif cmd == Command.DP_QUERY_NEW:
            await self._answer_query(client, Command.DP_QUERY_NEW, data, seq)
        elif cmd in (Command.CONTROL, Command.CONTROL_NEW):
            await self._answer_control(client, Command(cmd), data, seq)
        elif cmd == Command.UPDATEDPS:
            await self._send(client, Command.UPDATEDPS, b"", request_seq=seq)
            wanted = [str(d) for d in data.get("dpId", []) if str(d) in self.dps]
            self._push({d: self.dps[d] for d in wanted})
        elif cmd == Command.LAN_EXT_STREAM and data.get("reqType") == "subdev_online_stat_query":
            wanted = list((data.get("data") or {}).get("cids") or self.children)
            online = [c for c in wanted if c in self.children and self.children[c].online]
            offline = [c for c in wanted if c not in online]
            report = payloads.subdev_online_report(online, offline)
            await self._send(client, Command.LAN_EXT_STREAM, report, request_seq=seq)
        elif cmd in (Command.SESS_KEY_NEG_START, Command.SESS_KEY_NEG_FINISH) and client.handshake is not None:
            client.established = False  # a client restarting the negotiation on the same socket
            return await self._handshake(client, msg)
        else:
            await self._send(client, cmd, b"data format error", request_seq=seq, retcode=1)
        return True

    async def _handshake(self, client: SimConnection, msg: Message) -> bool:
        assert client.handshake is not None
        if self.faults.reply_delay and msg.cmd == Command.SESS_KEY_NEG_START:
            await asyncio.sleep(self.faults.reply_delay)
        # Only START is answered, so only START takes a number: FINISH moves no counter.
        seq = self.numbering.next(msg.seq) if msg.cmd == Command.SESS_KEY_NEG_START else 0
        try:
            answer = client.handshake.receive(msg, seq=seq, iv=self._iv())
        except HandshakeError:
            self.stats.bad_frames += 1
            if self.wrong_key == "close":
                client.end("the handshake failed (wrong key)")
                return False
            return True
        if answer is not None:
            if self.faults.silent or client.ended_by_device:
                return True
            client.writer.write(answer)
            self.stats.frames_sent += 1
        else:
            client.established = True
            self.stats.handshakes += 1
        return True

    async def _answer_query(self, client: SimConnection, cmd: Command, data: Mapping[str, Any], seq: int) -> None:
        body, retcode = query_answer(self.spec, self.device_id, self.dps, self.children, cmd, data)
        await self._send(client, cmd, body, request_seq=seq, retcode=retcode)
        self._change_after_answer(data.get("cid"))

    def _change_after_answer(self, cid: str | None) -> None:
        """The ``change_after_answer`` fault: values change and are pushed right behind an answer."""
        if (changed := self.faults.change_after_answer) is not None:
            self.faults.change_after_answer = None
            self._status.flush()  # a control's own STATUS goes first: the change is the newest
            (self.children[cid].dps if cid else self.dps).update(changed)
            self._push(dict(changed), cid=cid)

    async def _answer_control(self, client: SimConnection, cmd: Command, data: Mapping[str, Any], seq: int) -> None:
        plan = plan_control(self.spec, self.device_id, self.dps, self.children, cmd, data)
        if plan.reject:
            await self._send(client, cmd, b"json obj data unvalid", request_seq=seq, retcode=1)
            return
        self.stats.commands += 1
        if plan.reply is not None:  # a query in the form of a control (device22)
            await self._send(client, cmd, plan.reply, request_seq=seq)
            self._change_after_answer(plan.cid)
            return
        # Real devices ACK a control with an empty frame, then push STATUS with what changed.
        await self._send(client, cmd, b"", request_seq=seq)
        accepted = self.apply_dps(plan.wanted, cid=plan.cid, push=False)
        if self.control_reply == "ack+status":
            self._status.later(accepted, plan.cid)
        self._change_after_answer(plan.cid)

    def _discovery_info(self) -> dict[str, Any]:
        return {
            "ip": self.host,
            "gwId": self.device_id,
            "active": 2,
            "ablilty": 0,
            "encrypt": self.spec.encrypted_announcement,
            "productKey": self.product_key,
            "version": self.spec.name,
            "token": True,
            "wf_cfg": True,
        }


def _intact_55aa(raw: bytes) -> bool:
    """Whether a 55AA frame passes its CRC (so a failure to read it is a key, not a line, problem)."""
    try:
        check_55aa(raw)
    except ProtocolError:
        return False
    return True


def _corrupted(frame: bytes) -> bytes:
    """The frame with the last byte of its integrity check flipped (CRC32, HMAC-SHA256 or GCM tag: in
    every format it is the field just before the 4-byte suffix), framing intact."""
    return frame[:-5] + bytes([frame[-5] ^ 0x01]) + frame[-4:]


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close a connection with a reset (SO_LINGER 0), the way a device turns a client away."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _same_type(old: Any, new: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool)
    if isinstance(old, int | float):
        return isinstance(new, int | float)
    return type(old) is type(new)
