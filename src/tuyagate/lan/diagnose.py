"""Why does a device not answer? The observations behind `tuyagate doctor`, without the CLI.

Each check looks at something a user cannot easily see: whether the device announces itself (and
from which address and in which version), whether its TCP port accepts, whether it drops a new
client at once (it serves one client at a time, and another one holds it), whether it answers
with the key we have, and in which protocol version. Every observation becomes a
:class:`Finding` with what to do about it; the first ``problem`` is the likely cause. The checks
run concurrently and each has a deadline, so a dead device costs seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tuyagate.errors import (
    KeyMismatchError,
    LocalKeyError,
    TuyaConnectionError,
    TuyaConnectionLost,
    TuyaConnectionRefused,
    TuyaError,
    TuyaTimeoutError,
)
from tuyagate.lan.connection import DEFAULT_PORT, DeviceConnection
from tuyagate.lan.scanner import DiscoveredDevice, scan

__all__ = ["Diagnosis", "Finding", "Severity", "diagnose"]

Severity = Literal["ok", "info", "warning", "problem"]
_ORDER: dict[str, int] = {"problem": 0, "warning": 1, "info": 2, "ok": 3}
BUSY_WINDOW = 0.3  # a device that serves someone else closes a new connection within this


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation: a stable ``code`` for scripts, what was seen and what to do."""

    code: str
    severity: Severity
    message: str
    advice: str = ""


@dataclass(slots=True)
class Diagnosis:
    """Everything observed about one device; ``findings`` sorted worst first."""

    device_id: str
    host: str | None
    findings: list[Finding] = field(default_factory=list)
    version: str | None = None  # the version it answered in, when it answered
    announced: dict[str, Any] | None = None  # its broadcast (id, ip, version), when heard

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)
        self.findings.sort(key=lambda f: _ORDER[f.severity])

    @property
    def healthy(self) -> bool:
        return not any(f.severity == "problem" for f in self.findings)

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": self.device_id,
            "host": self.host,
            "healthy": self.healthy,
            "version": self.version,
            "announced": self.announced,
            "findings": [asdict(f) for f in self.findings],
        }


SYNC_ADVICE = (
    "a device that was paired again (reset, re-added in the app) gets a new local key: "
    "run `tuyagate cloud sync`, or `tuyagate devices add --key` with the new one"
)


async def diagnose(
    device_id: str,
    host: str | None,
    local_key: str | None,
    version: str | None = None,
    *,
    port: int = DEFAULT_PORT,
    timeout: float = 4.0,
    listen_for: float = 6.0,
    listen_host: str = "0.0.0.0",
    listen_ports: Iterable[int] = (6666, 6667, 7000),
    probe_port: int = 7000,
) -> Diagnosis:
    """Observe ``device_id`` (at ``host``:``port`` if known) and say what is wrong.

    Listens up to ``listen_for`` seconds for its announcement (and sends the 3.5 probe to the
    host) while the TCP checks run; each LAN request has ``timeout``.
    """
    result = Diagnosis(device_id, host)
    hearing = asyncio.create_task(_listen(device_id, host, listen_for, listen_host, tuple(listen_ports), probe_port))
    try:
        heard_host = host
        if host is None:  # nothing to connect to until it announces
            heard = await hearing
            heard_host = heard.ip if heard is not None else None
        if heard_host is not None:
            await _check_lan(result, device_id, heard_host, local_key, version, port, timeout)
        heard = await hearing
    finally:
        hearing.cancel()
        with contextlib.suppress(asyncio.CancelledError, TuyaError):
            await hearing
    _check_announcement(result, heard, host, version, listen_for)
    return result


async def _listen(
    device_id: str, host: str | None, duration: float, listen_host: str, ports: tuple[int, ...], probe_port: int
) -> DiscoveredDevice | None:
    probes = [(host, probe_port)] if host is not None else [("255.255.255.255", probe_port)]
    try:
        found = await scan(duration, listen_host=listen_host, ports=ports, probe_to=probes, want_ids={device_id})
    except TuyaConnectionError:
        return None  # no port to listen on: reported as not heard, with the ports named in the log
    return next((d for d in found.devices if d.device_id == device_id), None)


def _check_announcement(
    result: Diagnosis, heard: DiscoveredDevice | None, host: str | None, version: str | None, listen_for: float
) -> None:
    if heard is None:
        answered = "answers" in result.codes()
        result.add(
            Finding(
                "not_announcing",
                "info" if answered else "warning",
                f"no announcement heard in {listen_for:g} s",
                "it answers over TCP, so only discovery is affected (another program may hold UDP 6666/6667)"
                if answered
                else "check that it is powered and on the Wi-Fi (the app shows it online?); on another VLAN "
                "broadcasts do not arrive: `tuyagate scan --subnet CIDR`; battery devices announce only when awake",
            )
        )
        return
    result.announced = heard.as_dict()
    result.add(Finding("announcing", "ok", f"announces itself from {heard.ip} (version {heard.version or '?'})"))
    if host is not None and heard.ip != host:
        result.add(
            Finding(
                "moved",
                "problem",
                f"it announces from {heard.ip}, but {host} is configured",
                f"its address changed (a new DHCP lease): `tuyagate devices edit DEVICE --address {heard.ip}`, or run "
                "the gateway, which follows announcements",
            )
        )
    if (
        version is not None
        and heard.version is not None
        and heard.version != version
        and "wrong_version" not in result.codes()
    ):
        result.add(
            Finding(
                "wrong_version",
                "problem",
                f"configured for protocol {version}, but it announces {heard.version}",
                f"set the version to {heard.version} (or leave it unset to detect it)",
            )
        )


async def _check_lan(
    result: Diagnosis,
    device_id: str,
    host: str,
    local_key: str | None,
    version: str | None,
    port: int,
    timeout: float,
) -> None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        result.add(
            Finding(
                "unreachable",
                "problem",
                f"no answer to a TCP connect to {host}:{port} in {timeout:g} s",
                "the device is off, asleep or at another address; check the app, then `tuyagate scan`",
            )
        )
        return
    except OSError as exc:
        result.add(
            Finding(
                "port_closed",
                "problem",
                f"{host}:{port} refused the connection ({exc.strerror or exc})",
                "nothing listens there: a wrong address (`tuyagate scan` finds the right one), or a device "
                "whose firmware has no local control",
            )
        )
        return
    try:
        with contextlib.suppress(TimeoutError):
            closed = await asyncio.wait_for(reader.read(1), BUSY_WINDOW) == b""
            if closed:
                result.add(_busy(host, port))
                return
    except OSError:
        result.add(_busy(host, port))
        return
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    result.add(Finding("port_open", "ok", f"{host}:{port} accepts connections"))
    if not local_key:
        result.add(
            Finding(
                "key_unknown",
                "problem",
                "no local key is known for this device",
                "run `tuyagate cloud sync` (after `tuyagate cloud login`), or `tuyagate devices add --key`",
            )
        )
        return
    await _check_key(result, device_id, host, local_key, version, port, timeout)


def _busy(host: str, port: int) -> Finding:
    return Finding(
        "another_client",
        "problem",
        f"{host}:{port} closes a new connection at once: another client holds the device",
        "a device serves one local client at a time: stop the other one (Home Assistant's Tuya integration, "
        "tinytuya, a second gateway), or let `tuyagate` talk through the gateway that holds it",
    )


async def _check_key(
    result: Diagnosis, device_id: str, host: str, local_key: str, version: str | None, port: int, timeout: float
) -> None:
    error = await _try_status(device_id, host, local_key, version, port, timeout)
    if error is None:
        result.version = version
        result.add(Finding("answers", "ok", f"answers a status query in protocol {version}"))
        return
    if version is not None and not isinstance(error, KeyMismatchError):
        # another version may be the reason: detection tries them all
        detected = await _detect(device_id, host, local_key, port, timeout)
        if isinstance(detected, str):
            result.version = detected
            result.add(
                Finding(
                    "wrong_version",
                    "problem",
                    f"configured for protocol {version}, but it answers in {detected}",
                    f"set the version to {detected} (or leave it unset to detect it)",
                )
            )
            return
        error = detected
    result.add(_explain(error, timeout))


async def _try_status(
    device_id: str, host: str, local_key: str, version: str | None, port: int, timeout: float
) -> TuyaError | None:
    conn = DeviceConnection(device_id, host, local_key, version, port=port, timeout=timeout, heartbeat_interval=None)
    try:
        await conn.status()
    except TuyaError as exc:
        return exc
    finally:
        await conn.close()
    return None


async def _detect(device_id: str, host: str, local_key: str, port: int, timeout: float) -> str | TuyaError:
    conn = DeviceConnection(device_id, host, local_key, None, port=port, timeout=timeout * 2, heartbeat_interval=None)
    try:
        await conn.status()
        return conn.version or "?"
    except TuyaError as exc:
        return exc
    finally:
        await conn.close()


def _explain(error: TuyaError, timeout: float) -> Finding:
    if isinstance(error, LocalKeyError):
        return Finding("wrong_key", "problem", "the device rejects our local key", SYNC_ADVICE)
    if isinstance(error, (TuyaConnectionLost, TuyaConnectionRefused)):
        return Finding(
            "dropped",
            "problem",
            f"the device accepted the connection and then dropped it ({error})",
            "another client may hold it (stop Home Assistant's Tuya integration, tinytuya, ...), or the key is "
            "wrong for a device that hangs up on bad frames: " + SYNC_ADVICE,
        )
    if isinstance(error, TuyaTimeoutError):
        return Finding(
            "no_answer",
            "problem",
            f"the device accepts TCP but answers nothing in {timeout:g} s",
            "its firmware may have local (LAN) control disabled, as some new firmware has: use it through the "
            "cloud (`tuyagate cloud login`, `tuyagate cloud sync`); or another client holds it and the device "
            "ignores newcomers; a 3.4/3.5 device with a wrong key may also stay silent: " + SYNC_ADVICE,
        )
    return Finding("lan_error", "problem", f"the LAN request failed: {error}", "run with -v for the frames' details")
