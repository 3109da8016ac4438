"""The one table of what differs between protocol versions.

Everything version-specific in tuyagate is a field here: framing, what is encrypted with which
key, whether a session key is negotiated, which commands query and control (a device, and a
gateway's sub-device), and which JSON templates are used. Code elsewhere asks the spec, never
compares version numbers: the payload builders read the commands from it, the codec the framing
and encryption, discovery how announcements are protected, the LAN client which failures can be
blamed on the local key.

Versions are written as users and stored records write them: "3.1" .. "3.5", and "device22" for
tinytuya's variant of 3.3 (queried as CONTROL_NEW with the wanted DPs set to null). That key is
also what :attr:`VersionSpec.label` gives back, so a detected version can be stored and read again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from tuyagate.errors import ConfigError
from tuyagate.protocol.commands import Command

__all__ = ["DEVICE22", "VERSIONS", "Encryption", "FrameKind", "Template", "VersionSpec", "get_spec"]

DEVICE22 = "device22"  # the one spelling of the variant, for the CLI, the registry and get_spec


class FrameKind(Enum):
    """Outer framing: 0x55AA (3.1-3.4) or 0x6699 (3.5)."""

    P55AA = "55aa"
    P6699 = "6699"


class Encryption(Enum):
    """How a payload is protected."""

    CONTROL_ONLY = "control_only"  # 3.1: only CONTROL, as "3.1" + md5 tag + base64(ECB)
    ECB = "ecb"  # 3.2/3.3: ECB with the local key, version header in the clear before it
    ECB_SESSION = "ecb_session"  # 3.4: ECB with the session key, version header inside, HMAC trailer
    GCM_SESSION = "gcm_session"  # 3.5: the 6699 frame's GCM with the session key


class Template(Enum):
    """Which JSON shapes the query and control commands use."""

    LEGACY = "legacy"  # {"gwId","devId","uid","t":"<str>"} / {"devId","uid","t","dps"}
    PROTOCOL5 = "protocol5"  # {} / {"protocol":5,"t":<int>,"data":{"dps":...}}


@dataclass(frozen=True, slots=True)
class VersionSpec:
    """What one protocol version does on the wire."""

    name: str  # "3.3": the version as it appears on the wire and in broadcasts
    frame: FrameKind
    encryption: Encryption
    session_key: bool  # a 3-message key negotiation precedes everything else
    template: Template
    query_cmd: Command  # the status query of the device itself
    control_cmd: Command  # setting DP values (of the device or of a sub-device)
    child_query_cmd: Command  # the status query of a gateway's sub-device (``cid``)
    device22: bool = False  # the legacy query is CONTROL_NEW with the wanted DPs set to null
    plaintext_requests: frozenset[int] = frozenset()  # client commands sent without any key (3.1: all but CONTROL)

    @property
    def wire(self) -> bytes:
        """The version as it appears on the wire (b"3.3")."""
        return self.name.encode("ascii")

    @property
    def header(self) -> bytes:
        """The 15-byte version header: ASCII version and 12 zero bytes."""
        return self.name.encode("ascii") + b"\x00" * 12

    @property
    def label(self) -> str:
        """The version as users write it and :func:`get_spec` reads it: "3.3", "device22", ..."""
        key = _KEYS.get(self)
        return key if key is not None else f"{self.name} ({DEVICE22})"

    @property
    def device_numbers_frames(self) -> bool:
        """The device numbers the frames it sends from one counter of its own (3.4, 3.5), instead of
        echoing the request's sequence number (3.1-3.3).

        Captures of real 3.4 and 3.5 devices show it (tuya-local #3206 and #5347, localtuya PR #1493,
        tuyapi #623), and clients such as tuyapi predict the numbers that way.
        """
        return self.session_key

    @property
    def local_key_encrypts(self) -> bool:
        """Every payload is protected with the local key itself (3.1-3.3: no session key).

        Then a frame whose framing checks out but whose payload fails to decrypt can only have
        been protected with another key: the LAN client reports a wrong local key at once.
        """
        return not self.session_key

    @property
    def encrypted_announcement(self) -> bool:
        """Whether the UDP broadcast is encrypted (3.1 announces in plaintext)."""
        return self.encryption is not Encryption.CONTROL_ONLY

    def encrypts(self, cmd: int) -> bool:
        """Whether a client's ``cmd`` frame carries a payload protected with a key."""
        return cmd not in self.plaintext_requests

    def as_device22(self) -> VersionSpec:
        """The device22 variant of this version: a legacy query becomes CONTROL_NEW with null DPs.

        3.4 and 3.5 already query with DP_QUERY_NEW, so only the flag changes (the client then
        knows it tried).
        """
        if self.template is not Template.LEGACY:
            return replace(self, device22=True)
        return replace(self, device22=True, query_cmd=Command.CONTROL_NEW)


def _legacy(name: str, encryption: Encryption) -> VersionSpec:
    plaintext = frozenset(int(c) for c in Command if c != Command.CONTROL)
    return VersionSpec(
        name,
        FrameKind.P55AA,
        encryption,
        session_key=False,
        template=Template.LEGACY,
        query_cmd=Command.DP_QUERY,
        control_cmd=Command.CONTROL,
        child_query_cmd=Command.DP_QUERY,
        plaintext_requests=plaintext if encryption is Encryption.CONTROL_ONLY else frozenset(),
    )


def _protocol5(name: str, frame: FrameKind, encryption: Encryption) -> VersionSpec:
    return VersionSpec(
        name,
        frame,
        encryption,
        session_key=True,
        template=Template.PROTOCOL5,
        query_cmd=Command.DP_QUERY_NEW,
        control_cmd=Command.CONTROL_NEW,
        child_query_cmd=Command.DP_QUERY_NEW,
    )


VERSIONS: dict[str, VersionSpec] = {
    "3.1": _legacy("3.1", Encryption.CONTROL_ONLY),
    # 3.2 devices answer a plain DP_QUERY with "data format error": they are queried like device22.
    "3.2": _legacy("3.2", Encryption.ECB).as_device22(),
    "3.3": _legacy("3.3", Encryption.ECB),
    "3.4": _protocol5("3.4", FrameKind.P55AA, Encryption.ECB_SESSION),
    "3.5": _protocol5("3.5", FrameKind.P6699, Encryption.GCM_SESSION),
}
VERSIONS[DEVICE22] = VERSIONS["3.3"].as_device22()
_KEYS = {spec: key for key, spec in VERSIONS.items()}


def get_spec(version: str | float) -> VersionSpec:
    """The spec for ``version``: "3.1".."3.5" or "device22" (a float such as 3.3 is read as "3.3")."""
    key = f"{version:.1f}" if isinstance(version, float) else str(version).strip()
    try:
        return VERSIONS[key]
    except KeyError:
        raise ConfigError(f"unknown protocol version {version!r}; use one of {', '.join(VERSIONS)}") from None
