"""What a device's frames mean for the client: a refusal, a refused key, a push, a timeout, a corrupt answer.

These are decisions on one message (or one closed link) with no state of their own, kept out of
:class:`~tuyagate.lan.connection.DeviceConnection` so that the connection reads as the request
machinery it is; each function's wording is the one the user sees.
"""

from __future__ import annotations

from tuyagate.errors import DeviceError, IntegrityError, LocalKeyError, TuyaAuthError, TuyaError, TuyaTimeoutError
from tuyagate.lan.events import Event, EventKind
from tuyagate.lan.link import Link
from tuyagate.lan.support import Pending
from tuyagate.protocol.codec import Message
from tuyagate.protocol.commands import Command
from tuyagate.protocol.versions import VersionSpec

__all__ = ["corrupted_answer", "online_map", "push_event", "refusal", "refused_first_request", "unanswered"]


def refusal(msg: Message, what: str, name: str, spec: VersionSpec | None) -> DeviceError | LocalKeyError:
    """The error for a device's refusal of the ``what``: a return code, or text where JSON belongs."""
    text = msg.text
    if text is not None and spec is not None and spec.local_key_encrypts and not _readable(text):
        # What a payload encrypted with another key becomes when its padding happens to check out.
        return LocalKeyError(
            f"{name} answered the {what} with bytes that do not decrypt to text with our local key: the "
            f"local key is wrong, or the device does not speak protocol {spec.label}"
        )
    detail = f": {text!r}" if text else ""
    return DeviceError(f"{name} rejected the {what} (return code {msg.retcode}){detail}", code=msg.retcode)


def unanswered(name: str, cmd: Command, spec: VersionSpec) -> TuyaTimeoutError:
    """The error for a request the device did not answer by its deadline (and what else it may mean)."""
    hint = "" if spec.session_key else " (on 3.1-3.3 a wrong local key or version also looks like this)"
    error = TuyaTimeoutError(f"{name} did not answer {cmd.name} before the deadline{hint}")
    after_sending(cmd, error)
    return error


COMMANDS = frozenset({Command.CONTROL, Command.CONTROL_NEW})


def after_sending(cmd: Command, error: TuyaError) -> TuyaError:
    """``error`` of a request the device had been sent: a command it did not refuse may be applied.

    A late, cut-off or unreadable answer says nothing about whether the device acted, so the router
    must not send the command again by another route (:attr:`TuyaError.may_be_applied`). A refused
    key is the exception: the device could not read the command.
    """
    if cmd in COMMANDS and not isinstance(error, TuyaAuthError):
        error.may_be_applied = True
    return error


def corrupted_answer(name: str, cmd: int) -> IntegrityError:
    """The error for an answer whose header names the request's command but whose CRC, HMAC or tag fails."""
    return IntegrityError(
        f"{name} answered {Command(cmd).name} with a frame that failed its integrity check (CRC, HMAC "
        "or GCM tag): the answer was corrupted on the way or by the device's firmware"
    )


def online_map(msg: Message) -> dict[str, bool]:
    """A gateway's answer to the sub-device online query, as {cid: online}."""
    report = (msg.data or {}).get("data") or {}
    result = dict.fromkeys(report.get("offline") or [], False)
    result.update(dict.fromkeys(report.get("online") or [], True))
    return result


def refused_first_request(
    name: str, link: Link, pending: Pending | None, exc: Exception | None
) -> LocalKeyError | None:
    """The error to give when the device closed ``link`` instead of answering; None for an ordinary loss.

    An orderly close while our first encrypted request waits, on a link where the device never
    answered one, with a key it never accepted (the caller checks that), means it read the request
    and refused it. (A device that turns a second client away, or that restarts, resets the
    connection instead.)
    """
    spec = link.codec.spec
    if (
        exc is None
        and pending is not None
        and not link.trusted
        and spec.local_key_encrypts
        and spec.encrypts(pending.cmd)
    ):
        return LocalKeyError(
            f"{name} closed the connection right after reading our first {Command(pending.cmd).name} "
            f"without answering: the local key is most likely wrong (or the device does not speak protocol "
            f"{spec.label}, or it serves another client)"
        )
    return None


def push_event(device_id: str, msg: Message) -> Event | None:
    """The event an unsolicited frame makes (None for one that carries nothing to tell)."""
    if msg.dps is not None and (msg.cmd == Command.STATUS or msg.cid is not None):  # incl. another child's reply
        return Event(EventKind.STATUS, device_id, dict(msg.dps), cid=msg.cid)
    if msg.cmd == Command.LAN_EXT_STREAM and msg.data and msg.data.get("reqType") == "subdev_online_stat_report":
        report = msg.data.get("data") or {}
        online, offline = list(report.get("online") or []), list(report.get("offline") or [])
        return Event(EventKind.ONLINE, device_id, online=online, offline=offline)
    return None


def _readable(text: str) -> bool:
    """Whether a device's answer text is text (an error such as ``data format error``), not noise."""
    return "\ufffd" not in text and text.isprintable()
