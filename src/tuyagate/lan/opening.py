"""Opening one link to a device: the TCP connect, the 3.4/3.5 session handshake, the first check.

Kept apart from :class:`~tuyagate.lan.connection.DeviceConnection` because opening is the one
place that turns the operating system's and the handshake's failures into the client's error
types, each with a message that says what to check (address, power, key, version): the
connection only decides *when* to open (its lock, its backoff) and what an open link means.
"""

from __future__ import annotations

import asyncio
import os

from tuyagate.errors import (
    HandshakeTimeoutError,
    TuyaConnectionError,
    TuyaConnectionLost,
    TuyaConnectionRefused,
    TuyaTimeoutError,
)
from tuyagate.lan.link import Link, LinkOwner, ProbeNotes
from tuyagate.lan.support import expire
from tuyagate.protocol.codec import MessageCodec
from tuyagate.protocol.handshake import ClientHandshake

__all__ = ["open_link"]


async def open_link(
    owner: LinkOwner, codec: MessageCodec, host: str, port: int, notes: ProbeNotes | None, deadline: float
) -> Link:
    """A connected link to ``host:port`` speaking ``codec``'s version, its handshake done, by ``deadline``.

    A link that fails after the connect (handshake, or a device that closes at once) is closed
    before the error is raised, so nothing is left half-open.
    """
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout_at(deadline):
            _, link = await loop.create_connection(lambda: Link(owner, codec, notes, loop), host, port)
    except TimeoutError:
        raise TuyaTimeoutError(
            f"connecting to {owner.name} timed out: the device is off, asleep or not at that address"
        ) from None
    except ConnectionRefusedError:
        raise TuyaConnectionRefused(
            f"{owner.name} refused the connection: wrong IP or port, or the device is off or rebooting"
        ) from None
    except OSError as exc:
        raise TuyaConnectionError(f"cannot connect to {owner.name}: {exc.strerror or exc}") from None
    try:
        if codec.spec.session_key:
            await _handshake(owner, link, deadline)
        if owner.closed:  # closed by its owner while this connect was under way
            raise TuyaConnectionError(f"the connection to {owner.name} was closed")
        if link.lost:  # closed before we could send anything (a device that turns new clients away)
            raise TuyaConnectionLost(
                f"{owner.name} closed the connection as soon as it was opened: another client may hold the "
                "device's only connection, or the device is restarting"
            )
    except BaseException:
        link.handshake = None
        link.close()
        raise
    return link


async def _handshake(owner: LinkOwner, link: Link, deadline: float) -> None:
    handshake = ClientHandshake(link.codec, os.urandom(16))
    done = link.start_handshake(handshake, handshake.start(seq=owner.next_seq(), iv=link.new_iv()))
    timer = link.loop.call_at(deadline, expire, done)  # the future's own timer (see support.expire)
    try:
        await done
    except TimeoutError:
        raise HandshakeTimeoutError(
            f"{owner.name} accepted the connection but did not answer the {link.codec.spec.name} handshake: the "
            "local key or the version is probably wrong (a device that never answers again may need a power cycle)"
        ) from None
    finally:
        timer.cancel()
