"""The async LAN client: one persistent, serialized connection per device.

A real Tuya device serves one TCP client at a time and answers one request at a time, and its
3.5 replies do not echo the request's sequence number. So every request from any number of
concurrent callers goes through one connection, one at a time (an ``asyncio.Lock`` is a FIFO),
and a reply is matched by being the next frame of the request's command; unsolicited STATUS
pushes (which may come first) go to the event subscribers. Every call has one deadline that
covers waiting for the lock, connecting, the handshake and the answer, and each stage raises
its own error type when the deadline passes, so a caller always learns *what* did not answer.
That deadline is the caller's :class:`~tuyagate.deadline.Deadline` when it passes one (the router
hands its own down), else ``timeout`` seconds from now; inside it is one loop-clock float. A wrong
local key is told apart from a silent device wherever the protocol allows (:class:`LocalKeyError`).

After a request timed out or was cancelled its answer may still come, and would then be taken
for the answer of the next request: the connection is dropped instead and re-opened on demand.
Helpers: :mod:`~tuyagate.lan.opening`, :mod:`~tuyagate.lan.replies`, :mod:`~tuyagate.lan.local_key`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tuyagate.bus import EventBus
from tuyagate.deadline import Deadline
from tuyagate.errors import (
    ConfigError,
    DeviceError,
    LocalKeyError,
    TuyaConnectionError,
    TuyaConnectionLost,
    TuyaError,
)
from tuyagate.lan import replies
from tuyagate.lan.backoff import Backoff, Pacer
from tuyagate.lan.closing import StatusOwed, close_gracefully
from tuyagate.lan.detect import DEVICE22_DEFAULT_DPS, device22_fallback
from tuyagate.lan.events import Event, EventKind, Subscription, for_child
from tuyagate.lan.keepalive import KeepAlive
from tuyagate.lan.link import Link, ProbeNotes
from tuyagate.lan.local_key import LocalKey
from tuyagate.lan.opening import open_link
from tuyagate.lan.replies import corrupted_answer, online_map, push_event, refusal, refused_first_request, unanswered
from tuyagate.lan.support import ConnectionStats, Pending, ends_at, expire, wait_turn_by
from tuyagate.protocol import payloads
from tuyagate.protocol.codec import Message, MessageCodec
from tuyagate.protocol.commands import Command
from tuyagate.protocol.versions import VERSIONS, VersionSpec, get_spec

if TYPE_CHECKING:
    from tuyagate.lan.scanner import DiscoveredDevice
    from tuyagate.lan.subdevice import SubDevice

__all__ = ["DEFAULT_PORT", "ConnectionStats", "DeviceConnection"]

_LOGGER = logging.getLogger(__name__)
DEFAULT_PORT = 6668
_TAKE_NEWER = frozenset({Command.DP_QUERY, Command.DP_QUERY_NEW, Command.CONTROL, Command.CONTROL_NEW})  # see _newer
Body = dict[str, Any]  # a request's JSON body
Build = Callable[[VersionSpec], tuple[Command, Body]]


class DeviceConnection:
    """A persistent connection to one Tuya device on the LAN.

    ``version`` is "3.1".."3.5", "device22" or None to detect it on first use. All methods are
    safe to call from many tasks at once. Use ``async with`` (or ``connect``/``close``). Every
    request takes ``timeout`` (seconds) or ``deadline`` (a :class:`~tuyagate.deadline.Deadline`
    handed down by a caller); the earlier one wins, and without either ``self.timeout`` applies.

    Its helpers use it through named seams only: its :class:`~tuyagate.lan.link.Link` through the
    ``LinkOwner`` methods (``next_seq`` and the ``on_link_*``/``on_bad_frame`` callbacks, not meant
    for users), its :class:`~tuyagate.lan.keepalive.KeepAlive` through ``KeepAliveHost`` (public
    properties such as ``busy``, ``last_sent`` and ``wanted``) and the shared
    :class:`~tuyagate.lan.backoff.Pacer`, version detection through :meth:`probe`.

    ``key_source`` (the hub passes the vault's entry) is asked for the local key again before each new
    link: when a re-paired device's new key has been stored meanwhile, the connection takes it and
    tries at once instead of backing off, so it recovers without a restart.
    """

    __slots__ = (
        "_bus",
        "_d22_dps",
        "_keep",
        "_keepalive",
        "_key",
        "_last_status",
        "_last_tx",
        "_link",
        "_lock",
        "_lost_link",
        "_newer",
        "_notes",
        "_pacer",
        "_pending",
        "_seq",
        "_spec",
        "_status_owed",
        "closed",
        "device_id",
        "heartbeat_interval",
        "host",
        "port",
        "stats",
        "timeout",
    )

    def __init__(
        self,
        device_id: str,
        host: str,
        local_key: str | bytes,
        version: str | VersionSpec | None = None,
        *,
        port: int = DEFAULT_PORT,
        timeout: float = 5.0,
        heartbeat_interval: float | None = 10.0,
        backoff: Backoff | None = None,
        keep_connected: bool = False,
        device22_dps: Iterable[str] | None = None,
        probe_notes: ProbeNotes | None = None,
        key_source: Callable[[], str | bytes | None] | None = None,
    ) -> None:
        if timeout <= 0:
            raise ConfigError("timeout must be positive")
        self.device_id = device_id
        self.host = host
        self.port = port
        self.timeout = timeout
        self.heartbeat_interval = heartbeat_interval
        self._key = LocalKey(local_key, key_source)  # read again before each new link (a re-paired device)
        self._spec: VersionSpec | None = version if isinstance(version, VersionSpec) or version is None else None
        if isinstance(version, str):
            self._spec = get_spec(version)
        self._pacer = Pacer(backoff)
        self._keep = keep_connected
        self._d22_dps = list(device22_dps) if device22_dps else None
        self._lock = asyncio.Lock()
        self._link: Link | None = None
        self._lost_link = False  # a link went down since the last open: pushes (and late ACKs) may be missed
        self._pending: Pending | None = None
        self._bus: EventBus[Event] = EventBus(on_change=self._subscribers_changed)
        self._seq = 0
        self._last_tx = 0.0
        self._last_status: dict[str, Any] | None = None
        self._newer: dict[str | None, dict[str, Any]] | None = None  # pushes read after an answer, by cid
        self._keepalive = KeepAlive(self, self._pacer, self._publish)
        self._notes = probe_notes  # set on the short-lived connections of version detection
        self._status_owed = StatusOwed()  # the STATUS that follows a control's ACK, until it comes
        self.stats = ConnectionStats()
        self.closed = False

    @classmethod
    def from_discovery(cls, found: DiscoveredDevice, local_key: str | bytes, **kwargs: Any) -> DeviceConnection:
        """A connection to a device heard by :func:`tuyagate.lan.scanner.scan` (its broadcast names IP and version)."""
        version = found.version if found.version in VERSIONS else None
        return cls(found.device_id, found.ip, local_key, version, **kwargs)

    def __repr__(self) -> str:  # never shows the key
        version = self._spec.label if self._spec else "auto"
        return f"DeviceConnection(id={self.device_id!r}, at={self.host}:{self.port}, version={version!r})"

    @property
    def name(self) -> str:
        """How messages name the device."""
        return f"device {self.device_id} at {self.host}:{self.port}"

    @property
    def spec(self) -> VersionSpec | None:
        """The protocol version in use (None until detected)."""
        return self._spec

    @property
    def version(self) -> str | None:
        """The protocol version as get_spec reads it ("3.3", "device22", ...), None until detected."""
        return self._spec.label if self._spec else None

    @property
    def connected(self) -> bool:
        return self._link is not None and not self._link.lost

    @property
    def busy(self) -> bool:
        """A request holds the connection, or waits for it."""
        return self._lock.locked()

    @property
    def last_sent(self) -> float:
        """Event-loop time of the last frame sent (0.0 before the first)."""
        return self._last_tx

    @property
    def probe_notes(self) -> ProbeNotes | None:
        """What undecodable frames told a version probe (None on ordinary connections)."""
        return self._notes

    def probe(self, version: str | VersionSpec, *, timeout: float) -> DeviceConnection:
        """A short-lived connection to the same device, trying ``version``, that keeps probe notes.

        Version detection runs one per candidate version; it never heartbeats or reconnects.
        """
        opts: dict[str, Any] = {"port": self.port, "timeout": timeout, "heartbeat_interval": None}
        return DeviceConnection(self.device_id, self.host, self._key.value, version, probe_notes=ProbeNotes(), **opts)

    @property
    def last_status(self) -> dict[str, Any] | None:
        """The DP values last seen (query answers merged with pushes), or None before the first."""
        return None if self._last_status is None else dict(self._last_status)

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> DeviceConnection:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self, *, timeout: float | None = None, deadline: Deadline | None = None) -> bool:
        """Open the connection now (requests open it on demand anyway); True when this call opened it."""
        at = ends_at(deadline, timeout, self.timeout, self._link)
        await self._acquire(at)
        try:
            if self.connected:
                return False
            await self._ensure_link(at)
            return True
        finally:
            self._lock.release()

    async def close(self) -> None:
        """Close the connection, stop heartbeats and reconnects, end every event stream.

        The close is clean (see :mod:`tuyagate.lan.closing`): the STATUS that follows a control
        is waited for briefly, then the connection is half-closed and drained to the device's EOF,
        so the device never sees a reset. A request still in flight is failed at once.
        """
        self.closed = True
        self._keepalive.cancel()
        link = self._link
        if link is not None:
            if self._pending is None:
                await close_gracefully(link, owed=self._status_owed)
            self._detach(link, "closed by the client", publish=False)
        self._bus.close()
        await self._keepalive.wait_stopped()

    # ---------------------------------------------------------------- public requests

    async def status(
        self, *, cid: str | None = None, timeout: float | None = None, deadline: Deadline | None = None
    ) -> dict[str, Any]:
        """The current DP values (of sub-device ``cid`` when given)."""
        at = ends_at(deadline, timeout, self.timeout, self._link)

        def build(spec: VersionSpec) -> tuple[Command, dict[str, Any]]:
            dp_ids = self._d22_dps or DEVICE22_DEFAULT_DPS  # device22 answers only the DPs asked for
            return payloads.query_request(spec, self.device_id, t=int(time.time()), cid=cid, dp_ids=dp_ids)

        msg = await self._transact(build, want_data=True, idempotent=True, deadline=at, cid=cid)
        spec = self._spec
        if msg.data_unvalid and cid is None and spec is not None and not spec.device22:
            # The device22 symptom: ask again as CONTROL_NEW with null DPs (lan-protocol.md §2.8).
            _LOGGER.info("%s rejected a plain query; switching it to the device22 variant", self.name)
            self._spec, self._d22_dps = device22_fallback(spec, self._d22_dps, self._last_status)
            msg = await self._transact(build, want_data=True, idempotent=True, deadline=at)
        self._check(msg, "status query")
        dps = msg.dps
        if dps is None:
            raise DeviceError(f"{self.name} answered the status query without DP values")
        newer, self._newer = self._newer, None
        dps = {**dps, **newer[cid]} if newer and cid in newer else dict(dps)
        if cid is None:
            self._remember(dps)
        return dps

    async def set_dps(
        self,
        dps: Mapping[str, Any] | Mapping[int, Any],
        *,
        cid: str | None = None,
        timeout: float | None = None,
        deadline: Deadline | None = None,
    ) -> dict[str, Any]:
        """Set DP values (never retried: not idempotent); returns them as the device holds them after its
        ACK: the ones sent, overlaid by any it answered or pushed right behind the ACK (a clamped value)."""
        if not dps:
            raise ConfigError("set_dps needs at least one DP value")
        values = {str(k): v for k, v in dps.items()}
        at = ends_at(deadline, timeout, self.timeout, self._link)

        def build(spec: VersionSpec) -> tuple[Command, dict[str, Any]]:
            # The device pushes STATUS after its ACK (on_link_message clears this when it comes): a
            # close waits briefly for it. Noted just before sending, as the STATUS can arrive in the
            # ACK's own read.
            self._status_owed.expect()
            return payloads.control_request(spec, self.device_id, values, t=int(time.time()), cid=cid)

        try:
            msg = await self._transact(build, want_data=False, idempotent=False, deadline=at, cid=cid)
            self._check(msg, "command")
        except BaseException:
            self._status_owed.clear()  # nothing was accepted, so nothing follows
            raise
        newer, self._newer = self._newer, None  # pushes read after the ACK came: newer than the command
        if (answered := msg.dps) is not None:
            self._status_owed.clear()  # the answer carried the values itself
        return {**values, **(answered or {}), **(newer[cid] if newer and cid in newer else {})}

    async def update_dps(
        self, dp_ids: Iterable[int | str] = (1,), *, timeout: float | None = None, deadline: Deadline | None = None
    ) -> None:
        """Ask the device to refresh these DPs (UPDATEDPS 0x12); the fresh values arrive as STATUS events."""
        at = ends_at(deadline, timeout, self.timeout, self._link)
        await self._request(payloads.updatedps_request(list(dp_ids)), "UPDATEDPS request", want_data=False, at=at)

    async def heartbeat(
        self, *, timeout: float | None = None, deadline: Deadline | None = None, reconnect: bool = True
    ) -> None:
        """Ping the device (it closes connections that stay silent for about 30 s).

        ``reconnect=False`` pings only an open connection and does nothing when there is none
        (what the background heartbeat does).
        """
        at = ends_at(deadline, timeout, self.timeout, self._link)
        await self._acquire(at)
        try:
            if not reconnect and not self.connected:
                return
            link = await self._ensure_link(at)
            cmd, body = payloads.heartbeat_request(self.device_id)
            msg = await self._exchange(link, cmd, body, want_data=False, deadline=at)
        finally:
            self._lock.release()
        self._check(msg, "heartbeat")

    async def subdevices_online(
        self, cids: Iterable[str] = (), *, timeout: float | None = None, deadline: Deadline | None = None
    ) -> dict[str, bool]:
        """Which sub-devices of a gateway are online (all of them when ``cids`` is empty)."""
        request = payloads.subdev_online_query(list(cids))
        at = ends_at(deadline, timeout, self.timeout, self._link)
        return online_map(await self._request(request, "sub-device online query", want_data=True, at=at))

    def events(self, *, cid: str | None = None, maxsize: int = 256) -> Subscription:
        """Subscribe to pushes. While subscribed, a lost connection is re-opened in the background."""
        return self._bus.subscribe(accept=for_child(cid), maxsize=maxsize)

    @property
    def wanted(self) -> bool:
        """Whether the connection should be kept open: ``keep_connected``, or someone follows its events."""
        return self._keep or len(self._bus) > 0

    def listen(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` with every event, inside the reader (no queue); returns the function that stops it.

        The router's devices follow their connection this way. Like a subscription, a listener keeps a
        lost connection re-opening in the background.
        """
        return self._bus.listen(callback)

    def child(self, cid: str) -> SubDevice:
        """A handle on sub-device ``cid`` of this gateway; it uses this connection."""
        from tuyagate.lan.subdevice import SubDevice

        return SubDevice(self, cid)

    # ---------------------------------------------------------------- request machinery

    async def _acquire(self, deadline: float) -> None:
        if self.closed:
            raise TuyaConnectionError(f"the connection to {self.name} was closed")
        if self._lock.locked():
            await wait_turn_by(self._lock, deadline, self.name, self.stats)
        else:
            await self._lock.acquire()  # free: taken at once, no timer needed

    async def _transact(
        self, build: Build, *, want_data: bool, idempotent: bool, deadline: float, cid: str | None = None
    ) -> Message:
        await self._acquire(deadline)
        try:
            for attempt in (1, 2):
                link = self._link
                if link is None or link.lost:  # an open link is used as it is: no coroutine for that
                    link = await self._ensure_link(deadline)
                assert self._spec is not None
                cmd, body = build(self._spec)
                try:
                    return await self._exchange(link, cmd, body, want_data=want_data, deadline=deadline, cid=cid)
                except TuyaConnectionLost:
                    if not idempotent or attempt == 2 or self._notes is not None:
                        raise
                    _LOGGER.info("%s: connection lost during a %s; retrying once", self.name, cmd.name)
            raise AssertionError("unreachable")
        finally:
            self._lock.release()

    async def _exchange(
        self, link: Link, cmd: Command, body: Body, *, want_data: bool, deadline: float, cid: str | None = None
    ) -> Message:
        loop = link.loop
        future: asyncio.Future[Message] = loop.create_future()
        pending = Pending(cmd, want_data, future, cid)
        self._pending, self._newer = pending, None
        self.stats.requests += 1
        try:
            link.write(link.codec.encode(cmd, body, seq=self.next_seq(), iv=link.new_iv()))
            self._last_tx = loop.time()
            timer = loop.call_at(deadline, expire, future)  # cheaper than asyncio.timeout on the hot path
            try:
                return await future
            finally:
                timer.cancel()
        except TimeoutError:
            self.stats.timeouts += 1
            self._detach(link, f"no answer to {cmd.name}")
            raise unanswered(self.name, cmd, link.codec.spec) from None
        except TuyaError as exc:  # lost, or an unreadable answer: a command may have been applied
            raise replies.after_sending(cmd, exc)  # noqa: B904 - the same error, marked
        except asyncio.CancelledError:
            self._detach(link, f"{cmd.name} cancelled while waiting for its answer")
            raise
        finally:
            if self._pending is pending:
                self._pending = None

    async def _request(self, request: tuple[Command, Body], what: str, *, want_data: bool, at: float) -> Message:
        """An idempotent request whose frame is the same in every version, its answer checked."""
        msg = await self._transact(lambda _spec: request, want_data=want_data, idempotent=True, deadline=at)
        self._check(msg, what)
        return msg

    def _check(self, msg: Message, what: str) -> None:
        if msg.retcode or (msg.text is not None and msg.data is None):
            raise refusal(msg, what, self.name, self._spec)

    def next_seq(self) -> int:
        """The sequence number of our next frame (part of the ``LinkOwner`` seam)."""
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return self._seq

    # ---------------------------------------------------------------- opening

    async def _ensure_link(self, deadline: float) -> Link:
        """The open link, or a new one (called with the lock held)."""
        link = self._link
        if link is not None and not link.lost:
            return link
        if self.closed:  # closed while this request waited for its turn, or after its link was cut
            raise TuyaConnectionError(f"the connection to {self.name} was closed")
        if self._key.reload(self.name):
            self._pacer.clear()  # the backoff was most likely for the old key: try the new one at once
        pacer = self._pacer
        if pacer.not_before:  # an earlier attempt failed or the device dropped us (else no wait is due)
            await pacer.wait_turn(deadline, self.name)
        try:
            if self._spec is None:
                from tuyagate.lan.detect import detect_version

                self._spec = await detect_version(self, deadline)
            link = await self._open(self._spec, deadline)
        except TuyaError as exc:
            pacer.failed(asyncio.get_running_loop().time(), exc)
            raise
        pacer.succeeded()
        return link

    async def _open(self, spec: VersionSpec, deadline: float) -> Link:
        link = await open_link(self, MessageCodec(spec, self._key.value), self.host, self.port, self._notes, deadline)
        self._link = link
        self.stats.connects += 1
        self._last_tx = link.loop.time()
        self._keepalive.schedule()
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("connected to %s (protocol %s)", self.name, spec.label)
        if len(self._bus):
            self._publish(Event(EventKind.CONNECTED, self.device_id))
        if self._lost_link and self._last_status is not None and self._notes is None:
            self._keepalive.catch_up_soon()  # runs once this caller releases the connection
        self._lost_link = False
        return link

    # ---------------------------------------------------------------- callbacks from the link (LinkOwner)

    def on_link_message(self, link: Link, msg: Message) -> None:
        """A message from ``link``: the answer of the request in flight, or a push for the subscribers."""
        if link is not self._link:
            return
        pending = self._pending
        if pending is not None and msg.cmd == pending.cmd and (pending.cid is None or msg.cid in (None, pending.cid)):
            if msg.is_ack and pending.want_data and not msg.retcode:
                return  # the empty ACK some devices send before the data
            self._pending = None
            if not link.trusted:  # the device read a request sealed with our key (3.1 sends some in plaintext)
                link.trusted = pending.cmd not in link.codec.spec.plaintext_requests
                self._key.proven = self._key.proven or link.trusted
            if not pending.future.done():
                pending.future.set_result(msg)
                self._newer = {} if msg.cmd in _TAKE_NEWER else None  # pushes until its caller resumes
            return
        if msg.cmd == Command.STATUS:
            if self._newer is not None and (dps := msg.dps):  # read after an answer its caller has not taken
                self._newer[msg.cid] = {**self._newer.get(msg.cid, {}), **dps}
            if self._status_owed.due:  # the STATUS after a control's ACK has come
                self._status_owed.clear()
            if not len(self._bus):  # nobody follows the pushes: no event to build, the last state takes them
                dps = msg.dps
                if dps is not None:
                    if msg.cid is None:
                        self._remember(dps)
                    return
        event = push_event(self.device_id, msg)
        if event is None:
            _LOGGER.debug("%s: ignored an unsolicited frame (cmd %#x)", self.name, msg.cmd)
            return
        if event.kind is EventKind.STATUS and event.cid is None:
            self._remember(event.dps)
        self._publish(event)

    def _remember(self, dps: Mapping[str, Any]) -> None:
        """Fold the device's own values (not a sub-device's) into the last known state."""
        if self._last_status is None:
            self._last_status = {}
        self._last_status.update(dps)

    def on_link_lost(self, link: Link, exc: Exception | None) -> None:
        """The device (or the network) closed ``link``."""
        if link is self._link:
            # The device dropped us: often for another client (it serves one at a time). Wait a
            # backoff step before taking the connection back, so two clients never ping-pong.
            self._pacer.failed(link.loop.time())
            # A device that accepted this key before and drops us now just dropped us.
            error = None if self._key.proven else refused_first_request(self.name, link, self._pending, exc)
            if error is not None:
                self._detach(link, "the device rejected our first request", publish=not self.closed, error=error)
            else:
                reason = f"connection lost ({exc})" if exc else "the device closed the connection"
                self._detach(link, reason, publish=not self.closed)

    def on_link_failed(self, link: Link, error: TuyaError) -> None:
        """A frame proved ``link`` useless (another version or key): fail the request in flight with ``error``."""
        if link is not self._link:
            link.close()
            return
        if self._pending is None and self._notes is None:
            # Nothing to fail (a push sealed with another key): say so, keep the link for what works.
            self.stats.bad_frames += 1
            _LOGGER.info("%s: skipped a frame: %s", self.name, error)
            return
        if isinstance(error, LocalKeyError):
            # Do not ask the device again at once: the next requests get this answer during the backoff.
            self._pacer.failed(link.loop.time(), error)
        self._detach(link, str(error), error=error)

    def on_bad_frame(self, exc: TuyaError, cmd: int | None = None) -> None:
        """A frame that could not be decoded was skipped; when it was the answer of the request in flight (its
        command, intact header, failed integrity check) that request fails now: no other answer comes."""
        self.stats.bad_frames += 1
        _LOGGER.debug("%s: skipped a bad frame: %s", self.name, exc)
        pending, link = self._pending, self._link
        if cmd is not None and pending is not None and link is not None and cmd == pending.cmd:
            self._detach(link, "a corrupted answer", error=corrupted_answer(self.name, cmd))

    def _detach(self, link: Link, reason: str, *, publish: bool = True, error: TuyaError | None = None) -> None:
        """Forget ``link``: fail the request in flight, stop heartbeats, maybe reconnect in the background."""
        if link is self._link:
            self._link = None
            self._lost_link = True
            self._status_owed.clear()  # a STATUS due on this link will not come on another
            self._keepalive.stop_heartbeat()
            pending = self._pending
            if pending is not None:
                self._pending = None
                if not pending.future.done():
                    pending.future.set_exception(
                        error
                        or TuyaConnectionLost(
                            f"{self.name} closed the connection before answering ({reason}): another client may hold "
                            "the device's only connection, or the device rebooted"
                        )
                    )
            if publish and len(self._bus):
                self._publish(Event(EventKind.DISCONNECTED, self.device_id, reason=reason))
            self._keepalive.maybe_reconnect()
        link.lost = True
        link.close()

    def _publish(self, event: Event) -> None:
        if len(self._bus):
            self.stats.events += 1
            self._bus.publish(event)

    def _subscribers_changed(self) -> None:
        if not self.connected:
            self._keepalive.maybe_reconnect()
