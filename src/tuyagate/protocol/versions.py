"""The one table of what differs between protocol versions.

Everything version-specific in tuyagate is a field here: framing, integrity check, what is
encrypted with which key, whether a session key is negotiated, which commands query and
control, and which JSON templates are used. Code elsewhere asks the spec, never compares
version numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from tuyagate.errors import ConfigError
from tuyagate.protocol.commands import Command

__all__ = ["VERSIONS", "Encryption", "FrameKind", "Template", "VersionSpec", "get_spec"]


class FrameKind(Enum):
    """Outer framing: 0x55AA (3.1-3.4) or 0x6699 (3.5)."""

    P55AA = "55aa"
    P6699 = "6699"


class Encryption(Enum):
    """How a payload is protected."""

    CONTROL_ONLY = "control_only"  # 3.1: only CONTROL, as "3.1" + md5 tag + base64(ECB)
    ECB = "ecb"  # 3.2/3.3: ECB with the local key, version header in the clear before it
    ECB_SESSION = "ecb_session"  # 3.4: ECB with the session key, version header inside
    GCM_SESSION = "gcm_session"  # 3.5: the 6699 frame's GCM with the session key


class Template(Enum):
    """Which JSON shapes the query and control commands use."""

    LEGACY = "legacy"  # {"gwId","devId","uid","t":"<str>"} / {"devId","uid","t","dps"}
    PROTOCOL5 = "protocol5"  # {} / {"protocol":5,"t":<int>,"data":{"dps":...}}


@dataclass(frozen=True, slots=True)
class VersionSpec:
    """What one protocol version does on the wire."""

    name: str  # "3.3"
    frame: FrameKind
    encryption: Encryption
    hmac_trailer: bool  # 55AA trailer is HMAC-SHA256 instead of CRC32
    session_key: bool  # a 3-message key negotiation precedes everything else
    template: Template
    query_cmd: Command
    control_cmd: Command
    device22: bool = False  # queries as CONTROL_NEW with the wanted DPs set to null

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
        """Human-readable version, e.g. "3.3" or "3.3 (device22)"."""
        return f"{self.name} (device22)" if self.device22 and self.name != "3.2" else self.name

    def as_device22(self) -> VersionSpec:
        """The device22 variant of this version (queries via CONTROL_NEW with null DPs)."""
        return replace(self, device22=True, query_cmd=Command.CONTROL_NEW)


VERSIONS: dict[str, VersionSpec] = {
    "3.1": VersionSpec(
        "3.1",
        FrameKind.P55AA,
        Encryption.CONTROL_ONLY,
        False,
        False,
        Template.LEGACY,
        Command.DP_QUERY,
        Command.CONTROL,
    ),
    # 3.2 devices answer a plain DP_QUERY with "data format error": they are queried like device22.
    "3.2": VersionSpec(
        "3.2",
        FrameKind.P55AA,
        Encryption.ECB,
        False,
        False,
        Template.LEGACY,
        Command.CONTROL_NEW,
        Command.CONTROL,
        device22=True,
    ),
    "3.3": VersionSpec(
        "3.3", FrameKind.P55AA, Encryption.ECB, False, False, Template.LEGACY, Command.DP_QUERY, Command.CONTROL
    ),
    "3.4": VersionSpec(
        "3.4",
        FrameKind.P55AA,
        Encryption.ECB_SESSION,
        True,
        True,
        Template.PROTOCOL5,
        Command.DP_QUERY_NEW,
        Command.CONTROL_NEW,
    ),
    "3.5": VersionSpec(
        "3.5",
        FrameKind.P6699,
        Encryption.GCM_SESSION,
        False,
        True,
        Template.PROTOCOL5,
        Command.DP_QUERY_NEW,
        Command.CONTROL_NEW,
    ),
}
VERSIONS["device22"] = VERSIONS["3.3"].as_device22()


def get_spec(version: str | float, *, device22: bool = False) -> VersionSpec:
    """The spec for ``version`` ("3.1".."3.5", "device22", or a float like 3.3)."""
    key = f"{version:.1f}" if isinstance(version, float) else str(version).strip()
    if key in {"3.3d22", "3.3-device22", "22"}:
        key = "device22"
    try:
        spec = VERSIONS[key]
    except KeyError:
        raise ConfigError(f"unknown protocol version {version!r}; use one of 3.1, 3.2, 3.3, 3.4, 3.5") from None
    if device22 and not spec.device22:
        spec = spec.as_device22()
    return spec
