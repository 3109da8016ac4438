"""Codec throughput: tuyagate against tinytuya, same payloads, same run, same machine.

One round trip = build the frame for a message (JSON, encryption, framing, CRC/HMAC/GCM) and decode
it again on the other side (splitting, integrity check, decryption, JSON). Two messages per version:
a client's control frame (decoded by the device side) and a device's STATUS push with a return
code (decoded by the client side). 3.4/3.5 run with an agreed session key, as after a handshake.

tinytuya is driven through the functions its ``Device`` uses: ``generate_payload``-style JSON
(``json.dumps`` with spaces removed), ``XenonDevice._encode_message`` (client frames) or the same
steps with tinytuya's ``AESCipher`` and ``pack_message`` plus the clear retcode (device frames, as
tinytuya has no device role), and ``unpack_message`` + ``XenonDevice._decode_payload`` to decode.
No socket is opened: the tinytuya device objects get an explicit loopback address and are never
asked to connect.

Run: ``.venv/bin/python -m benchmarks.codec`` (about 80 s) or with ``--quick`` (about 10 s).
"""

from __future__ import annotations

import argparse
import json
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import md5
from typing import Any

import tinytuya
from tinytuya.core import header as tt_header
from tinytuya.core.crypto_helper import AESCipher
from tinytuya.core.message_helper import MessagePayload, TuyaMessage, pack_message, unpack_message

from tuyagate.protocol import payloads
from tuyagate.protocol.codec import MessageCodec, Role
from tuyagate.protocol.commands import Command
from tuyagate.protocol.versions import get_spec

DEV_ID = "0123456789abcdef0123"
LOCAL_KEY = b"0123456789abcdef"
SESSION_KEY = b"\x65\x75\xcf\x6b\x37\x47\x9d\x92\x15\x33\x7f\xf9\x76\x7f\xe7\x86"
T = 1700000000
IV = b"0123456789ab"
VERSIONS = ("3.1", "3.3", "3.4", "3.5")
CONTROL_DPS: dict[str, Any] = {"1": True, "2": 50}
STATUS_DPS: dict[str, Any] = {"1": True, "2": 0, "3": "auto", "4": 1234}


def _key(version: str) -> bytes:
    return SESSION_KEY if version in ("3.4", "3.5") else LOCAL_KEY


# ----------------------------------------------------------------------------- tuyagate


def tuyagate_case(version: str, kind: str) -> Callable[[], object]:
    """A closure doing one tuyagate round trip (encode on one side, feed on the other)."""
    spec = get_spec(version)
    key = _key(version)
    cli = MessageCodec(spec, key, role=Role.CLIENT)
    dev = MessageCodec(spec, key, role=Role.DEVICE)
    iv = IV if version == "3.5" else None
    if kind == "control":
        cmd, body = payloads.control_request(spec, DEV_ID, CONTROL_DPS, t=T)
        sender, receiver = cli, dev
    else:
        cmd, body = Command.STATUS, payloads.status_push(spec, DEV_ID, STATUS_DPS, t=T)
        sender, receiver = dev, cli
    encode, feed = sender.encode, receiver.feed

    def run() -> object:
        (msg,) = feed(encode(cmd, body, seq=1, iv=iv))
        return msg.data

    return run


# ----------------------------------------------------------------------------- tinytuya


def _tinytuya_device(version: str, key: bytes) -> Any:
    # An explicit address and version: the constructor then neither scans nor connects.
    dev = tinytuya.OutletDevice(DEV_ID, "127.0.0.1", key.decode("latin1"), version=float(version))
    dev.local_key = key  # after a handshake tinytuya keeps the session key here
    return dev


def _tinytuya_json(obj: dict[str, Any]) -> bytes:
    # generate_payload's last steps: json.dumps, drop every space, UTF-8.
    return json.dumps(obj).replace(" ", "").encode("utf-8")


def _tinytuya_device_frame(version: str, key: bytes, cmd: int, payload: bytes, retcode: int) -> bytes:
    """A device's frame built like ``_encode_message`` does, plus the clear retcode devices send."""
    cipher = AESCipher(key)
    vheader = version.encode() + tt_header.PROTOCOL_3x_HEADER
    if version == "3.5":
        msg = TuyaMessage(1, cmd, retcode, vheader + payload, 0, True, tt_header.PREFIX_6699_VALUE, IV)
        return bytes(pack_message(msg, hmac_key=key))
    hmac_key = None
    if version == "3.4":
        hmac_key = key
        payload = cipher.encrypt(vheader + payload, False)
    elif version == "3.3":
        payload = vheader + cipher.encrypt(payload, False)
    else:  # 3.1 encrypts like a CONTROL frame
        b64 = cipher.encrypt(payload)
        digest = md5(b"data=" + b64 + b"||lpv=3.1||" + key).hexdigest()
        payload = b"3.1" + digest[8:24].encode("latin1") + b64
    msg = TuyaMessage(1, cmd, 0, struct.pack(">I", retcode) + payload, 0, True, tt_header.PREFIX_55AA_VALUE, False)
    return bytes(pack_message(msg, hmac_key=hmac_key))


def tinytuya_case(version: str, kind: str) -> Callable[[], object]:
    """A closure doing one tinytuya round trip on the same payload."""
    spec = get_spec(version)
    key = _key(version)
    sender = _tinytuya_device(version, key)
    receiver = _tinytuya_device(version, key)
    hmac_key = key if version in ("3.4", "3.5") else None
    if kind == "control":
        cmd, body = payloads.control_request(spec, DEV_ID, CONTROL_DPS, t=T)
        encode_message = sender._encode_message

        def run() -> object:
            frame = encode_message(MessagePayload(cmd, _tinytuya_json(body)))
            msg = unpack_message(frame, hmac_key=hmac_key, no_retcode=True)
            return receiver._decode_payload(msg.payload)

        return run

    body = payloads.status_push(spec, DEV_ID, STATUS_DPS, t=T)

    def run_status() -> object:
        frame = _tinytuya_device_frame(version, key, Command.STATUS, _tinytuya_json(body), 0)
        msg = unpack_message(frame, hmac_key=hmac_key, no_retcode=False)
        return receiver._decode_payload(msg.payload)

    return run_status


# ----------------------------------------------------------------------------- measuring


@dataclass
class Result:
    """Best rates of both sides for one case: wall clock (perf_counter) and CPU time (process_time)."""

    version: str
    kind: str
    tuyagate: float
    tinytuya: float
    tuyagate_cpu: float
    tinytuya_cpu: float

    @property
    def ratio(self) -> float:
        return self.tuyagate / self.tinytuya

    @property
    def cpu_ratio(self) -> float:
        return self.tuyagate_cpu / self.tinytuya_cpu


def _batch_size(fn: Callable[[], object], seconds: float) -> int:
    """How many calls of ``fn`` take about ``seconds``."""
    n = 16
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min(seconds, 0.05):
            return max(1, int(n * seconds / elapsed))
        n *= 2


def _timed(fn: Callable[[], object], n: int) -> tuple[float, float]:
    """Calls per second of ``n`` calls: by the wall clock, and by this process's CPU time."""
    cpu, start = time.process_time(), time.perf_counter()
    for _ in range(n):
        fn()
    wall_end, cpu_end = time.perf_counter(), time.process_time()
    return n / (wall_end - start), n / max(cpu_end - cpu, 1e-9)


def compare(version: str, kind: str, seconds: float, rounds: int = 8) -> Result:
    """The best rate of each side over ``rounds`` interleaved runs of ``seconds / 4`` each.

    Interleaving (ours, theirs, ours, theirs, ...) makes load from other processes hit both
    sides alike, and many short runs give each side more chances at a quiet moment. The CPU-time
    rate is printed too: on a machine shared with other work it is the steadier of the two.
    Each side runs ``2 * seconds`` in all.
    """
    ours, theirs = tuyagate_case(version, kind), tinytuya_case(version, kind)
    run = seconds / 4
    n_ours, n_theirs = _batch_size(ours, run), _batch_size(theirs, run)
    best = [0.0, 0.0, 0.0, 0.0]  # ours wall, theirs wall, ours cpu, theirs cpu
    for _ in range(rounds):
        ours_wall, ours_cpu = _timed(ours, n_ours)
        theirs_wall, theirs_cpu = _timed(theirs, n_theirs)
        best = [max(b, x) for b, x in zip(best, (ours_wall, theirs_wall, ours_cpu, theirs_cpu), strict=True)]
    return Result(version, kind, *best)


def check_same_content() -> None:
    """Both implementations must decode each case to the same dict, or the comparison is void."""
    for version in VERSIONS:
        for kind in ("control", "status"):
            ours, theirs = tuyagate_case(version, kind)(), tinytuya_case(version, kind)()
            if not isinstance(ours, dict) or not isinstance(theirs, dict):
                raise SystemExit(f"{version} {kind}: a side decoded no JSON object: {ours!r}, {theirs!r}")
            if ours != {k: v for k, v in theirs.items() if k in ours}:
                raise SystemExit(f"{version} {kind}: tuyagate decoded {ours!r}, tinytuya {theirs!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short runs, a smoke test of a few seconds")
    parser.add_argument(
        "--seconds", type=float, default=None, help="scale of the runs: each side runs 2x this per case (default 1.0)"
    )
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else (0.1 if args.quick else 1.0)
    logging.getLogger("tinytuya").setLevel(logging.WARNING)  # DEBUG would make tinytuya's 3.5 IV constant

    check_same_content()
    results = [compare(version, kind, seconds) for version in VERSIONS for kind in ("control", "status")]

    print(f"codec round trips per second (encode + decode), best of 8 interleaved runs of {seconds / 4:g} s per side")
    print(f"{'version':<8} {'message':<8} {'tuyagate':>10} {'tinytuya':>10} {'ratio':>7}   {'cpu-time ratio':>14}")
    for r in results:
        rates = f"{r.tuyagate:>10,.0f} {r.tinytuya:>10,.0f}"
        print(f"{r.version:<8} {r.kind:<8} {rates} {r.ratio:>6.2f}x   {r.cpu_ratio:>13.2f}x")
    worst = min(results, key=lambda r: r.ratio)
    worst_cpu = min(results, key=lambda r: r.cpu_ratio)
    print(
        f"lowest ratio: {worst.ratio:.2f}x ({worst.version} {worst.kind}), by CPU time "
        f"{worst_cpu.cpu_ratio:.2f}x ({worst_cpu.version} {worst_cpu.kind}); target >= 2x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
