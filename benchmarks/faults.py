"""The fault matrix through the gateway: every fault a device, the cloud, firmware or the broker can
throw, what the gateway answers while it lasts, and how long until answers are right again.

Every row runs on a fresh :class:`~benchmarks.fault_rig.Rig` (emulated devices, the real hub, the
real gateway over HTTP on loopback, a 1 s request deadline); LAN rows run on a plug of each
protocol version at once. Expected outcomes are the stable error codes of
:mod:`tuyagate.error_codes`; tests/reliability/test_fault_matrix.py runs the same rows and asserts
them, this script prints the measured table (``--table`` also writes it into RELIABILITY.md)::

    .venv/bin/python benchmarks/faults.py [--table] [--rows refuses,replies_late]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # so `benchmarks.*` and `tests.*` import when run as a script
    sys.path.insert(0, str(ROOT))

from benchmarks import fault_lan as lan  # noqa: E402
from benchmarks import fault_remote as remote  # noqa: E402
from benchmarks.fault_rig import DEADLINE, LAN_VERSIONS, Rig  # noqa: E402
from benchmarks.fault_types import Result, Row, markdown_table  # noqa: E402
from benchmarks.reliability_doc import replace_section  # noqa: E402

__all__ = ["ROWS", "run_row"]

OK, UNREACHABLE, TIMEOUT, KEY = "200 ok", "502 device_unreachable", "504 timeout", "502 key_mismatch"
DEVICE_ERROR, CLOUD_ERROR = "502 device_error", "502 cloud_error"


def _all(outcome: str) -> dict[str, str]:
    return dict.fromkeys(LAN_VERSIONS, outcome)


CLOUD_ONLY = {"cloud": True, "lan": False}  # a cloud-only plug behind the cloud emulator
FIRMWARE = {"tasmota": True, "lan": False}  # a reflashed plug (the Tasmota emulator)

ROWS: list[Row] = [
    Row("refuses", "device refuses connections", _all(UNREACHABLE), lan.refuses, 3.0),
    Row("drops", "device drops the connection mid-request", _all(UNREACHABLE), lan.drops_mid_request, 3.0),
    Row("late", "device replies after the deadline", _all(TIMEOUT), lan.replies_late, 3.0),
    Row("garbage", "device sends garbage before its answers", _all(OK), lan.garbage, 3.0),
    Row("integrity", "device answers with a wrong CRC / HMAC / tag", _all(DEVICE_ERROR), lan.bad_integrity, 3.0),
    Row("restarts", "device restarts", _all(OK), lan.restarts, 3.0),
    Row("moves", "device changes address", _all(UNREACHABLE), lan.moves, 5.0, {"discovery": True}),
    Row("new_key", "device re-paired: new local key", {**_all(KEY), "3.1": TIMEOUT}, lan.new_key, 3.0),
    Row("held", "device allows one client, another holds it", _all(UNREACHABLE), lan.another_client, 3.0),
    Row(
        "held_mute",
        "device allows one client, another holds it, ours is ignored",
        _all(TIMEOUT),
        lan.another_client_silent,
        3.0,
    ),
    Row("flood", "device floods pushes (1,000/s)", _all(OK), lan.flood, 3.0, together=False),
    Row("token", "cloud expires tokens early", {"cloud": OK}, remote.token_expired, 3.0, CLOUD_ONLY),
    Row("ratelimit", "cloud rate-limits (28841005)", {"cloud": CLOUD_ERROR}, remote.rate_limited, 3.0, CLOUD_ONLY),
    Row("cloud5xx", "cloud answers HTTP 503", {"cloud": CLOUD_ERROR}, remote.server_error, 3.0, CLOUD_ONLY),
    Row("cloudblip", "cloud answers HTTP 503 once", {"cloud": OK}, remote.cloud_blip, 3.0, CLOUD_ONLY),
    Row("cloudslow", "cloud answers after the deadline", {"cloud": TIMEOUT}, remote.cloud_slow, 3.0, CLOUD_ONLY),
    Row("cloudgone", "cloud unreachable", {"cloud": UNREACHABLE}, remote.cloud_gone, 3.0, CLOUD_ONLY),
    Row("html", "flashed device answers HTML", {"tasmota": DEVICE_ERROR}, remote.tasmota_html, 3.0, FIRMWARE),
    Row("fwslow", "flashed device times out", {"tasmota": TIMEOUT}, remote.tasmota_slow, 3.0, FIRMWARE),
    Row("broker", "MQTT broker restarts", {"mqtt": OK}, remote.broker_restart, 5.0),
]


def row_ip(row: Row) -> str:
    """The first loopback address of a row's rig: each row has a /24 of its own (127.0.60.0 onwards)."""
    return str(ipaddress.IPv4Address("127.0.60.1") + 256 * ROWS.index(row))


async def run_row(row: Row) -> list[Result]:
    """Run one row on a fresh rig: its targets at once, one result per target."""
    async with Rig(row_ip(row), **row.rig_options) as rig:
        if row.together:
            measured = list(await asyncio.gather(*(row.run(rig, target) for target in row.targets)))
        else:
            measured = [await row.run(rig, target) for target in row.targets]
    return [Result(row, target, m, DEADLINE) for target, m in zip(row.targets, measured, strict=True)]


HEADING = "## Fault matrix"


def section(results: list[Result], *, load: str) -> str:
    """The RELIABILITY.md section: how to regenerate it, what the columns mean, the table."""
    return (
        f"{HEADING}\n\n"
        "Regenerate with `python benchmarks/faults.py --table` (tests/reliability/test_fault_matrix.py asserts the "
        "same rows).\n\n"
        f"Each fault is injected into emulated devices (`tuyagate.sim`), the emulated Tuya cloud, the Tasmota "
        f"emulator or a real Mosquitto broker, behind the real gateway over HTTP on loopback, with a request "
        f"deadline of {DEADLINE:g} s. *Outcome* is what the gateway answered while the fault lasted (HTTP status "
        "and the stable error code of `tuyagate.error_codes`); *answered in* is measured by the HTTP client and "
        f"must stay within the deadline + 100 ms; *recovery* is the time from the fault clearing until a right "
        "answer again (a read that shows a value the device took meanwhile, a command the device applied). "
        f"Measured on a shared 2-core machine (load average {load}); times vary with load, outcomes do not.\n\n"
        + markdown_table(results)
    )


def write_section(path: Path, text: str) -> None:
    """Put ``text`` into ``path`` in place of its fault-matrix section (added at the end when missing)."""
    replace_section(path, HEADING, text)


async def _main(rows: list[Row]) -> list[Result]:
    results: list[Result] = []
    for row in rows:
        started = time.perf_counter()
        got = await run_row(row)
        results += got
        bad = sum(bool(r.problems()) for r in got)
        print(
            f"{row.key:10} {time.perf_counter() - started:5.1f} s  {'ok' if not bad else f'{bad} FAILED'}",
            file=sys.stderr,
        )
        for r in got:
            for problem in r.problems():
                print(f"  FAIL {r.row.key} {r.target}: {problem}", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="also write the table into RELIABILITY.md")
    parser.add_argument("--rows", default="", help="comma-separated row keys (default: all)")
    parser.add_argument("--output", type=Path, default=ROOT / "RELIABILITY.md")
    args = parser.parse_args(argv)
    wanted = [k for k in args.rows.split(",") if k]
    rows = [r for r in ROWS if not wanted or r.key in wanted]
    results = asyncio.run(_main(rows))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text = section(results, load=load)
    print(text)
    if args.table:
        write_section(args.output, text)
    return 1 if any(r.problems() for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
