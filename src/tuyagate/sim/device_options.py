"""The knobs and counters of an emulated device: faults, wire quirks, sub-devices, statistics.

The wire quirks are the ways real devices differ that clients trip on (see docs/sections and
``tests/protocol/fixtures/real_frames.json`` for the captures behind them):

- ``seq_mode``: ``device`` numbers every frame the device sends from one device-wide counter that
  moves only when the device sends (what 3.5 devices do: clients such as tuyapi predict the
  numbers from the handshake answer); ``echo`` answers with the request's number, and pushes and
  heartbeat answers with 0 (what captured 3.1-3.3 devices do).
- ``return_codes``: False leaves the 4-byte return code out of every answer (some firmware does).
- ``control_reply``: ``ack+status`` answers a control with an empty ACK and then pushes STATUS
  (0x08) with the changed DPs, as devices of every version do; ``ack`` sends the ACK only.
- ``second_client``: what a second TCP client gets while one is connected: ``replace`` (the new
  one wins), ``refuse`` (closed at once), ``ignore`` (connected, never answered) or ``allow``
  (served alongside; pushes go to every client).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Applied", "ControlReply", "Faults", "SecondClient", "SeqMode", "SimChild", "SimStats", "WrongKey"]

SecondClient = Literal["replace", "refuse", "ignore", "allow"]
WrongKey = Literal["answer", "silent", "close"]
SeqMode = Literal["device", "echo"]
ControlReply = Literal["ack+status", "ack"]


@dataclass(slots=True)
class Faults:
    """Failure knobs; change them at any time, they apply to the next frame."""

    reply_delay: float = 0.0  # seconds before every answer
    drop_after_frames: int | None = None  # close the connection after this many received frames
    refuse: bool = False  # close new connections at once
    garbage: bool = False  # send garbage bytes before every answer
    silent: bool = False  # read everything, answer nothing
    drop_requests: bool = False  # close the connection when a request arrives, without answering it
    corrupt: bool = False  # answer with well-formed frames whose CRC / HMAC / GCM tag is wrong
    # The next answer to a query or a control is followed at once, in the same write, by these values
    # changing and being pushed (a button pressed as the answer leaves): the push is the newest value.
    change_after_answer: dict[str, Any] | None = None


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
    clean_closes: int = 0  # the client sent FIN (see tuyagate.sim.closes)
    reset_closes: int = 0  # the connection ended with a reset or a broken pipe


@dataclass(frozen=True, slots=True)
class Applied:
    """One command as the device applied it: an entry of :attr:`SimDevice.applied <tuyagate.sim.device.SimDevice>`.

    The log lets a test prove a command took effect exactly once: a client that gives each command a
    value no other command uses finds that value in exactly one entry (never in two: a retried
    control would show up twice), whatever the answer to it said.
    """

    at: float  # time.monotonic() when it was applied
    dps: dict[str, Any]  # what was accepted (values of the wrong type are left out, as by the device)
    cid: str | None = None  # the sub-device, for a gateway's child
