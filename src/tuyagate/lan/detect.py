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
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tuyagate.errors import (
    DeviceError,
    KeyMismatchError,
    LocalKeyError,
    TuyaConnectionRefused,
    TuyaError,
    TuyaTimeoutError,
)
from tuyagate.protocol.versions import VersionSpec, get_spec

if TYPE_CHECKING:
    from tuyagate.lan.connection import DeviceConnection

__all__ = ["DEVICE22_DEFAULT_DPS", "PLAINTEXT_VERSION", "PROBE_ORDER", "detect_version", "device22_fallback"]

_LOGGER = logging.getLogger(__name__)
PROBE_ORDER = ("3.3", "3.5", "3.4", "3.1")
PLAINTEXT_VERSION = "3.1"  # the version whose devices answer a query with plaintext JSON
# What a device22 query asks for when nothing says which DPs the device has: the range most
# devices keep their DPs in (tinytuya's first detection ranges). A device22 answers only the DPs
# it has, so asking for more costs nothing; asking for DP 1 alone loses every other value.
DEVICE22_DEFAULT_DPS: tuple[str, ...] = tuple(str(dp) for dp in range(1, 31))


def device22_fallback(
    spec: VersionSpec, configured: Iterable[str] | None, known: Iterable[str] | None
) -> tuple[VersionSpec, list[str]]:
    """What to query after a device rejected a plain DP_QUERY ("json obj data unvalid").

    Such devices (device22, and the type-0d devices of other libraries) answer a CONTROL_NEW
    whose DPs are null with those DPs' values. The DPs asked for are the configured ones, else
    the ones seen so far, else :data:`DEVICE22_DEFAULT_DPS`.
    """
    ids = list(configured or ()) or sorted(set(known or ()) | set(DEVICE22_DEFAULT_DPS), key=_dp_order)
    return spec.as_device22(), ids


def _dp_order(dp: str) -> tuple[int, str]:
    return (int(dp), dp) if dp.isdigit() else (1 << 30, dp)


async def detect_version(conn: DeviceConnection, deadline: float) -> VersionSpec:
    """Find the version ``conn``'s device speaks; raise if it cannot be found before ``deadline``.

    A wrong local key ends the search where it is certain (a handshake that fails its check, a
    reply in the probed framing that does not decrypt); a device that only closes on a probe may
    just speak another version, so that is reported only when no other version answers.
    """
    loop = asyncio.get_running_loop()
    order = list(PROBE_ORDER)
    tried: list[str] = []
    key_error: LocalKeyError | None = None
    while order:
        version = order.pop(0)
        remaining = deadline - loop.time()
        if remaining <= 0.01:
            break
        tried.append(version)
        probe = conn.probe(version, timeout=remaining / (len(order) + 1))
        notes = probe.probe_notes
        assert notes is not None
        try:
            await probe.status()
        except (TuyaConnectionRefused, KeyMismatchError):
            raise  # nothing listens, or the right version with the wrong key: probing further is pointless
        except LocalKeyError as exc:
            if notes.other_key:
                raise  # an intact frame of this version, encrypted with another key
            key_error = exc
            continue
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
        if notes.plain_reply and spec.local_key_encrypts:  # (in 3.4/3.5 frames that byte is ciphertext)
            spec = get_spec(PLAINTEXT_VERSION)
        _LOGGER.info("%s speaks protocol %s", conn.name, spec.label)
        return spec
    if key_error is not None:
        raise key_error
    raise TuyaTimeoutError(
        f"could not detect the protocol version of {conn.name} (tried {', '.join(tried)}): "
        "check the local key, or give the version explicitly"
    )
