"""Protocol version auto-detection for a device whose version is not known.

Discovery broadcasts carry the version; use them when available (pass ``version``). Without
them we probe, one short-lived connection at a time (a device serves one client), in an order
that gives fast answers: a 3.3 query first (the most common version; device22 devices reveal
themselves by rejecting it, 3.1 devices by answering in plaintext, 3.4/3.5 devices by answering
with a handshake frame we cannot decode, which cuts the probe short and names the next one),
then the 3.5 and 3.4 handshakes, then 3.1. The deadline of the first request bounds it all.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from tuyagate.errors import DeviceError, KeyMismatchError, TuyaConnectionRefused, TuyaError, TuyaTimeoutError
from tuyagate.lan.link import ProbeNotes
from tuyagate.protocol.versions import VersionSpec, get_spec

if TYPE_CHECKING:
    from tuyagate.lan.connection import DeviceConnection

__all__ = ["PROBE_ORDER", "detect_version"]

_LOGGER = logging.getLogger(__name__)
PROBE_ORDER = ("3.3", "3.5", "3.4", "3.1")


async def detect_version(conn: DeviceConnection, deadline: float) -> VersionSpec:
    """Find the version ``conn``'s device speaks; raise if it cannot be found before ``deadline``."""
    from tuyagate.lan.connection import DeviceConnection

    loop = asyncio.get_running_loop()
    order = list(PROBE_ORDER)
    tried: list[str] = []
    while order:
        version = order.pop(0)
        remaining = deadline - loop.time()
        if remaining <= 0.01:
            break
        tried.append(version)
        probe = DeviceConnection(
            conn.device_id,
            conn.host,
            conn._key,
            version,
            port=conn.port,
            timeout=remaining / (len(order) + 1),
            heartbeat_interval=None,
        )
        notes = probe._notes = ProbeNotes()
        try:
            await probe.status()
        except (TuyaConnectionRefused, KeyMismatchError):
            raise  # nothing listens, or the right version with the wrong key: probing further is pointless
        except DeviceError:
            pass  # it answered in this version's framing: the version is right, the request was not
        except TuyaError as exc:
            _LOGGER.debug("version probe %s of %s failed: %s", version, conn.name, exc)
            for hinted, seen in (("3.5", notes.foreign_6699), ("3.4", notes.handshake_answer)):
                if seen and hinted in order:
                    order.remove(hinted)
                    order.insert(0, hinted)
            continue
        finally:
            await probe.close()
        spec = probe.spec
        assert spec is not None
        if spec.name == "3.3" and notes.plain_reply:
            spec = get_spec("3.1")
        _LOGGER.info("%s speaks protocol %s", conn.name, spec.label)
        return spec
    raise TuyaTimeoutError(
        f"could not detect the protocol version of {conn.name} (tried {', '.join(tried)}): "
        "check the local key, or give the version explicitly"
    )
